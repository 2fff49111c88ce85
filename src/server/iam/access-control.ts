/**
 * Authorization for every API: the token's scopes must admit the permission, and IAM must grant
 * it on the resource through the policies of the resource and its ancestors. Policies and custom
 * roles are cached in memory, so a check costs no query once warm; every write through
 * `PolicyService` keeps this node's cache current, and the datastore's change feed (cluster-sync.ts)
 * drops entries other nodes changed.
 */
import type { Datastore } from "../../datastore/datastore.js";
import { type Repositories, repositories } from "../../datastore/repositories.js";
import { scopeAdmits, scopesAdmitting } from "../../domain/compute/scopes.js";
import { ApiError, PermissionDenied } from "../../domain/errors.js";
import type { Decision, PolicyLink } from "../../domain/iam/authorize.js";
import type { StoredDenyPolicy } from "../../domain/iam/deny.js";
import { GroupIndex } from "../../domain/iam/groups.js";
import type { Policy } from "../../domain/iam/policy.js";
import { memberOf, type Principal } from "../../domain/iam/principal.js";
import { type RoleResolver, roleResolver } from "../../domain/iam/roles.js";
import type { ResourceRef } from "../../domain/resources.js";
import type { AuthzCheck, RequestContext } from "../http/context.js";
import { decideWithInputs, type PolicySource, policyChain } from "./decide.js";
import { DecisionCache } from "./decision-cache.js";

/**
 * `enforce`: denials fail the call. `audit-only`: denials are recorded (audit log, stderr) and the
 * call goes ahead. `off`: no scope or IAM checks at all (tokens are still verified).
 */
export type EnforcementMode = "enforce" | "audit-only" | "off";

/** Builds the message of a 403 from the decision; each API words it as Google does. */
export type DenialMessage = (d: Decision) => string;

export const defaultDenial: DenialMessage = (d) =>
  `Permission '${d.permission}' denied on resource '${d.resource}' (or it may not exist). ${d.reason}`;

/** The project in a resource's chain (`projects/_` of buckets is no project), if any. */
export function projectInChain(ref: ResourceRef): string | undefined {
  const p = ref.chain.find((r) => /^projects\/[^/]+$/.test(r) && r !== "projects/_");
  return p?.slice("projects/".length);
}

export class AccessControl {
  private readonly policies = new Map<string, Policy | null>();
  private roles: RoleResolver | null = null;
  private groupIndex: GroupIndex | null = null;
  private readonly denies = new Map<string, readonly StoredDenyPolicy[]>();
  /**
   * Bumped on every committed change, so a slow read never caches a value older than a write, and
   * the remembered decisions are dropped.
   */
  private generation = 0;
  private readonly decisions = new DecisionCache();
  private readonly repos: Repositories;

  constructor(
    store: Datastore,
    readonly organizationId: string,
    readonly mode: EnforcementMode = "enforce",
    private readonly log: (line: string) => void = () => {},
  ) {
    this.repos = repositories(store);
  }

  async policyOf(resource: string): Promise<Policy | undefined> {
    const cached = this.policies.get(resource);
    if (cached !== undefined) return cached ?? undefined;
    const generation = this.generation;
    const loaded = (await this.repos.policies.get(resource)) ?? null;
    // A write that committed while we were reading wins over what we read.
    if (generation === this.generation) this.policies.set(resource, loaded);
    return loaded ?? undefined;
  }

  /** Called after a committed policy write or delete. */
  policyChanged(resource: string, policy: Policy | undefined) {
    this.generation++;
    this.policies.set(resource, policy ?? null);
  }

  customRolesChanged() {
    this.generation++;
    this.roles = null;
  }

  /** Called after a committed change to the group directory: the next decision sees it. */
  groupsChanged() {
    this.generation++;
    this.groupIndex = null;
  }

  /** Called after a committed change to the deny policies attached to `resource`. */
  denyPoliciesChanged(resource: string) {
    this.generation++;
    this.denies.delete(resource);
  }

  /** Another node changed a deny policy: drop every cached one. */
  allDenyPoliciesChanged() {
    this.generation++;
    this.denies.clear();
  }

  async denyPoliciesOf(resource: string): Promise<readonly StoredDenyPolicy[]> {
    const cached = this.denies.get(resource);
    if (cached) return cached;
    const generation = this.generation;
    const loaded = await this.repos.denyPolicies.list(resource);
    if (generation === this.generation) this.denies.set(resource, loaded);
    return loaded;
  }

  private async groups(): Promise<GroupIndex> {
    if (this.groupIndex) return this.groupIndex;
    const generation = this.generation;
    const index = new GroupIndex(await this.repos.groups.all());
    if (generation === this.generation) this.groupIndex = index;
    return index;
  }

  /** Another node changed the policy: drop it, so the next check reads the committed one. */
  forgetPolicy(resource: string) {
    this.generation++;
    this.policies.delete(resource);
  }

  /** Changes may have been missed (or the periodic re-read): drop every cached policy and role. */
  forgetAll() {
    this.generation++;
    this.policies.clear();
    this.roles = null;
    this.groupIndex = null;
    this.denies.clear();
  }

  private async roleResolver(): Promise<RoleResolver> {
    if (this.roles) return this.roles;
    const generation = this.generation;
    const resolver = roleResolver(await this.repos.customRoles.all());
    if (generation === this.generation) this.roles = resolver;
    return resolver;
  }

  /** The cached view of policies and roles that every decision of this server reads (and explanations). */
  readonly policySource: PolicySource = {
    policyOf: (resource) => this.policyOf(resource),
    roles: () => this.roleResolver(),
    groups: () => this.groups(),
    denyPolicies: (resource) => this.denyPoliciesOf(resource),
  };

  async chain(ref: ResourceRef): Promise<PolicyLink[]> {
    return policyChain(this.policySource, ref);
  }

  async decide(principal: Principal, permission: string, ref: ResourceRef): Promise<Decision> {
    const key = DecisionCache.key(principal, permission, ref);
    const generation = this.generation;
    if (key !== undefined) {
      const hit = this.decisions.get(key, generation);
      if (hit !== undefined) return hit;
    }
    const { decision, timeless } = await decideWithInputs(
      this.policySource,
      this.organizationId,
      principal,
      permission,
      ref,
    );
    // Not when a change committed while deciding: the decision may have read the state before it.
    if (key !== undefined && timeless && generation === this.generation)
      this.decisions.set(key, Object.freeze(decision), generation);
    return decision;
  }

  /**
   * Requires that the caller may exercise `permission` on `ref`; throws 403 otherwise. Records
   * the check on the request for the audit log. In `audit-only` mode a failed check is recorded
   * as `wouldDeny` and the call goes ahead; in `off` mode nothing is checked.
   */
  async require(
    ctx: RequestContext,
    permission: string,
    ref: ResourceRef,
    message: DenialMessage = defaultDenial,
  ) {
    if (this.mode === "off") return;
    const token = ctx.caller.token;
    if (token && !scopeAdmits(token.scopes, permission)) {
      const resource = ref.chain[0]!;
      const reason = `Request had insufficient authentication scopes. ${permission} needs one of: ${scopesAdmitting(permission).join(", ")}; the token has: ${token.scopes.join(" ") || "(none)"}.`;
      this.record(ctx, { permission, resource, allowed: false, denial: "scope", reason, ...inProject(ref) });
      if (this.mode === "enforce")
        throw new ApiError(403, "PERMISSION_DENIED", "insufficientPermissions", reason);
      return;
    }
    const d = await this.decide(ctx.caller.principal, permission, ref);
    if (d.allowed) {
      ctx.checks.push({ permission, resource: d.resource, allowed: true, ...inProject(ref) });
      return d;
    }
    this.record(ctx, {
      permission,
      resource: d.resource,
      allowed: false,
      denial: "iam",
      reason: d.reason,
      ...inProject(ref),
    });
    if (this.mode === "audit-only") return d;
    const err = new PermissionDenied(message(d));
    err.explanation = explanation(d);
    throw err;
  }

  /** Records a failed check on the request; in audit-only mode marks it and says so on the log. */
  private record(ctx: RequestContext, check: AuthzCheck) {
    if (this.mode === "audit-only") {
      check.wouldDeny = true;
      this.log(
        `audit-only: would deny ${memberOf(ctx.caller.principal)} ${check.permission} on ${check.resource}: ${check.reason}`,
      );
    }
    ctx.checks.push(check);
  }

  /**
   * Whether the caller may; never throws (for filtering lists). In `audit-only` mode it is always
   * true, and what enforcement would have filtered out is recorded as a `wouldDeny` check.
   */
  async allows(ctx: RequestContext, permission: string, ref: ResourceRef): Promise<boolean> {
    if (this.mode === "off") return true;
    const token = ctx.caller.token;
    const resource = ref.chain[0]!;
    if (token && !scopeAdmits(token.scopes, permission)) {
      if (this.mode === "enforce") return false;
      const reason = `the token's scopes (${token.scopes.join(" ") || "none"}) do not admit ${permission}`;
      this.record(ctx, { permission, resource, allowed: false, denial: "scope", reason, ...inProject(ref) });
      return true;
    }
    const d = await this.decide(ctx.caller.principal, permission, ref);
    if (d.allowed || this.mode === "enforce") return d.allowed;
    this.record(ctx, {
      permission,
      resource,
      allowed: false,
      denial: "iam",
      reason: d.reason,
      ...inProject(ref),
    });
    return true;
  }

  /**
   * testIamPermissions: the requested permissions the caller holds (scopes apply too). Always the
   * true answer, whatever the enforcement mode, so it predicts production.
   */
  async held(ctx: RequestContext, permissions: readonly string[], ref: ResourceRef): Promise<string[]> {
    const out: string[] = [];
    const token = ctx.caller.token;
    for (const p of permissions) {
      if (token && !scopeAdmits(token.scopes, p)) continue;
      if ((await this.decide(ctx.caller.principal, p, ref)).allowed) out.push(p);
    }
    return out;
  }
}

function inProject(ref: ResourceRef): { project?: string } {
  const project = projectInChain(ref);
  return project ? { project } : {};
}

export function explanation(d: Decision) {
  return {
    principal: d.principal,
    permission: d.permission,
    resource: d.resource,
    allowed: d.allowed,
    reason: d.reason,
    grantedBy: d.grantedBy,
    conditionalBindingsSkipped: d.conditionalSkipped,
    ...(d.deniedBy ? { deniedBy: d.deniedBy } : {}),
    bindingsConsidered: d.bindingsConsidered,
    rolesThatGrantPermission: d.rolesGranting.slice(0, 10),
  };
}
