/**
 * IAM: the project's allow policy as principals × roles, grouped by principal or by role; grant a
 * role (with the searchable role picker) and remove a binding. Every write sends the etag of the
 * policy it was made from: when someone else changed the policy meanwhile, the API answers
 * 409 ABORTED, nothing is written, and the page says so and shows the policy as it is now.
 */
import { type FormEvent, useId, useMemo, useState } from "react";
import { ApiError, call } from "../api";
import { ApiErrorView } from "../components/ApiErrorView";
import { RolePicker } from "../components/RolePicker";
import { Scroller } from "../components/Scroller";
import { useLoad } from "../hooks";
import type { PageProps } from "../routes";

export interface Binding {
  role: string;
  members: string[];
  condition?: { title?: string; expression: string; description?: string };
}
export interface Policy {
  version?: number;
  etag?: string;
  bindings?: Binding[];
}

export const policyPath = (project: string) => `/v1/projects/${encodeURIComponent(project)}`;

export function getPolicy(project: string, signal?: AbortSignal): Promise<Policy> {
  return call<Policy>("POST", `${policyPath(project)}:getIamPolicy`, {
    body: { options: { requestedPolicyVersion: 3 } },
    ...(signal ? { signal } : {}),
  });
}

/** `alice@example.com` → `user:alice@example.com`; a service account's address → `serviceAccount:…`. */
export function normalizeMember(raw: string): string {
  const m = raw.trim();
  if (!m || m.includes(":") || m === "allUsers" || m === "allAuthenticatedUsers") return m;
  if (m.endsWith(".gserviceaccount.com")) return `serviceAccount:${m}`;
  return `user:${m}`;
}

const conditionKey = (b: Binding) =>
  b.condition ? `${b.condition.title ?? ""}|${b.condition.expression}` : "";

/** The policy with `member` granted `role` (unconditionally). */
function withGrant(p: Policy, role: string, member: string): Policy {
  const bindings = (p.bindings ?? []).map((b) => ({ ...b, members: [...b.members] }));
  const b = bindings.find((x) => x.role === role && !x.condition);
  if (b) {
    if (!b.members.includes(member)) b.members.push(member);
  } else bindings.push({ role, members: [member] });
  return { ...p, bindings };
}

/** The policy without `member` in the binding (role + condition) given. */
function withoutMember(p: Policy, role: string, cond: string, member: string): Policy {
  const bindings = (p.bindings ?? [])
    .map((b) =>
      b.role === role && conditionKey(b) === cond
        ? { ...b, members: b.members.filter((m) => m !== member) }
        : b,
    )
    .filter((b) => b.members.length > 0);
  return { ...p, bindings };
}

interface Change {
  describe: string;
  apply: (p: Policy) => Policy;
}

function MemberChip(props: {
  label: string;
  onRemove?: (() => void) | undefined;
  removeLabel: string;
  busy: boolean;
}) {
  return (
    <li className="chip">
      <code>{props.label}</code>
      {props.onRemove && (
        <button
          type="button"
          aria-label={props.removeLabel}
          title={props.removeLabel}
          onClick={props.onRemove}
          disabled={props.busy}
        >
          ×
        </button>
      )}
    </li>
  );
}

export function IamPage({ project }: PageProps) {
  const policy = useLoad(async (signal) => (project ? getPolicy(project, signal) : undefined), [project]);
  const [view, setView] = useState<"principal" | "role">("principal");
  const [role, setRole] = useState("");
  const [member, setMember] = useState("");
  const [busy, setBusy] = useState(false);
  const [writeError, setWriteError] = useState<unknown>();
  const [conflict, setConflict] = useState<Change | undefined>();
  const [done, setDone] = useState("");
  const memberId = useId();

  const byPrincipal = useMemo(() => {
    const m = new Map<string, { role: string; cond: string; condTitle?: string | undefined }[]>();
    for (const b of policy.data?.bindings ?? [])
      for (const mem of b.members) {
        if (!m.has(mem)) m.set(mem, []);
        m.get(mem)!.push({ role: b.role, cond: conditionKey(b), condTitle: b.condition?.title });
      }
    return [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [policy.data]);

  async function write(change: Change) {
    if (!policy.data) return;
    setBusy(true);
    setWriteError(undefined);
    setConflict(undefined);
    setDone("");
    try {
      const next = change.apply(policy.data);
      const hasConditions = next.bindings?.some((b) => b.condition);
      const saved = await call<Policy>("POST", `${policyPath(project)}:setIamPolicy`, {
        body: { policy: { ...next, version: hasConditions ? 3 : (next.version ?? 1) } },
      });
      policy.set(saved);
      setDone(`${change.describe}: done.`);
    } catch (err) {
      if (err instanceof ApiError && err.conflict) {
        // Someone else wrote first: show what the policy is now, and offer to apply the change to it.
        setConflict(change);
        try {
          policy.set(await getPolicy(project));
        } catch (e) {
          setWriteError(e);
        }
      } else setWriteError(err);
    } finally {
      setBusy(false);
    }
  }

  const grant = (e: FormEvent) => {
    e.preventDefault();
    const m = normalizeMember(member);
    if (!m || !role) {
      setWriteError(new Error("Enter a principal and choose a role."));
      return;
    }
    void write({ describe: `Granted ${role} to ${m}`, apply: (p) => withGrant(p, role, m) });
  };
  const remove = (r: string, cond: string, m: string) =>
    void write({ describe: `Removed ${m} from ${r}`, apply: (p) => withoutMember(p, r, cond, m) });

  if (!project) return <h1>IAM</h1>;
  return (
    <>
      <h1>
        IAM <span className="muted">for</span> <code>{project}</code>
      </h1>
      <div className="actions">
        <button type="button" onClick={policy.reload} disabled={policy.loading}>
          Reload
        </button>
      </div>
      {policy.error !== undefined && <ApiErrorView error={policy.error} project={project} />}
      {policy.loading && !policy.data && <p className="loading">Loading the policy…</p>}
      {conflict && (
        <div className="notice" role="alert" data-testid="etag-conflict">
          <h2 className="error-title">Someone else changed this policy</h2>
          <p>
            The policy changed after this page loaded it, so your change (“{conflict.describe}”) was not
            applied. The policy below is the current one.
          </p>
          <div className="actions">
            <button type="button" className="primary" onClick={() => write(conflict)} disabled={busy}>
              Apply my change to the current policy
            </button>
            <button type="button" onClick={() => setConflict(undefined)}>
              Discard my change
            </button>
          </div>
        </div>
      )}
      {writeError !== undefined && <ApiErrorView error={writeError} project={project} />}
      {done && (
        <p className="success" role="status">
          {done}
        </p>
      )}
      {policy.data && (
        <>
          <div className="tabs" role="tablist" aria-label="Group the policy">
            <button
              type="button"
              role="tab"
              id="tab-principal"
              aria-selected={view === "principal"}
              aria-controls="policy-panel"
              onClick={() => setView("principal")}
            >
              By principal
            </button>
            <button
              type="button"
              role="tab"
              id="tab-role"
              aria-selected={view === "role"}
              aria-controls="policy-panel"
              onClick={() => setView("role")}
            >
              By role
            </button>
          </div>
          <div
            id="policy-panel"
            role="tabpanel"
            aria-labelledby={view === "principal" ? "tab-principal" : "tab-role"}
            data-testid="policy"
          >
            {(policy.data.bindings ?? []).length === 0 && <p>The policy has no bindings.</p>}
            {view === "principal" ? (
              <Scroller label="Policy by principal">
                <table>
                  <caption className="muted">Etag {policy.data.etag}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Principal</th>
                      <th scope="col">Roles</th>
                    </tr>
                  </thead>
                  <tbody>
                    {byPrincipal.map(([m, roles]) => (
                      <tr key={m} data-member={m}>
                        <th scope="row">
                          <code>{m}</code>
                        </th>
                        <td>
                          <ul className="chips">
                            {roles.map((r) => (
                              <MemberChip
                                key={r.role + r.cond}
                                label={r.condTitle ? `${r.role} (if ${r.condTitle})` : r.role}
                                removeLabel={`Remove ${r.role} from ${m}`}
                                onRemove={() => remove(r.role, r.cond, m)}
                                busy={busy}
                              />
                            ))}
                          </ul>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </Scroller>
            ) : (
              <Scroller label="Policy by role">
                <table>
                  <caption className="muted">Etag {policy.data.etag}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Role</th>
                      <th scope="col">Principals</th>
                    </tr>
                  </thead>
                  <tbody>
                    {[...(policy.data.bindings ?? [])]
                      .sort((a, b) => a.role.localeCompare(b.role))
                      .map((b) => (
                        <tr key={b.role + conditionKey(b)} data-role={b.role}>
                          <th scope="row">
                            <code>{b.role}</code>
                            {b.condition && (
                              <div className="muted">
                                if {b.condition.title ?? ""} <code>{b.condition.expression}</code>
                              </div>
                            )}
                          </th>
                          <td>
                            <ul className="chips">
                              {b.members.map((m) => (
                                <MemberChip
                                  key={m}
                                  label={m}
                                  removeLabel={`Remove ${m} from ${b.role}`}
                                  onRemove={() => remove(b.role, conditionKey(b), m)}
                                  busy={busy}
                                />
                              ))}
                            </ul>
                          </td>
                        </tr>
                      ))}
                  </tbody>
                </table>
              </Scroller>
            )}
          </div>
          <section className="panel grant" aria-labelledby="grant-heading">
            <h2 id="grant-heading">Grant access</h2>
            <form onSubmit={grant}>
              <div className="field">
                <label htmlFor={memberId}>
                  Principal <span className="hint">user:, serviceAccount:, group: or an e-mail address</span>
                </label>
                <input
                  id={memberId}
                  value={member}
                  onChange={(e) => setMember(e.target.value)}
                  placeholder="user:alice@example.com"
                  autoComplete="off"
                  spellCheck={false}
                />
              </div>
              <RolePicker project={project} value={role} onChange={setRole} />
              <div className="actions">
                <button type="submit" className="primary" disabled={busy || !role || !member.trim()}>
                  Grant {role ? <code>{role}</code> : "role"}
                </button>
              </div>
            </form>
          </section>
        </>
      )}
    </>
  );
}
