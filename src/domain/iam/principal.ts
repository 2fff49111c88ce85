import { boundMember, parseMember } from "./members.js";

/**
 * Who is calling. Built by authentication; read by authorization. `uid` is the unique id of the
 * account (set by the server for every authenticated user and service account): bindings are
 * matched on it, so a deleted account's bindings never apply to a new account of the same e-mail.
 */
export type Principal =
  | { kind: "anonymous" }
  | { kind: "user"; email: string; uid?: string; groups: readonly string[] }
  | {
      kind: "serviceAccount";
      email: string;
      uid?: string;
      projectNumber?: string;
      groups: readonly string[];
    }
  | FederatedPrincipal;

/**
 * An identity of a workload identity pool, from an STS token exchange: `pool` is the pool's resource
 * name (`projects/NUMBER/locations/global/workloadIdentityPools/POOL`), `subject` its mapped
 * `google.subject`, `poolGroups` its `google.groups` and `attributes` its `attribute.*` values.
 */
export interface FederatedPrincipal {
  kind: "federated";
  pool: string;
  subject: string;
  poolGroups: readonly string[];
  attributes: Readonly<Record<string, string | readonly string[]>>;
  /** Google groups (`group:` members): always empty, a pool's groups are `poolGroups`. */
  groups: readonly string[];
}

export const federatedSubjectMember = (pool: string, subject: string) =>
  `principal://iam.googleapis.com/${pool}/subject/${subject}`;

export const ANONYMOUS: Principal = { kind: "anonymous" };

export function userPrincipal(email: string, groups: readonly string[] = [], uid?: string): Principal {
  return { kind: "user", email: email.toLowerCase(), ...(uid ? { uid } : {}), groups };
}

export function serviceAccountPrincipal(email: string, projectNumber?: string, uid?: string): Principal {
  return {
    kind: "serviceAccount",
    email: email.toLowerCase(),
    ...(uid ? { uid } : {}),
    groups: [],
    ...(projectNumber ? { projectNumber } : {}),
  };
}

/** The member string that names this principal in a policy (`user:a@b`, `serviceAccount:…`, `allUsers`). */
export function memberOf(p: Principal): string {
  switch (p.kind) {
    case "anonymous":
      return "allUsers";
    case "user":
      return `user:${p.email}`;
    case "serviceAccount":
      return `serviceAccount:${p.email}`;
    case "federated":
      return federatedSubjectMember(p.pool, p.subject);
  }
}

/** The member naming this principal's account (`user:a@b?uid=U`), for bindings and records of it. */
export function boundMemberOf(p: Principal): string {
  if (p.kind === "anonymous" || p.kind === "federated" || p.uid === undefined) return memberOf(p);
  return boundMember(p.kind, p.email, p.uid);
}

/** Parses `user:x`/`serviceAccount:x` (optionally `?uid=U`) back into a principal. */
export function principalFromMember(member: string): Principal | null {
  const parsed = parseMember(member);
  if (typeof parsed === "string") return null;
  if (parsed.type === "user") return userPrincipal(parsed.email, [], parsed.uid);
  if (parsed.type === "serviceAccount") return serviceAccountPrincipal(parsed.email, undefined, parsed.uid);
  return null;
}
