/**
 * The organization-wide directories (users, groups) share one authorization and audit shape:
 * reading needs `resourcemanager.projects.getIamPolicy` on the organization, changing
 * `resourcemanager.projects.setIamPolicy` there (roles/owner), and every change is an `admin` audit
 * entry carrying the request id.
 */
import { organizationRef } from "../../../domain/resources.js";
import type { ServerDeps } from "../../deps.js";
import type { RequestContext } from "../../http/context.js";

export const DIRECTORY_READ_PERMISSION = "resourcemanager.projects.getIamPolicy";
export const DIRECTORY_WRITE_PERMISSION = "resourcemanager.projects.setIamPolicy";

/** `directory` names it in denials, e.g. "the user directory". */
export function directoryAccess(deps: ServerDeps, directory: string) {
  const org = organizationRef(deps.organizationId);
  const orgName = `organizations/${deps.organizationId}`;
  return {
    requireRead: (ctx: RequestContext) =>
      deps.access.require(
        ctx,
        DIRECTORY_READ_PERMISSION,
        org,
        (d) => `Reading ${directory} needs ${DIRECTORY_READ_PERMISSION} on ${orgName}. ${d.reason}`,
      ),
    requireWrite: (ctx: RequestContext, what: string) =>
      deps.access.require(
        ctx,
        DIRECTORY_WRITE_PERMISSION,
        org,
        (d) => `${what} needs ${DIRECTORY_WRITE_PERMISSION} on ${orgName} (roles/owner there). ${d.reason}`,
      ),
    audit: (ctx: RequestContext, action: string, entry: Record<string, unknown>) =>
      deps.audit.record({
        time: new Date().toISOString(),
        kind: "admin",
        requestId: ctx.requestId,
        action,
        ...entry,
      }),
  };
}
