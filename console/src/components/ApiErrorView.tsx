/**
 * How every page shows a failed call: what was refused and, for an IAM denial, Warrant's explanation
 * (principal, permission, resource, why, and the roles that would grant it), with the request id
 * that finds the call in the audit log and a link that asks the troubleshooter the same question.
 */
import { ApiError } from "../api";
import { href, Link } from "../nav";

const TITLES: Record<string, string> = {
  PERMISSION_DENIED: "Permission denied",
  UNAUTHENTICATED: "Not signed in",
  NOT_FOUND: "Not found",
  ALREADY_EXISTS: "Already exists",
  ABORTED: "Changed by someone else",
  FAILED_PRECONDITION: "Not possible now",
  INVALID_ARGUMENT: "Invalid request",
  RESOURCE_EXHAUSTED: "Too many requests",
  UNAVAILABLE: "Warrant is unavailable",
};

/** `//cloudresourcemanager.googleapis.com/projects/p` or `projects/p` → the troubleshooter's resource field. */
function troubleshooterLink(err: ApiError, project?: string): string | undefined {
  const x = err.explanation;
  if (!x?.permission || !x.principal) return undefined;
  return href("/troubleshooter", {
    project,
    principal: x.principal,
    permission: x.permission,
    resource: x.resource,
  });
}

export function ApiErrorView(props: { error: unknown; project?: string; title?: string }) {
  const { error, project } = props;
  if (!(error instanceof ApiError))
    return (
      <div className="error" role="alert">
        <h2 className="error-title">{props.title ?? "Something went wrong"}</h2>
        <p>{error instanceof Error ? error.message : String(error)}</p>
      </div>
    );
  const x = error.explanation;
  const link = troubleshooterLink(error, project);
  return (
    <div className="error" role="alert" data-testid="api-error" data-status={error.status}>
      <h2 className="error-title">
        {props.title ?? TITLES[error.status] ?? "Request failed"}{" "}
        <span className="error-code">
          ({error.code} {error.status})
        </span>
      </h2>
      <p className="error-message">
        {x?.reason && error.message.includes(x.reason)
          ? error.message.replace(x.reason, "").trim()
          : error.message}
      </p>
      {x && (
        <dl className="explanation" data-testid="denial-explanation">
          {x.principal && (
            <>
              <dt>Principal</dt>
              <dd>
                <code>{x.principal}</code>
              </dd>
            </>
          )}
          {x.permission && (
            <>
              <dt>Permission</dt>
              <dd>
                <code>{x.permission}</code>
              </dd>
            </>
          )}
          {x.resource && (
            <>
              <dt>Resource</dt>
              <dd>
                <code>{x.resource}</code>
              </dd>
            </>
          )}
          {x.reason && (
            <>
              <dt>Why</dt>
              <dd>{x.reason}</dd>
            </>
          )}
          {x.rolesThatGrantPermission && x.rolesThatGrantPermission.length > 0 && (
            <>
              <dt>Roles that grant it</dt>
              <dd>
                <ul className="inline-list">
                  {x.rolesThatGrantPermission.map((r) => (
                    <li key={r}>
                      <code>{r}</code>
                    </li>
                  ))}
                </ul>
              </dd>
            </>
          )}
        </dl>
      )}
      <p className="error-meta">
        {error.requestId && (
          <>
            Request id <code data-testid="request-id">{error.requestId}</code>
            {" · "}
            <Link href={href("/audit", { project, requestId: error.requestId })}>
              Find it in the audit log
            </Link>
          </>
        )}
        {link && (
          <>
            {" · "}
            <Link href={link}>Ask the policy troubleshooter</Link>
          </>
        )}
        {error.signInRequired && (
          <>
            {" · "}
            <a href={`/console/auth/login?next=${encodeURIComponent(location.pathname + location.search)}`}>
              Sign in
            </a>
          </>
        )}
      </p>
    </div>
  );
}
