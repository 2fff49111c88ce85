/**
 * IAM deny policies (IAM v2 `policies/{attachment}/denypolicies/{id}`): shape, validation, the
 * v1 ↔ v2 permission names, and evaluation. Deny rules are checked before allow policies, on the
 * resource's ancestors that can carry them (projects and the organization); a matching rule
 * refuses whatever the allow policies say. Pure.
 */
import { conditionParseError, evaluateCondition, type ResourceAttributes } from "./condition.js";
import { memberMatches, type ParsedMember, parseMember } from "./members.js";
import type { Principal } from "./principal.js";
import { KNOWN_PERMISSIONS } from "./roles.js";

export interface DenyRule {
  deniedPrincipals: string[];
  exceptionPrincipals: string[];
  deniedPermissions: string[];
  exceptionPermissions: string[];
  denialCondition?: { title?: string; description?: string; expression: string };
}

export interface DenyPolicy {
  /** `policies/cloudresourcemanager.googleapis.com%2Fprojects%2FNUMBER/denypolicies/ID`. */
  name: string;
  uid: string;
  kind: "DenyPolicy";
  displayName?: string;
  annotations?: Record<string, string>;
  etag: string;
  createTime: string;
  updateTime: string;
  rules: { description?: string; denyRule: DenyRule }[];
}

/** A stored deny policy and the resource it is attached to (`projects/ID`, `organizations/N`). */
export interface StoredDenyPolicy {
  attachedTo: string;
  policyId: string;
  policy: DenyPolicy;
}

export const POLICY_ID = /^[a-z][a-z0-9.-]{2,62}$/;
export const MAX_DENY_RULES = 500;

/** v1 services whose v2 FQDN is not `SERVICE.googleapis.com`. */
const V2_SERVICE: Record<string, string> = { resourcemanager: "cloudresourcemanager.googleapis.com" };
const V1_SERVICE: Record<string, string> = { "cloudresourcemanager.googleapis.com": "resourcemanager" };

/** `storage.buckets.delete` → `storage.googleapis.com/buckets.delete`. */
export function v2Permission(v1: string): string {
  const i = v1.indexOf(".");
  if (i < 0 || v1.includes("/")) return v1;
  const service = v1.slice(0, i);
  return `${V2_SERVICE[service] ?? `${service}.googleapis.com`}/${v1.slice(i + 1)}`;
}

/** `storage.googleapis.com/buckets.delete` → `storage.buckets.delete` (undefined if not that form). */
export function v1Permission(v2: string): string | undefined {
  const m = /^([a-z0-9.-]+\.googleapis\.com)\/([A-Za-z0-9*]+)\.([A-Za-z0-9*]+)$/.exec(v2);
  if (!m) return undefined;
  const service = V1_SERVICE[m[1]!] ?? m[1]!.replace(/\.googleapis\.com$/, "");
  return `${service}.${m[2]}.${m[3]}`;
}

/** Whether the v2 pattern (exact, `FQDN/RES.*`, `FQDN/*.*`, `FQDN/*.VERB`) covers the v2 permission. */
export function permissionMatches(pattern: string, permission: string): boolean {
  if (pattern === permission) return true;
  const p = /^([^/]+)\/([^.]+)\.(.+)$/.exec(pattern);
  const q = /^([^/]+)\/([^.]+)\.(.+)$/.exec(permission);
  if (!p || !q || p[1] !== q[1]) return false;
  return (p[2] === "*" || p[2] === q[2]) && (p[3] === "*" || p[3] === q[3]);
}

function permissionProblem(p: unknown, field: string): string | undefined {
  if (typeof p !== "string") return `${field} must be strings.`;
  const m = /^([a-z0-9.-]+\.googleapis\.com)\/([A-Za-z0-9]+|\*)\.([A-Za-z0-9]+|\*)$/.exec(p);
  if (!m)
    return `${field}: '${p}' is not a deny permission: expected SERVICE.googleapis.com/RESOURCE.VERB (e.g. storage.googleapis.com/buckets.delete), or a permission group RESOURCE.*, *.* or *.VERB.`;
  if (m[2] === "*" || m[3] === "*") return undefined;
  const v1 = v1Permission(p)!;
  if (!KNOWN_PERMISSIONS.has(v1))
    return `${field}: permission '${p}' is not supported in deny policies (no such permission ${v1}).`;
  return undefined;
}

const SA_PRINCIPAL = /^principal:\/\/iam\.googleapis\.com\/projects\/-\/serviceAccounts\/([^/?\s]+)$/;
const USER_PRINCIPAL = /^principal:\/\/goog\/subject\/([^/?\s]+@[^/?\s]+)$/;
const GROUP_SET = /^principalSet:\/\/goog\/group\/([^/?\s]+@[^/?\s]+)$/;
const PROJECT_SET =
  /^principalSet:\/\/cloudresourcemanager\.googleapis\.com\/projects\/(\d+)\/type\/(ServiceAccount|ServiceAgent)$/;
const PUBLIC = "principalSet://goog/public:all";
/** Workload identity pool principals: the same strings in deny rules as in allow policies. */
const WORKLOAD_POOL_PRINCIPAL =
  /^principal(Set)?:\/\/iam\.googleapis\.com\/projects\/\d+\/locations\/[^/]+\/workloadIdentityPools\//;

/** A deny rule's workload identity pool principal, parsed once (rules are few and checked often). */
const poolPrincipals = new Map<string, ParsedMember | undefined>();
function poolPrincipal(id: string): ParsedMember | undefined {
  let parsed = poolPrincipals.get(id);
  if (parsed === undefined && !poolPrincipals.has(id)) {
    const m = parseMember(id);
    parsed =
      typeof m !== "string" && (m.type === "federatedSubject" || m.type === "federatedSet") ? m : undefined;
    if (poolPrincipals.size >= 4096) poolPrincipals.clear();
    poolPrincipals.set(id, parsed);
  }
  return parsed;
}

function principalProblem(p: unknown, field: string, exception: boolean): string | undefined {
  if (typeof p !== "string") return `${field} must be strings.`;
  if (p === PUBLIC)
    return exception ? `${field}: ${PUBLIC} is not allowed in exceptionPrincipals.` : undefined;
  if (SA_PRINCIPAL.test(p) || USER_PRINCIPAL.test(p) || GROUP_SET.test(p) || PROJECT_SET.test(p))
    return undefined;
  if (WORKLOAD_POOL_PRINCIPAL.test(p)) {
    const m = parseMember(p);
    return typeof m === "string" ? `${field}: ${m}` : undefined;
  }
  // Workforce pools (`principal://iam.googleapis.com/locations/global/workforcePools/…`): accepted,
  // as Google does; Warrant has no workforce identities, so they name nobody here.
  if (/^principal(Set)?:\/\/iam\.googleapis\.com\/locations\//.test(p)) return undefined;
  if (/^principalSet:\/\/goog\/cloudIdentityCustomerId\/[A-Za-z0-9]+$/.test(p)) return undefined;
  return `${field}: '${p}' is not a principal identifier: expected principal://goog/subject/EMAIL, principal://iam.googleapis.com/projects/-/serviceAccounts/EMAIL, principalSet://goog/group/EMAIL, principalSet://goog/public:all, principalSet://cloudresourcemanager.googleapis.com/projects/NUMBER/type/ServiceAccount or a workload identity pool principal (principal://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/subject/SUBJECT, principalSet://…/POOL/{group/GROUP | attribute.NAME/VALUE | *}).`;
}

function stringList(v: unknown, field: string): string[] | string {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return `${field} must be a list.`;
  return v as string[];
}

/** Validates the client's policy body; returns the normalized parts or a message. */
export function validateDenyPolicy(
  input: unknown,
): { displayName?: string; annotations?: Record<string, string>; rules: DenyPolicy["rules"] } | string {
  if (input === null || typeof input !== "object" || Array.isArray(input))
    return "The policy must be an object.";
  const p = input as Record<string, unknown>;
  if (p.displayName !== undefined && (typeof p.displayName !== "string" || p.displayName.length > 63))
    return "displayName must be a string of at most 63 characters.";
  let annotations: Record<string, string> | undefined;
  if (p.annotations !== undefined) {
    if (p.annotations === null || typeof p.annotations !== "object") return "annotations must be a map.";
    for (const [k, v] of Object.entries(p.annotations as Record<string, unknown>))
      if (k.length > 63 || typeof v !== "string" || v.length > 255)
        return "annotations: keys of at most 63 and string values of at most 255 characters.";
    annotations = p.annotations as Record<string, string>;
  }
  const raw = p.rules ?? [];
  if (!Array.isArray(raw)) return "rules must be a list.";
  if (raw.length > MAX_DENY_RULES) return `A deny policy has at most ${MAX_DENY_RULES} rules.`;
  const rules: DenyPolicy["rules"] = [];
  for (const [i, r] of raw.entries()) {
    const at = `rules[${i}]`;
    if (r === null || typeof r !== "object") return `${at} must be an object.`;
    const { description, denyRule } = r as Record<string, unknown>;
    if (description !== undefined && (typeof description !== "string" || description.length > 256))
      return `${at}.description must be a string of at most 256 characters.`;
    if (denyRule === null || typeof denyRule !== "object") return `${at}.denyRule is required.`;
    const d = denyRule as Record<string, unknown>;
    const lists: Record<string, string[]> = {};
    for (const f of [
      "deniedPrincipals",
      "exceptionPrincipals",
      "deniedPermissions",
      "exceptionPermissions",
    ]) {
      const l = stringList(d[f], `${at}.denyRule.${f}`);
      if (typeof l === "string") return l;
      lists[f] = [...new Set(l)];
    }
    if (lists.deniedPrincipals!.length === 0)
      return `${at}.denyRule.deniedPrincipals must name at least one principal.`;
    if (lists.deniedPermissions!.length === 0)
      return `${at}.denyRule.deniedPermissions must name at least one permission.`;
    for (const x of lists.deniedPrincipals!) {
      const e = principalProblem(x, `${at}.denyRule.deniedPrincipals`, false);
      if (e) return e;
    }
    for (const x of lists.exceptionPrincipals!) {
      const e = principalProblem(x, `${at}.denyRule.exceptionPrincipals`, true);
      if (e) return e;
    }
    for (const f of ["deniedPermissions", "exceptionPermissions"])
      for (const x of lists[f]!) {
        const e = permissionProblem(x, `${at}.denyRule.${f}`);
        if (e) return e;
      }
    const rule: DenyRule = {
      deniedPrincipals: lists.deniedPrincipals!,
      exceptionPrincipals: lists.exceptionPrincipals!,
      deniedPermissions: lists.deniedPermissions!,
      exceptionPermissions: lists.exceptionPermissions!,
    };
    if (d.denialCondition !== undefined && d.denialCondition !== null) {
      const c = d.denialCondition as Record<string, unknown>;
      if (typeof c !== "object" || typeof c.expression !== "string" || c.expression.trim() === "")
        return `${at}.denyRule.denialCondition.expression is required.`;
      const e = conditionParseError(c.expression);
      if (e) return `${at}.denyRule.denialCondition.expression is invalid: ${e}.`;
      rule.denialCondition = {
        ...(typeof c.title === "string" ? { title: c.title } : {}),
        ...(typeof c.description === "string" ? { description: c.description } : {}),
        expression: c.expression,
      };
    }
    rules.push({ ...(typeof description === "string" ? { description } : {}), denyRule: rule });
  }
  return {
    ...(typeof p.displayName === "string" ? { displayName: p.displayName } : {}),
    ...(annotations ? { annotations } : {}),
    rules,
  };
}

/** Whether a deny principal identifier names the caller (`groups`: the caller's groups, transitively). */
export function denyPrincipalMatches(
  id: string,
  who: Principal,
  projectNumberOf?: (p: Principal) => string | undefined,
): boolean {
  if (id === PUBLIC) return true;
  if (who.kind === "anonymous") return false;
  let m = USER_PRINCIPAL.exec(id);
  if (m) return who.kind === "user" && who.email === m[1]!.toLowerCase();
  m = SA_PRINCIPAL.exec(id);
  if (m)
    return (
      who.kind === "serviceAccount" &&
      (who.email === m[1]!.toLowerCase() || (who.uid !== undefined && who.uid === m[1]))
    );
  m = GROUP_SET.exec(id);
  if (m) return who.groups.includes(m[1]!.toLowerCase());
  m = PROJECT_SET.exec(id);
  if (m)
    return (
      m[2] === "ServiceAccount" &&
      who.kind === "serviceAccount" &&
      (who.projectNumber ?? projectNumberOf?.(who)) === m[1]
    );
  if (who.kind === "federated") {
    const pool = poolPrincipal(id);
    return pool !== undefined && memberMatches(pool, who);
  }
  return false;
}

export interface DenyLink {
  resource: string;
  policies: readonly StoredDenyPolicy[];
}

export interface DenyRef {
  /** The deny policy's name. */
  policy: string;
  displayName?: string;
  attachedTo: string;
  rule: number;
  description?: string;
  /** The v2 permission and the deniedPermissions entry that matched it. */
  permission: string;
  matchedPermission: string;
  /** The deniedPrincipals entry that named the caller (and the group path, through a group). */
  matchedPrincipal: string;
  via?: string[];
  /** The denial condition's outcome, when the rule has one. */
  condition?: string;
}

/**
 * The first deny rule, on the resource's ancestors, that refuses `permission` (v1 name) to the
 * principal; undefined when none does. A denial condition that is true, or cannot be evaluated,
 * applies the rule (fail closed, as Google's guides say).
 */
export function findDenial(
  principal: Principal,
  permission: string,
  links: readonly DenyLink[],
  resource: ResourceAttributes,
  now: Date,
  groupPath?: (group: string) => readonly string[] | undefined,
): DenyRef | undefined {
  const v2 = v2Permission(permission);
  for (const link of links)
    for (const stored of link.policies)
      for (const [i, { description, denyRule: r }] of stored.policy.rules.entries()) {
        const matchedPermission = r.deniedPermissions.find((p) => permissionMatches(p, v2));
        if (!matchedPermission) continue;
        if (r.exceptionPermissions.some((p) => permissionMatches(p, v2))) continue;
        const matchedPrincipal = r.deniedPrincipals.find((id) => denyPrincipalMatches(id, principal));
        if (!matchedPrincipal) continue;
        if (r.exceptionPrincipals.some((id) => denyPrincipalMatches(id, principal))) continue;
        let condition: string | undefined;
        if (r.denialCondition) {
          const outcome = evaluateCondition(r.denialCondition, resource, now);
          if (!outcome.value && !outcome.error) continue;
          condition = outcome.error
            ? `${outcome.explanation.replace(/, so it counts as not met$/, "")}, so the rule applies`
            : outcome.explanation;
        }
        const group = GROUP_SET.exec(matchedPrincipal)?.[1]?.toLowerCase();
        const via = group ? groupPath?.(group) : undefined;
        return {
          policy: stored.policy.name,
          ...(stored.policy.displayName ? { displayName: stored.policy.displayName } : {}),
          attachedTo: link.resource,
          rule: i,
          ...(description ? { description } : {}),
          permission: v2,
          matchedPermission,
          matchedPrincipal,
          ...(via ? { via: [...via] } : {}),
          ...(condition ? { condition } : {}),
        };
      }
  return undefined;
}

/** One line for a 403: which deny policy and rule refused, and why. */
export function describeDenial(d: DenyRef, who: string): string {
  const via =
    (d.via?.length ?? 0) > 1 ? ` (as a member of ${d.via!.map((g) => `group:${g}`).join(" in ")})` : "";
  return `${who} is denied ${d.permission} by deny policy ${d.policy}${d.displayName ? ` ("${d.displayName}")` : ""} attached to ${d.attachedTo}, rule ${d.rule}${d.description ? ` ("${d.description}")` : ""}: deniedPermissions ${d.matchedPermission} and deniedPrincipals ${d.matchedPrincipal}${via} match, and no exception applies${d.condition ? `; ${d.condition}` : ""}. Deny policies are checked before allow policies: no role grant overrides them`;
}
