/**
 * Policy troubleshooter: principal + permission + resource → the decision, with the explanation of
 * Warrant's engine (the one behind every 403 and `warrant iam explain`) and each policy along the
 * resource's chain. The question lives in the URL, so a decision can be linked
 * (`/console/troubleshooter?principal=…&permission=…&resource=…`).
 */
import { type FormEvent, useEffect, useId, useState } from "react";
import { call } from "../api";
import { ApiErrorView } from "../components/ApiErrorView";
import { Scroller } from "../components/Scroller";
import { useLoad } from "../hooks";
import { setQuery, useLocation } from "../nav";
import type { PageProps } from "../routes";

interface Membership {
  membership?: string;
  relevance?: string;
}
interface BindingExplanation {
  access?: string;
  role?: string;
  rolePermission?: string;
  relevance?: string;
  memberships?: Record<string, Membership>;
  condition?: { title?: string; expression?: string };
}
interface ExplainedPolicy {
  access?: string;
  fullResourceName?: string;
  bindingExplanations?: BindingExplanation[];
}
interface Answer {
  access?: string;
  explainedPolicies?: ExplainedPolicy[];
  explanation?: {
    principal?: string;
    permission?: string;
    resource?: string;
    reason?: string;
    rolesThatGrantPermission?: string[];
  };
}

const SERVICES: [RegExp, string][] = [
  [/^projects\/[^/]+\/serviceAccounts\//, "iam.googleapis.com"],
  [/^projects\/[^/]+\/zones\//, "compute.googleapis.com"],
  [/^projects\/_\/buckets\//, "storage.googleapis.com"],
  [/^(projects|organizations|folders)\/[^/]+$/, "cloudresourcemanager.googleapis.com"],
];

/** `projects/p` → `//cloudresourcemanager.googleapis.com/projects/p`; a full resource name stays. */
export function fullResourceName(resource: string): string {
  const r = resource.trim();
  if (r.startsWith("//") || !r) return r;
  const service = SERVICES.find(([re]) => re.test(r))?.[1];
  return service ? `//${service}/${r}` : r;
}

const ACCESS_TEXT: Record<string, string> = {
  GRANTED: "Granted",
  NOT_GRANTED: "Not granted",
  UNKNOWN_CONDITIONAL: "Depends on a condition",
  UNKNOWN_INFO_DENIED: "Unknown: you may not read a policy that decides it",
};

export function TroubleshooterPage({ project }: PageProps) {
  const { query } = useLocation();
  const qPrincipal = query.get("principal") ?? "";
  const qPermission = query.get("permission") ?? "";
  const qResource = query.get("resource") ?? (project ? `projects/${project}` : "");
  const [principal, setPrincipal] = useState(qPrincipal);
  const [permission, setPermission] = useState(qPermission);
  const [resource, setResource] = useState(qResource);
  useEffect(() => setPrincipal(qPrincipal), [qPrincipal]);
  useEffect(() => setPermission(qPermission), [qPermission]);
  useEffect(() => setResource(qResource), [qResource]);
  const ids = { principal: useId(), permission: useId(), resource: useId() };

  const asked = qPrincipal && qPermission && qResource;
  const answer = useLoad(
    async (signal) =>
      asked
        ? call<Answer>("POST", "/v1/iam:troubleshoot", {
            body: {
              accessTuple: {
                principal: qPrincipal,
                permission: qPermission,
                fullResourceName: fullResourceName(qResource),
              },
            },
            signal,
          })
        : undefined,
    [qPrincipal, qPermission, qResource],
  );

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setQuery({ principal: principal.trim(), permission: permission.trim(), resource: resource.trim() });
  };

  const a = answer.data;
  return (
    <>
      <h1>Policy troubleshooter</h1>
      <form className="panel" onSubmit={submit} aria-label="Question">
        <div className="row">
          <div className="field">
            <label htmlFor={ids.principal}>
              Principal <span className="hint">an e-mail, or user:… / serviceAccount:…</span>
            </label>
            <input
              id={ids.principal}
              value={principal}
              onChange={(e) => setPrincipal(e.target.value)}
              placeholder="alice@example.com"
              required
              spellCheck={false}
            />
          </div>
          <div className="field">
            <label htmlFor={ids.permission}>Permission</label>
            <input
              id={ids.permission}
              value={permission}
              onChange={(e) => setPermission(e.target.value)}
              placeholder="resourcemanager.projects.getIamPolicy"
              required
              spellCheck={false}
            />
          </div>
          <div className="field">
            <label htmlFor={ids.resource}>
              Resource <span className="hint">projects/P, or a full resource name</span>
            </label>
            <input
              id={ids.resource}
              value={resource}
              onChange={(e) => setResource(e.target.value)}
              placeholder="projects/my-project"
              required
              spellCheck={false}
            />
          </div>
        </div>
        <div className="actions">
          <button type="submit" className="primary">
            Check access
          </button>
        </div>
      </form>
      {answer.error !== undefined && <ApiErrorView error={answer.error} project={project} />}
      {asked && answer.loading && <p className="loading">Asking…</p>}
      {a && (
        <section aria-labelledby="decision-heading" data-testid="decision" data-access={a.access}>
          <h2 id="decision-heading">
            <span className={a.access === "GRANTED" ? "badge ok" : "badge bad"}>
              {ACCESS_TEXT[a.access ?? ""] ?? a.access}
            </span>{" "}
            <code>{qPrincipal}</code> · <code>{qPermission}</code> ·{" "}
            <code>{fullResourceName(qResource)}</code>
          </h2>
          {a.explanation?.reason && (
            <p className="panel" data-testid="decision-reason">
              {a.explanation.reason}
            </p>
          )}
          {a.explanation?.rolesThatGrantPermission && a.explanation.rolesThatGrantPermission.length > 0 && (
            <p>
              Roles that grant it:{" "}
              {a.explanation.rolesThatGrantPermission.map((r, i) => (
                <span key={r}>
                  {i > 0 && ", "}
                  <code>{r}</code>
                </span>
              ))}
            </p>
          )}
          {(a.explainedPolicies ?? []).map((p, i) => (
            <div className="panel" key={p.fullResourceName ?? `unreadable-${i}`}>
              <h3>
                {p.fullResourceName ? <code>{p.fullResourceName}</code> : "A policy you may not read"}{" "}
                <span className={p.access === "GRANTED" ? "badge ok" : "badge"}>
                  {ACCESS_TEXT[p.access ?? ""] ?? p.access}
                </span>
              </h3>
              {(p.bindingExplanations ?? []).length > 0 && (
                <Scroller label="Bindings of the policy">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Role</th>
                        <th scope="col">Has the permission</th>
                        <th scope="col">Includes the principal</th>
                        <th scope="col">Access</th>
                      </tr>
                    </thead>
                    <tbody>
                      {(p.bindingExplanations ?? []).map((b) => {
                        const included = Object.entries(b.memberships ?? {}).filter(
                          ([, m]) => m.membership === "MEMBERSHIP_INCLUDED",
                        );
                        return (
                          <tr key={`${b.role}|${b.condition?.expression ?? ""}`}>
                            <td>
                              <code>{b.role}</code>
                              {b.condition && (
                                <div className="muted">if {b.condition.title ?? b.condition.expression}</div>
                              )}
                            </td>
                            <td>{b.rolePermission === "ROLE_PERMISSION_INCLUDED" ? "yes" : "no"}</td>
                            <td>{included.length ? included.map(([m]) => m).join(", ") : "no"}</td>
                            <td>{ACCESS_TEXT[b.access ?? ""] ?? b.access}</td>
                          </tr>
                        );
                      })}
                    </tbody>
                  </table>
                </Scroller>
              )}
            </div>
          ))}
        </section>
      )}
    </>
  );
}
