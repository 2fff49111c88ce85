/**
 * Policy Troubleshooter: `POST /v1/iam:troubleshoot` (and `/v2alpha1/iam:troubleshoot`, which the
 * real `gcloud policy-troubleshoot iam` calls; the same shape plus `conditionContext`), in
 * policytroubleshooter.googleapis.com's shape. The answer comes from `analyzeAccess()`, the engine of
 * `warrant iam explain` and of every 403's explanation, so it includes what Warrant enforces beyond
 * Google's v1 troubleshooter: deny policies and groups (nested), and conditions evaluated.
 *
 * Authorization, as on Google: the troubleshooter itself needs no permission, but each policy along
 * the resource's chain is shown only to a caller who may read it (its `getIamPolicy` permission,
 * e.g. resourcemanager.projects.getIamPolicy; roles/iam.securityReviewer holds them all). A policy
 * the caller cannot read is reported as `UNKNOWN_INFO_DENIED` with nothing else, and the overall
 * answer is `UNKNOWN_INFO_DENIED` unless what the caller may read settles it.
 */
import { InvalidArgument } from "../../../domain/errors.js";
import type { Policy } from "../../../domain/iam/policy.js";
import {
  ANONYMOUS,
  type Principal,
  serviceAccountPrincipal,
  userPrincipal,
} from "../../../domain/iam/principal.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import {
  type AccessAnalysis,
  analyzeAccess,
  asAuthenticated,
  fromFullResourceName,
  fullResourceName,
  getIamPolicyPermissions,
  isPermissionName,
  resolveResource,
} from "../../iam/explain.js";

export const TROUBLESHOOT_VERSIONS = ["v1", "v2alpha1"] as const;

type Access = "GRANTED" | "NOT_GRANTED" | "UNKNOWN_CONDITIONAL" | "UNKNOWN_INFO_DENIED";

export interface AccessTuple {
  principal: string;
  fullResourceName: string;
  permission: string;
  /** `request.time` of conditions, from `conditionContext.request.receiveTime`. */
  requestTime?: Date;
}

function field(o: Record<string, unknown>, name: string): string {
  const v = o[name];
  if (typeof v !== "string" || v.trim() === "")
    throw new InvalidArgument(`accessTuple.${name} is required: a non-empty string.`);
  return v.trim();
}

/** Validates the request body's `accessTuple`. */
export function parseAccessTuple(body: Record<string, unknown>): AccessTuple {
  const t = body.accessTuple;
  if (!t || typeof t !== "object" || Array.isArray(t))
    throw new InvalidArgument(
      "accessTuple is required: {principal, fullResourceName, permission}, e.g. " +
        '{"principal":"alice@example.com","fullResourceName":"//cloudresourcemanager.googleapis.com/projects/P","permission":"resourcemanager.projects.get"}.',
    );
  const tuple = t as Record<string, unknown>;
  const out: AccessTuple = {
    principal: field(tuple, "principal"),
    fullResourceName: field(tuple, "fullResourceName"),
    permission: field(tuple, "permission"),
  };
  if (!isPermissionName(out.permission))
    throw new InvalidArgument(
      `accessTuple.permission '${out.permission}' is not a permission name: expected SERVICE.RESOURCE.VERB, e.g. storage.buckets.list.`,
    );
  const cc = tuple.conditionContext as { request?: { receiveTime?: unknown } } | undefined;
  const rt = cc && typeof cc === "object" ? cc.request?.receiveTime : undefined;
  if (rt !== undefined) {
    const t = typeof rt === "string" ? Date.parse(rt) : Number.NaN;
    if (Number.isNaN(t))
      throw new InvalidArgument(
        "accessTuple.conditionContext.request.receiveTime must be an RFC 3339 timestamp, e.g. 2026-01-01T00:00:00Z.",
      );
    out.requestTime = new Date(t);
  }
  return out;
}

const SA_EMAIL = /@([a-z0-9-]+\.iam|developer|[a-z0-9-]+\.svc\.id)\.gserviceaccount\.com$/i;

/**
 * The principal of `accessTuple.principal`: an e-mail, as Google takes it (a service account if the
 * directory holds one of that e-mail or it has a service-account domain, else a user), or a member
 * (`user:…`, `serviceAccount:…`, `allUsers`).
 */
async function principalOf(deps: ServerDeps, raw: string): Promise<Principal> {
  const m = /^(user|serviceAccount):(.+)$/.exec(raw);
  let p: Principal;
  if (raw === "allUsers") p = ANONYMOUS;
  else if (m) p = m[1] === "user" ? userPrincipal(m[2]!) : serviceAccountPrincipal(m[2]!);
  else if (!/^[^@\s:]+@[^@\s:]+$/.test(raw))
    throw new InvalidArgument(
      `accessTuple.principal '${raw}' is not an e-mail address: name a Google account or a service account, e.g. alice@example.com.`,
    );
  else if (SA_EMAIL.test(raw) || (await deps.repos.serviceAccounts.get(raw)))
    p = serviceAccountPrincipal(raw.toLowerCase());
  else p = userPrincipal(raw.toLowerCase());
  return asAuthenticated(deps.repos, p);
}

const ATTACHMENT = /^(projects\/[^/]+|organizations\/[^/]+)$/;

/** Renders the analysis for a caller who may read the policies in `readable` (and deny policies in `denyReadable`). */
export function troubleshootResponse(
  a: AccessAnalysis,
  readable: ReadonlySet<string>,
  denyReadable: ReadonlySet<string>,
) {
  const d = a.decision;
  const explainedPolicies = a.policies.map((p) => {
    if (!readable.has(p.resource)) return { access: "UNKNOWN_INFO_DENIED" as Access };
    const permissionHeld = p.bindings.some((b) => b.access === "GRANTED");
    return {
      access: p.access as Access,
      fullResourceName: fullResourceName(p.resource),
      policy: renderPolicy(p.policy),
      bindingExplanations: p.bindings.map((b) => {
        const memberships: Record<string, { membership: string; relevance: string }> = {};
        for (const m of b.members)
          memberships[m.member] = {
            membership: m.included ? "MEMBERSHIP_INCLUDED" : "MEMBERSHIP_NOT_INCLUDED",
            // The member that includes the principal, in a binding whose role holds the permission, decides.
            relevance: m.included && b.rolePermission ? "HIGH" : "NORMAL",
          };
        const included = b.members.some((m) => m.included);
        return {
          access: b.access,
          role: b.role,
          rolePermission: b.rolePermission ? "ROLE_PERMISSION_INCLUDED" : "ROLE_PERMISSION_NOT_INCLUDED",
          rolePermissionRelevance: included ? "HIGH" : "NORMAL",
          memberships,
          relevance: b.access === "GRANTED" || (b.rolePermission && included) ? "HIGH" : "NORMAL",
          ...(b.condition ? { condition: b.condition } : {}),
          ...(b.condition && b.matchedMember
            ? {
                conditionExplanation: {
                  value: b.access === "GRANTED" ? true : b.conditionError ? null : false,
                  ...(b.conditionExplanation ? { explanation: b.conditionExplanation } : {}),
                  ...(b.conditionError ? { errors: [{ code: 3, message: b.conditionError }] } : {}),
                },
              }
            : {}),
        };
      }),
      relevance: permissionHeld || p.bindings.some((b) => b.rolePermission) ? "HIGH" : "NORMAL",
    };
  });
  const allReadable = a.policies.every((p) => readable.has(p.resource));
  const grantedReadably = d.grantedBy.some((g) => readable.has(g.resource));
  const conditional = a.policies.some((p) => readable.has(p.resource) && p.access === "UNKNOWN_CONDITIONAL");
  const anyReadable = a.policies.some((p) => readable.has(p.resource));
  let access: Access;
  if (!anyReadable) access = "UNKNOWN_INFO_DENIED";
  else if (d.deniedBy) access = "NOT_GRANTED";
  else if (d.allowed) access = grantedReadably ? "GRANTED" : "UNKNOWN_INFO_DENIED";
  else if (conditional) access = "UNKNOWN_CONDITIONAL";
  else access = allReadable ? "NOT_GRANTED" : "UNKNOWN_INFO_DENIED";

  // Warrant's additions (Google's v1 troubleshooter knows no deny policies): the deny rule that
  // refused the permission, shown in full to a caller who may read deny policies where it is
  // attached; the engine's one-line reason and advice when the caller may read every policy.
  const deny = anyReadable ? d.deniedBy : undefined;
  const denyExplanation = deny
    ? denyReadable.has(deny.attachedTo)
      ? { access: "NOT_GRANTED", fullResourceName: fullResourceName(deny.attachedTo), deniedBy: deny }
      : {
          access: "NOT_GRANTED",
          fullResourceName: fullResourceName(deny.attachedTo),
          message: `A deny policy attached to ${deny.attachedTo} refuses the permission; iam.denypolicies.get on it shows which.`,
        }
    : undefined;
  const fullyReadable = allReadable && (!d.deniedBy || denyReadable.has(d.deniedBy.attachedTo));
  return {
    access,
    explainedPolicies,
    ...(denyExplanation ? { denyExplanation } : {}),
    ...(fullyReadable
      ? {
          explanation: {
            reason: d.reason,
            ...(!d.allowed && !d.deniedBy && a.rolesThatGrantPermission.length
              ? { rolesThatGrantPermission: a.rolesThatGrantPermission }
              : {}),
            ...(a.knownPermission ? {} : { unknownPermission: true }),
          },
        }
      : {}),
  };
}

function renderPolicy(p: Policy | undefined) {
  if (!p) return {};
  return {
    version: p.version ?? 1,
    ...(p.bindings.length ? { bindings: p.bindings } : {}),
    ...(p.etag ? { etag: p.etag } : {}),
  };
}

export function registerPolicyTroubleshooter(router: Router, deps: ServerDeps) {
  const troubleshoot = async (ctx: RequestContext) => {
    const tuple = parseAccessTuple(await readJsonObject(ctx.req));
    const principal = await principalOf(deps, tuple.principal);
    const target = await resolveResource(
      deps.repos,
      deps.organizationId,
      fromFullResourceName(tuple.fullResourceName),
    );
    const analysis = await analyzeAccess(
      deps.access.policySource,
      deps.repos,
      deps.organizationId,
      principal,
      tuple.permission,
      target.ref,
      tuple.requestTime,
    );
    // Each policy along the chain is shown only to a caller who may read it, as on Google.
    const chain = target.ref.chain;
    const readable = new Set<string>();
    const denyReadable = new Set<string>();
    for (let i = 0; i < chain.length; i++) {
      const ref = { chain: chain.slice(i) };
      const resource = chain[i]!;
      for (const read of getIamPolicyPermissions(resource))
        if (await deps.access.allows(ctx, read, ref)) {
          readable.add(resource);
          ctx.checks.push({ permission: read, resource, allowed: true });
          break;
        }
      if (ATTACHMENT.test(resource) && (await deps.access.allows(ctx, "iam.denypolicies.get", ref))) {
        denyReadable.add(resource);
        ctx.checks.push({ permission: "iam.denypolicies.get", resource, allowed: true });
      }
    }
    return troubleshootResponse(analysis, readable, denyReadable);
  };
  for (const v of TROUBLESHOOT_VERSIONS) router.add("POST", `/${v}/iam:troubleshoot`, troubleshoot);
}
