/**
 * A searchable list of roles (predefined, and the project's custom roles when the user may list
 * them); the chosen role's permissions are shown before it is granted.
 */
import { useId, useMemo, useState } from "react";
import { call } from "../api";
import { useLoad } from "../hooks";

export interface Role {
  name: string;
  title?: string;
  description?: string;
  includedPermissions?: string[];
  stage?: string;
}

let catalog: Promise<Role[]> | undefined;
/** The predefined roles with their permissions, loaded once per page load. */
export function predefinedRoles(): Promise<Role[]> {
  catalog ??= call<{ roles?: Role[] }>("GET", "/v1/roles", { query: { view: "FULL", pageSize: 1000 } }).then(
    (r) => r.roles ?? [],
    (err) => {
      catalog = undefined;
      throw err;
    },
  );
  return catalog;
}

async function rolesFor(project: string): Promise<Role[]> {
  const [predefined, custom] = await Promise.all([
    predefinedRoles(),
    project
      ? call<{ roles?: Role[] }>("GET", `/v1/projects/${encodeURIComponent(project)}/roles`, {
          query: { view: "FULL", pageSize: 1000 },
        }).then(
          (r) => r.roles ?? [],
          () => [] as Role[], // without iam.roles.list the user still picks predefined roles
        )
      : Promise.resolve([] as Role[]),
  ]);
  return [...custom, ...predefined];
}

export function RolePicker(props: { project: string; value: string; onChange: (role: string) => void }) {
  const searchId = useId();
  const listId = useId();
  const [q, setQ] = useState("");
  const roles = useLoad(() => rolesFor(props.project), [props.project]);
  const matches = useMemo(() => {
    const needle = q.trim().toLowerCase();
    const all = roles.data ?? [];
    if (!needle) return all;
    return all.filter(
      (r) =>
        r.name.toLowerCase().includes(needle) ||
        r.title?.toLowerCase().includes(needle) ||
        r.includedPermissions?.some((p) => p.toLowerCase().includes(needle)),
    );
  }, [q, roles.data]);
  const chosen = roles.data?.find((r) => r.name === props.value);
  return (
    <div className="role-picker-wrap">
      <div className="field">
        <label htmlFor={searchId}>
          Role <span className="hint">search by name, title or a permission it grants</span>
        </label>
        <input
          id={searchId}
          type="search"
          value={q}
          onChange={(e) => setQ(e.target.value)}
          placeholder="e.g. securityReviewer, storage.objects.get"
          aria-controls={listId}
          autoComplete="off"
        />
      </div>
      <div className="role-picker">
        {roles.loading && !roles.data && <p className="loading">Loading roles…</p>}
        <ul id={listId} aria-label="Matching roles">
          {matches.slice(0, 50).map((r) => (
            <li key={r.name}>
              <button
                type="button"
                aria-pressed={r.name === props.value}
                onClick={() => props.onChange(r.name)}
                data-role={r.name}
              >
                <strong>{r.title ?? r.name}</strong> <code>{r.name}</code>
              </button>
            </li>
          ))}
          {roles.data && matches.length === 0 && <li className="muted">No role matches “{q}”.</li>}
          {matches.length > 50 && <li className="muted">{matches.length - 50} more: refine the search.</li>}
        </ul>
      </div>
      {chosen && (
        <div className="panel" aria-live="polite" data-testid="role-details">
          <h3>
            {chosen.title ?? chosen.name} <code>{chosen.name}</code>
          </h3>
          {chosen.description && <p>{chosen.description}</p>}
          <p className="muted">{chosen.includedPermissions?.length ?? 0} permissions:</p>
          <ul className="permissions">
            {(chosen.includedPermissions ?? []).map((p) => (
              <li key={p}>
                <code>{p}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
