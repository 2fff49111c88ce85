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
import type { Policy } from "../../domain/iam/policy.js";
import type { Principal } from "../../domain/iam/principal.js";
import type { RoleResolver } from "../../domain/iam/roles.js";
import { organizationResource, projectResource, type ResourceRef } from "../../domain/resources.js";

/** Where policies and roles come from: the server's cache, or the datastore read directly. */
export interface PolicySource {
  policyOf(resource: string): Promise<Policy | undefined>;
  roles(): Promise<RoleResolver>;
}

const CONVENIENCE_MEMBER = /^project(?:Owner|Editor|Viewer):(.+)$/;

/** The resource's policy chain, closest first. */
export async function policyChain(src: PolicySource, ref: ResourceRef): Promise<PolicyLink[]> {
  return Promise.all(ref.chain.map(async (resource) => ({ resource, policy: await src.policyOf(resource) })));
}

/** Everything `authorize()` needs to decide on `ref`: its chain and the evaluation context. */
export async function evaluationInputs(
  src: PolicySource,
  organizationId: string,
  ref: ResourceRef,
): Promise<{ chain: PolicyLink[]; ctx: AuthorizeContext }> {
  const chain = await policyChain(src, ref);
  // Cloud Storage's projectOwner:/projectEditor:/projectViewer: members need those projects' chains.
  const projectChains = new Map<string, PolicyLink[]>();
  for (const link of chain)
    for (const b of link.policy?.bindings ?? [])
      for (const m of b.members) {
        const id = CONVENIENCE_MEMBER.exec(m)?.[1];
        if (id && !projectChains.has(id))
          projectChains.set(
            id,
            await policyChain(src, { chain: [projectResource(id), organizationResource(organizationId)] }),
          );
      }
  return { chain, ctx: { roles: await src.roles(), projectChain: (id) => projectChains.get(id) } };
}

/** Does `principal` hold `permission` on `ref`? IAM only: scopes are the caller's business. */
export async function decide(
  src: PolicySource,
  organizationId: string,
  principal: Principal,
  permission: string,
  ref: ResourceRef,
): Promise<Decision> {
  const { chain, ctx } = await evaluationInputs(src, organizationId, ref);
  return authorize(principal, permission, chain, ctx);
}
