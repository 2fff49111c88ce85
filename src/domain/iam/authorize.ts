/**
 * IAM evaluation: does `principal` hold `permission` on a resource, given the allow policies along
 * its ancestry? Pure and synchronous: the caller supplies the policy chain (resource first, then
 * its ancestors) and the role resolver, so the hot path never touches a database.
 *
 * Every decision carries its reason: the bindings that granted the permission, or why none did
 * (including conditional bindings whose condition was not met, with the attribute values it saw),
 * the group through which a member matched, and which predefined roles would grant it.
 */
import { evaluateCondition, resourceAttributes } from "./condition.js";
import { type DenyLink, type DenyRef, describeDenial, findDenial } from "./deny.js";
import {
  CONVENIENCE_ROLES,
  memberMatches,
  type ParsedMember,
  parseMember,
  unboundMember,
} from "./members.js";
import type { Condition, Policy } from "./policy.js";
import { candidatePositions, indexPolicy } from "./policy-index.js";
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
  /** `request.time` of conditions (default: now). */
  now?: Date;
  /**
   * For each group the principal belongs to (transitively), the chain of groups from the one it
   * is a direct member of to that group: how a `group:` member matched.
   */
  groupPath?: (group: string) => readonly string[] | undefined;
  /** Deny policies of the resource's ancestors, closest first: checked before the allow policies. */
  deny?: readonly DenyLink[];
}

export interface BindingRef {
  resource: string;
  role: string;
  member: string;
  /** When the member is a group: the groups through which the principal belongs to it, innermost first. */
  via?: string[];
  condition?: Condition;
}

/** A conditional binding that would grant the permission, but whose condition was not met. */
export interface ConditionalRef extends BindingRef {
  condition: Condition;
  /** Why: the condition's value (or error) and the attribute values it saw. */
  explanation: string;
  error?: string;
}

export interface Decision {
  allowed: boolean;
  principal: string;
  permission: string;
  resource: string;
  /** Bindings that grant the permission to the principal. */
  grantedBy: BindingRef[];
  /** Bindings that would have granted it but whose condition was not met (false or an error). */
  conditionalSkipped: ConditionalRef[];
  /** The deny rule that refused the permission, whatever the allow policies grant. */
  deniedBy?: DenyRef;
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
  const conditionalSkipped: ConditionalRef[] = [];
  let considered = 0;
  const resource = chain[0]?.resource ?? "";
  const attributes = resourceAttributes(resource);
  const now = ctx.now ?? new Date();
  for (const link of chain) {
    if (!link.policy) continue;
    for (const indexed of indexPolicy(link.policy).bindings) {
      const binding = indexed.binding;
      considered++;
      const perms = ctx.roles.permissions(binding.role);
      if (!perms?.has(permission)) continue;
      // The first member (in policy order) that names the caller: only those its index points at.
      let at = -1;
      for (const i of candidatePositions(indexed, principal))
        if (holdsParsed(principal, indexed.parsed[i]!, ctx)) {
          at = i;
          break;
        }
      if (at < 0) continue;
      const member = binding.members[at]!;
      // It matched the caller's live account, so it is named as the caller is.
      const ref: BindingRef = { resource: link.resource, role: binding.role, member: unboundMember(member) };
      const parsed = indexed.parsed[at]!;
      const via =
        typeof parsed !== "string" && parsed.type === "group" ? ctx.groupPath?.(parsed.email) : undefined;
      if (via) ref.via = [...via];
      if (!binding.condition) {
        grantedBy.push(ref);
        continue;
      }
      // Conditions inherit: evaluated with the attributes of the resource actually accessed.
      const outcome = evaluateCondition(binding.condition, attributes, now);
      if (outcome.value) grantedBy.push({ ...ref, condition: binding.condition });
      else
        conditionalSkipped.push({
          ...ref,
          condition: binding.condition,
          explanation: outcome.explanation,
          ...(outcome.error ? { error: outcome.error } : {}),
        });
    }
  }
  const who = memberOf(principal);
  const deniedBy = ctx.deny?.length
    ? findDenial(principal, permission, ctx.deny, attributes, now, ctx.groupPath)
    : undefined;
  if (deniedBy)
    return {
      allowed: false,
      principal: who,
      permission,
      resource,
      grantedBy,
      conditionalSkipped,
      deniedBy,
      bindingsConsidered: considered,
      rolesGranting: [],
      reason: `${describeDenial(deniedBy, who)}${grantedBy.length ? ` (the allow policies would grant it: ${grantedBy.map(describeGrant).join("; ")})` : ""}.`,
    };
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
      ? `granted by ${grantedBy.map(describeGrant).join("; ")}`
      : denialReason(who, permission, resource, conditionalSkipped, advice),
  };
}

/** `roles/x to group:g@d (through group:t@d) on projects/p (condition "title" met)`. */
export function describeGrant(g: BindingRef): string {
  const via =
    (g.via?.length ?? 0) > 1 ? ` (as a member of ${g.via!.map((v) => `group:${v}`).join(" in ")})` : "";
  const cond = g.condition
    ? ` (condition ${g.condition.title ? `"${g.condition.title}"` : `(${g.condition.expression})`} met)`
    : "";
  return `${g.role} to ${g.member}${via} on ${g.resource}${cond}`;
}

function denialReason(
  who: string,
  permission: string,
  resource: string,
  skipped: ConditionalRef[],
  advice: string[],
): string {
  let s = `${who} does not have ${permission} on ${resource}: no binding on the resource or its ancestors grants it`;
  if (skipped.length > 0)
    s += ` (conditional binding${skipped.length > 1 ? "s" : ""} not applied: ${skipped.map((b) => `${b.role} to ${b.member} on ${b.resource}: ${b.explanation}`).join("; ")})`;
  if (advice.length > 0) s += `. Roles that grant it: ${advice.slice(0, 3).join(", ")}`;
  return `${s}.`;
}

/** Whether a binding's `member` includes the principal (directly, through a group, or as a convenience member). */
export function holds(principal: Principal, member: string, ctx: AuthorizeContext): boolean {
  return holdsParsed(principal, parseMember(member), ctx);
}

function holdsParsed(principal: Principal, parsed: ParsedMember | string, ctx: AuthorizeContext): boolean {
  if (typeof parsed === "string") return false;
  if (parsed.type !== "convenience") return memberMatches(parsed, principal);
  // projectOwner:P etc. stand for whoever holds the basic role on project P (unconditionally).
  const chain = ctx.projectChain?.(parsed.projectId);
  if (!chain) return false;
  const basicRole = CONVENIENCE_ROLES[parsed.kind];
  return chain.some(
    (link) =>
      link.policy !== undefined &&
      indexPolicy(link.policy).bindings.some(
        (b) =>
          b.binding.role === basicRole &&
          !b.binding.condition &&
          candidatePositions(b, principal).some((i) => {
            const p = b.parsed[i]!;
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
