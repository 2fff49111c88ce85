/** Allow policies: shape, validation, normalization and binding edits. Pure. */
import { createHash, randomBytes } from "node:crypto";
import { conditionError } from "./condition.js";
import { parseMember } from "./members.js";

export interface Condition {
  title?: string;
  description?: string;
  expression: string;
}

export interface Binding {
  role: string;
  members: string[];
  condition?: Condition;
}

export interface Policy {
  version: number;
  bindings: Binding[];
  etag: string;
  auditConfigs?: unknown[];
}

/** Google answers an empty policy with this etag; clients send it back on the first write. */
export const EMPTY_POLICY_ETAG = "ACAB";

export function emptyPolicy(): Policy {
  return { version: 1, bindings: [], etag: EMPTY_POLICY_ETAG };
}

export function newEtag(): string {
  return randomBytes(8).toString("base64");
}

/**
 * Etags are bytes on the wire: clients may send back the standard or the URL-safe base64 form
 * (gcloud re-encodes `+/` as `-_`), so compare the decoded bytes.
 */
export function sameEtag(presented: string, current: string): boolean {
  if (presented === current) return true;
  const a = Buffer.from(presented, "base64");
  const b = Buffer.from(current, "base64");
  return a.length > 0 && a.equals(b);
}

export const MAX_MEMBERS_PER_POLICY = 1500;

/** Basic roles cannot be granted conditionally. */
const BASIC_ROLES = new Set(["roles/owner", "roles/editor", "roles/viewer"]);

export const WITHCOND = /^(.+)_withcond_([0-9a-f]{20})$/;

/** The hash that names a conditional binding in a version-1 view: `ROLE_withcond_HASH`. */
export const conditionHash = (c: Condition) =>
  createHash("sha256").update(JSON.stringify(c)).digest("hex").slice(0, 20);

/** Whether the stored policy has conditional bindings (then it is a version-3 policy). */
export const hasConditions = (p: Pick<Policy, "bindings">) => p.bindings.some((b) => b.condition);

/**
 * The check Google makes on reads and guarded writes of a conditional policy: a client that
 * names version 1 would drop or misread its conditions.
 */
export function versionConflict(kind: "Requested" | "Specified", version: number): string {
  return `${kind} policy version (${version}) cannot be less than the existing policy version (3). For more information, please refer to https://cloud.google.com/iam/docs/policies#versions.`;
}

/**
 * A version-1 view written back (`ROLE_withcond_HASH` roles): each such binding is mapped back to
 * the stored conditional binding it stands for, so the condition is kept; a hash that names no
 * stored binding is left as is (and refused as an unknown role).
 */
export function restoreWithcond(input: unknown, current: Policy | undefined): unknown {
  if (!current || input === null || typeof input !== "object") return input;
  const p = input as Record<string, unknown>;
  if (!Array.isArray(p.bindings)) return input;
  let restored = false;
  const bindings = p.bindings.map((b) => {
    const role = (b as Record<string, unknown> | null)?.role;
    const m = typeof role === "string" ? WITHCOND.exec(role) : null;
    if (!m) return b;
    const stored = current.bindings.find(
      (s) => s.condition && s.role === m[1] && conditionHash(s.condition) === m[2],
    );
    if (!stored) return b;
    restored = true;
    return { ...(b as object), role: stored.role, condition: stored.condition };
  });
  return restored ? { ...p, bindings, version: 3 } : input;
}

/**
 * Validates a client-supplied policy and returns it normalized as Google stores it: duplicate
 * role/condition bindings merged, members de-duplicated and sorted, empty bindings dropped.
 * `roleExists` decides whether a role name is known (predefined or a live custom role).
 */
export function validatePolicy(
  input: unknown,
  roleExists: (role: string) => boolean,
): { policy: Omit<Policy, "etag">; etag?: string } | string {
  if (input === null || typeof input !== "object" || Array.isArray(input)) return "policy must be an object.";
  const p = input as Record<string, unknown>;
  const version = p.version ?? 1;
  if (version !== 0 && version !== 1 && version !== 3)
    return `Invalid policy version ${JSON.stringify(version)}: must be 0, 1 or 3.`;
  if (p.etag !== undefined && typeof p.etag !== "string") return "policy.etag must be a string.";
  const raw = p.bindings ?? [];
  if (!Array.isArray(raw)) return "policy.bindings must be a list.";
  const merged = new Map<string, Binding>();
  let memberCount = 0;
  for (const [i, b] of raw.entries()) {
    if (b === null || typeof b !== "object") return `policy.bindings[${i}] must be an object.`;
    const { role, members, condition } = b as Record<string, unknown>;
    if (typeof role !== "string" || role === "") return `policy.bindings[${i}].role is required.`;
    if (!roleExists(role)) return `Role ${role} is not supported for this resource.`;
    if (!Array.isArray(members)) return `policy.bindings[${i}].members must be a list.`;
    for (const m of members) {
      const parsed = parseMember(m);
      if (typeof parsed === "string") return `policy.bindings[${i}].members: ${parsed}`;
    }
    let cond: Condition | undefined;
    if (condition !== undefined && condition !== null) {
      if (typeof condition !== "object") return `policy.bindings[${i}].condition must be an object.`;
      const c = condition as Record<string, unknown>;
      if (typeof c.expression !== "string" || c.expression.trim() === "")
        return `policy.bindings[${i}].condition.expression is required.`;
      if (version !== 3)
        return `Conditional role bindings require policy version 3 (policy.bindings[${i}] has a condition; the policy says version ${String(version)}).`;
      if (c.title !== undefined && typeof c.title !== "string")
        return `policy.bindings[${i}].condition.title must be a string.`;
      if (c.description !== undefined && typeof c.description !== "string")
        return `policy.bindings[${i}].condition.description must be a string.`;
      if (BASIC_ROLES.has(role))
        return `policy.bindings[${i}]: a binding with a condition and a basic role (${role}) is not allowed.`;
      const open = (members as string[]).find((m) => m === "allUsers" || m === "allAuthenticatedUsers");
      if (open) return `policy.bindings[${i}]: a conditional binding cannot include ${open}.`;
      const invalid = conditionError(c.expression);
      if (invalid) return `policy.bindings[${i}].condition.expression is invalid: ${invalid}.`;
      cond = {
        ...(typeof c.title === "string" ? { title: c.title } : {}),
        ...(typeof c.description === "string" ? { description: c.description } : {}),
        expression: c.expression,
      };
    }
    const key = `${role}\u0000${cond ? JSON.stringify(cond) : ""}`;
    const existing = merged.get(key) ?? { role, members: [], ...(cond ? { condition: cond } : {}) };
    existing.members.push(...(members as string[]));
    merged.set(key, existing);
  }
  const bindings: Binding[] = [];
  for (const b of merged.values()) {
    b.members = [...new Set(b.members)].sort();
    memberCount += b.members.length;
    if (b.members.length > 0) bindings.push(b);
  }
  if (memberCount > MAX_MEMBERS_PER_POLICY)
    return `The number of members in the policy (${memberCount}) is larger than the maximum allowed size ${MAX_MEMBERS_PER_POLICY}.`;
  bindings.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
  const hasConditions = bindings.some((b) => b.condition);
  const out: Omit<Policy, "etag"> = { version: hasConditions ? 3 : 1, bindings };
  if (Array.isArray(p.auditConfigs)) out.auditConfigs = p.auditConfigs;
  return p.etag === undefined ? { policy: out } : { policy: out, etag: p.etag };
}

/** Adds `member` to `role` (unconditional binding); returns a new policy object. */
export function addBinding(policy: Omit<Policy, "etag">, role: string, member: string): Omit<Policy, "etag"> {
  const bindings = policy.bindings.map((b) => ({ ...b, members: [...b.members] }));
  const target = bindings.find((b) => b.role === role && !b.condition);
  if (target) {
    if (!target.members.includes(member)) target.members.push(member);
    target.members.sort();
  } else {
    bindings.push({ role, members: [member] });
    bindings.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
  }
  return { ...policy, bindings };
}

/**
 * The policy as a client that asked for `requestedVersion` sees it. Conditional bindings are shown
 * as such only at version 3; an older client sees each as an opaque `ROLE_withcond_HASH` role (as
 * Google does), so a read-modify-write by it cannot silently turn a condition into a grant.
 */
export function policyView(policy: Policy, requestedVersion = 3): Policy {
  const conditional = policy.bindings.some((b) => b.condition);
  if (!conditional) return { ...policy, version: 1 };
  if (requestedVersion >= 3) return { ...policy, version: 3 };
  const bindings = policy.bindings.map((b) => {
    if (!b.condition) return b;
    return { role: `${b.role}_withcond_${conditionHash(b.condition)}`, members: b.members };
  });
  return { ...policy, version: 1, bindings };
}
