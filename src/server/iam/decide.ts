/**
 * The one IAM decision path, shared by the server (`AccessControl`, over its policy cache) and by
 * offline tools (`warrant iam explain`, over a read-only view of the datastore): gather the policy
 * chain of the resource, the chains of the projects named by Cloud Storage's convenience members
 * (`projectOwner:P`, `projectEditor:P`, `projectViewer:P`) and the role resolver, then run the pure
 * `authorize()`.
 */
import {
  type AuthorizeContext,
  authorize,
  type Decision,
  type PolicyLink,
} from "../../domain/iam/authorize.js";
import type { DenyLink, StoredDenyPolicy } from "../../domain/iam/deny.js";
import type { GroupIndex } from "../../domain/iam/groups.js";
import type { Policy } from "../../domain/iam/policy.js";
import { indexPolicy } from "../../domain/iam/policy-index.js";
import type { Principal } from "../../domain/iam/principal.js";
import type { RoleResolver } from "../../domain/iam/roles.js";
import { organizationResource, projectResource, type ResourceRef } from "../../domain/resources.js";

/** Where policies and roles come from: the server's cache, or the datastore read directly. */
export interface PolicySource {
  policyOf(resource: string): Promise<Policy | undefined>;
  roles(): Promise<RoleResolver>;
  /** The group directory (absent: no groups). */
  groups?(): Promise<GroupIndex>;
  /** The deny policies attached to a resource (absent: none). */
  denyPolicies?(resource: string): Promise<readonly StoredDenyPolicy[]>;
}

/** The resource's policy chain, closest first. */
export async function policyChain(src: PolicySource, ref: ResourceRef): Promise<PolicyLink[]> {
  return Promise.all(ref.chain.map(async (resource) => ({ resource, policy: await src.policyOf(resource) })));
}

/**
 * Everything `authorize()` needs to decide on `ref` for `principal`: its chain, the evaluation
 * context and the principal with the groups it belongs to (transitively) filled in.
 */
export async function evaluationInputs(
  src: PolicySource,
  organizationId: string,
  ref: ResourceRef,
  principal: Principal,
): Promise<{ chain: PolicyLink[]; ctx: AuthorizeContext; principal: Principal }> {
  const chain = await policyChain(src, ref);
  // Cloud Storage's projectOwner:/projectEditor:/projectViewer: members need those projects' chains.
  const projectChains = new Map<string, PolicyLink[]>();
  for (const link of chain)
    if (link.policy)
      for (const id of indexPolicy(link.policy).convenienceProjects)
        if (!projectChains.has(id))
          projectChains.set(
            id,
            await policyChain(src, { chain: [projectResource(id), organizationResource(organizationId)] }),
          );
  const ctx: AuthorizeContext = { roles: await src.roles(), projectChain: (id) => projectChains.get(id) };
  let who = principal;
  if (src.groups && principal.kind !== "anonymous") {
    const membership = (await src.groups()).membership(principal);
    if (membership.size > 0) {
      who = { ...principal, groups: [...new Set([...principal.groups, ...membership.keys()])] };
      ctx.groupPath = (g) => membership.get(g);
    }
  }
  if (src.denyPolicies) {
    const deny: DenyLink[] = [];
    // Attachment points: projects and the organization.
    for (const resource of ref.chain)
      if (/^(projects\/[^/]+|organizations\/[^/]+)$/.test(resource) && resource !== "projects/_") {
        const policies = await src.denyPolicies(resource);
        if (policies.length > 0) deny.push({ resource, policies });
      }
    if (deny.length > 0) ctx.deny = deny;
  }
  return { chain, ctx, principal: who };
}

/** Does `principal` hold `permission` on `ref`? IAM only: scopes are the caller's business. */
export async function decide(
  src: PolicySource,
  organizationId: string,
  principal: Principal,
  permission: string,
  ref: ResourceRef,
): Promise<Decision> {
  return (await decideWithInputs(src, organizationId, principal, permission, ref)).decision;
}

/**
 * `decide`, and whether the decision is timeless: it evaluated no condition and no deny policy
 * applied, so it holds for as long as the policies, roles and groups it read do not change.
 */
export async function decideWithInputs(
  src: PolicySource,
  organizationId: string,
  principal: Principal,
  permission: string,
  ref: ResourceRef,
): Promise<{ decision: Decision; timeless: boolean }> {
  const inputs = await evaluationInputs(src, organizationId, ref, principal);
  const decision = authorize(inputs.principal, permission, inputs.chain, inputs.ctx);
  const timeless =
    inputs.ctx.deny === undefined &&
    decision.conditionalSkipped.length === 0 &&
    decision.grantedBy.every((g) => g.condition === undefined);
  return { decision, timeless };
}
