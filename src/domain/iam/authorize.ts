/**
 * IAM evaluation: does `principal` hold `permission` on a resource, given the allow policies along
 * its ancestry? Pure and synchronous: the caller supplies the policy chain (resource first, then
 * its ancestors) and the role resolver, so the hot path never touches a database.
 *
 * Every decision carries its reason: the bindings that granted the permission, or why none did
 * (including conditional bindings skipped because IAM Conditions are not evaluated yet), and
 * which predefined roles would grant it.
 */
import { CONVENIENCE_ROLES, memberMatches, parseMember, unboundMember } from "./members.js";
import type { Policy } from "./policy.js";
import { memberOf, type Principal } from "./principal.js";
import { type RoleResolver, rolesGranting } from "./roles.js";

export interface PolicyLink {
  /** Full resource name, e.g. `projects/demo-project` or `projects/demo-project/serviceAccounts/a@b`. */
  resource: string;
  policy: Policy | undefined;
}

export interface AuthorizeContext {
  roles: RoleResolver;
  /** The policy chain of a project, for Cloud Storage's projectOwner:/projectEditor:/projectViewer: members. */
  projectChain?: (projectId: string) => readonly PolicyLink[] | undefined;
}

export interface BindingRef {
  resource: string;
  role: string;
  member: string;
}

export interface Decision {
  allowed: boolean;
  principal: string;
  permission: string;
  resource: string;
  /** Bindings that grant the permission to the principal. */
  grantedBy: BindingRef[];
  /** Bindings that would have granted it but carry a condition, which Warrant does not evaluate yet. */
  conditionalSkipped: BindingRef[];
  /** How many bindings were looked at along the chain. */
  bindingsConsidered: number;
  /** Predefined roles that contain the permission (advice for a denial). */
  rolesGranting: string[];
  reason: string;
}

export function authorize(
  principal: Principal,
  permission: string,
  chain: readonly PolicyLink[],
  ctx: AuthorizeContext,
): Decision {
  const grantedBy: BindingRef[] = [];
  const conditionalSkipped: BindingRef[] = [];
  let considered = 0;
  for (const link of chain) {
    for (const binding of link.policy?.bindings ?? []) {
      considered++;
      const perms = ctx.roles.permissions(binding.role);
      if (!perms?.has(permission)) continue;
      const member = binding.members.find((m) => holds(principal, m, ctx));
      if (!member) continue;
      // It matched the caller's live account, so it is named as the caller is.
      const ref = { resource: link.resource, role: binding.role, member: unboundMember(member) };
      (binding.condition ? conditionalSkipped : grantedBy).push(ref);
    }
  }
  const resource = chain[0]?.resource ?? "";
  const who = memberOf(principal);
  const allowed = grantedBy.length > 0;
  const advice = allowed ? [] : rolesGranting(permission);
  return {
    allowed,
    principal: who,
    permission,
    resource,
    grantedBy,
    conditionalSkipped,
    bindingsConsidered: considered,
    rolesGranting: advice,
    reason: allowed
      ? `granted by ${grantedBy.map((g) => `${g.role} to ${g.member} on ${g.resource}`).join("; ")}`
      : denialReason(who, permission, resource, conditionalSkipped, advice),
  };
}

function denialReason(
  who: string,
  permission: string,
  resource: string,
  skipped: BindingRef[],
  advice: string[],
): string {
  let s = `${who} does not have ${permission} on ${resource}: no binding on the resource or its ancestors grants it`;
  if (skipped.length > 0)
    s += ` (conditional bindings ${skipped.map((b) => `${b.role} on ${b.resource}`).join(", ")} were not applied: IAM Conditions are not supported yet, so a conditional binding grants nothing)`;
  if (advice.length > 0) s += `. Roles that grant it: ${advice.slice(0, 3).join(", ")}`;
  return `${s}.`;
}

function holds(principal: Principal, member: string, ctx: AuthorizeContext): boolean {
  const parsed = parseMember(member);
  if (typeof parsed === "string") return false;
  if (parsed.type !== "convenience") return memberMatches(parsed, principal);
  // projectOwner:P etc. stand for whoever holds the basic role on project P (unconditionally).
  const chain = ctx.projectChain?.(parsed.projectId);
  if (!chain) return false;
  const basicRole = CONVENIENCE_ROLES[parsed.kind];
  return chain.some((link) =>
    (link.policy?.bindings ?? []).some(
      (b) =>
        b.role === basicRole &&
        !b.condition &&
        b.members.some((m) => {
          const p = parseMember(m);
          return typeof p !== "string" && memberMatches(p, principal);
        }),
    ),
  );
}

/** The subset of `permissions` the principal holds: testIamPermissions. */
export function heldPermissions(
  principal: Principal,
  permissions: readonly string[],
  chain: readonly PolicyLink[],
  ctx: AuthorizeContext,
): string[] {
  return permissions.filter((p) => authorize(principal, p, chain, ctx).allowed);
}
