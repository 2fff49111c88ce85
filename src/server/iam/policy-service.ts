/**
 * getIamPolicy / setIamPolicy / testIamPermissions for any resource, with optimistic concurrency:
 * the etag check and the write happen in one transaction, so concurrent writers never lose an
 * update — the loser gets 409 ABORTED and retries with the fresh policy.
 */
import type { Datastore } from "../../datastore/datastore.js";
import { repositories } from "../../datastore/repositories.js";
import { Aborted, InvalidArgument } from "../../domain/errors.js";
import {
  emptyPolicy,
  hasConditions,
  newEtag,
  type Policy,
  policyView,
  restoreWithcond,
  sameEtag,
  validatePolicy,
  versionConflict,
} from "../../domain/iam/policy.js";
import { parseCustomRoleName, predefinedRole } from "../../domain/iam/roles.js";
import type { ResourceRef } from "../../domain/resources.js";
import type { RequestContext } from "../http/context.js";
import type { AccessControl, DenialMessage } from "./access-control.js";
import { bindPolicyMembers, displayPolicy } from "./account-members.js";

export interface PolicyPermissions {
  get: string;
  set: string;
}

export class PolicyService {
  constructor(
    private readonly store: Datastore,
    private readonly access: AccessControl,
  ) {}

  async get(
    ctx: RequestContext,
    ref: ResourceRef,
    permission: string,
    denial?: DenialMessage,
    body?: Record<string, unknown>,
  ) {
    const requested = requestedVersion(ctx, body);
    if (requested !== undefined && ![0, 1, 3].includes(requested))
      throw new InvalidArgument(`Invalid requested policy version ${requested}: must be 0, 1 or 3.`);
    await this.access.require(ctx, permission, ref, denial);
    const policy = (await this.access.policyOf(ref.chain[0]!)) ?? emptyPolicy();
    // A client that names version 1 explicitly cannot read a conditional policy (it would lose
    // the conditions); one that names none sees the opaque `ROLE_withcond_HASH` view.
    if (requested === 1 && hasConditions(policy)) throw new InvalidArgument(versionConflict("Requested", 1));
    return policyView(await displayPolicy(policy, repositories(this.store)), requested ?? 1);
  }

  async set(
    ctx: RequestContext,
    ref: ResourceRef,
    permission: string,
    body: Record<string, unknown>,
    denial?: DenialMessage,
  ): Promise<Policy> {
    if (body.policy === undefined) throw new InvalidArgument("policy is required.");
    await this.access.require(ctx, permission, ref, denial);
    const resource = ref.chain[0]!;
    const projectId = /^projects\/([^/]+)/.exec(resource)?.[1];
    const repos = repositories(this.store);
    const current = await this.access.policyOf(resource);
    const input = body.policy as Record<string, unknown> | null;
    // A guarded write (with an etag) of a version below 3 over a conditional policy would drop
    // its conditions: refused as Google refuses it. A blind write replaces the policy.
    if (
      input !== null &&
      typeof input === "object" &&
      input.etag !== undefined &&
      input.version !== 3 &&
      current &&
      hasConditions(current)
    )
      throw new InvalidArgument(versionConflict("Specified", Number(input.version ?? 1)));
    const validated = validatePolicy(restoreWithcond(body.policy, current), (role) => {
      if (predefinedRole(role)) return true;
      const custom = parseCustomRoleName(role);
      return custom !== null && custom.projectId === projectId;
    });
    if (typeof validated === "string") throw new InvalidArgument(validated);
    const customRoles = validated.policy.bindings.filter((b) => parseCustomRoleName(b.role));
    for (const b of customRoles) {
      const role = await repos.customRoles.get(b.role);
      if (!role || role.deleted) throw new InvalidArgument(`Role ${b.role} does not exist or is deleted.`);
    }
    const written = await this.store.transaction(async (tx) => {
      const r = repositories(tx);
      const current = await r.policies.get(resource);
      const currentEtag = current?.etag ?? emptyPolicy().etag;
      if (validated.etag !== undefined && !sameEtag(validated.etag, currentEtag))
        throw new Aborted(
          "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff. The request's ETag does not match the current policy's.",
        );
      const bound = await bindPolicyMembers(validated.policy, current, r);
      const next: Policy = { ...bound, etag: newEtag() };
      await r.policies.put(resource, next);
      return next;
    });
    this.access.policyChanged(resource, written);
    return policyView(await displayPolicy(written, repos));
  }

  /** Removes a deleted resource's policy. */
  async drop(resource: string) {
    await this.store.delete("policy", resource);
    this.access.policyChanged(resource, undefined);
  }

  async test(ctx: RequestContext, ref: ResourceRef, body: Record<string, unknown>) {
    const perms = body.permissions ?? [];
    if (!Array.isArray(perms) || perms.some((p) => typeof p !== "string"))
      throw new InvalidArgument("permissions must be a list of permission names.");
    if (perms.length > 100)
      throw new InvalidArgument("permissions: at most 100 permissions can be tested at once.");
    const held = await this.access.held(ctx, perms as string[], ref);
    return held.length ? { permissions: held } : {};
  }
}

function requestedVersion(ctx: RequestContext, body?: Record<string, unknown>): number | undefined {
  const fromQuery = ctx.url.searchParams.get("options.requestedPolicyVersion");
  if (fromQuery !== null) return Number(fromQuery);
  const options = body?.options;
  if (options && typeof options === "object") {
    const v = (options as Record<string, unknown>).requestedPolicyVersion;
    if (v !== undefined) return typeof v === "number" ? v : Number(v);
  }
  return undefined;
}
