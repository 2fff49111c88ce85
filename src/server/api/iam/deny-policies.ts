/**
 * IAM v2 deny policies: `/v2/policies/{attachment}/denypolicies[/{id}]`, as the real
 * `gcloud iam policies create|get|list|update|delete` calls them. gcloud puts the attachment point
 * in one path segment with its slashes encoded twice (`cloudresourcemanager.googleapis.com%252Fprojects%252FP`);
 * the router decodes a segment once, and the remaining `%2F` (or a client's single-encoded one,
 * decoded to `/`) is the attachment point's slash. Changes apply at once and answer a finished
 * Operation (gcloud never polls). Permissions: `iam.denypolicies.*` on the attachment point
 * (roles/iam.denyAdmin, roles/iam.denyReviewer; roles/owner has none of them, as on Google).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { repositories } from "../../../datastore/repositories.js";
import { Aborted, AlreadyExists, InvalidArgument, NotFound } from "../../../domain/errors.js";
import {
  type DenyPolicy,
  POLICY_ID,
  type StoredDenyPolicy,
  v2Permission,
  validateDenyPolicy,
} from "../../../domain/iam/deny.js";
import { organizationRef, projectRef, type ResourceRef } from "../../../domain/resources.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";

export const MAX_DENY_POLICIES_PER_RESOURCE = 500;
const MAX_REMEMBERED_OPERATIONS = 1000;
const BASE = "/v2/policies/{attachment}/denypolicies";

interface Attachment {
  /** `projects/ID` or `organizations/N`: where the policy applies. */
  attachedTo: string;
  ref: ResourceRef;
  /** The canonical attachment point, numeric, as in names: `cloudresourcemanager.googleapis.com/projects/NUMBER`. */
  point: string;
}

export function registerDenyPolicies(router: Router, deps: ServerDeps) {
  async function attachment(ctx: RequestContext): Promise<Attachment> {
    const raw = ctx.params.attachment!.replace(/%2F/gi, "/");
    const m = /^cloudresourcemanager\.googleapis\.com\/(projects|organizations|folders)\/([^/]+)$/.exec(raw);
    if (!m)
      throw new InvalidArgument(
        `Invalid attachment point '${raw}': expected cloudresourcemanager.googleapis.com/projects/PROJECT (ID or number) or cloudresourcemanager.googleapis.com/organizations/ORG, URL-encoded.`,
      );
    const [, kind, id] = m as unknown as [string, string, string];
    if (kind === "folders") throw new NotFound(`Folder ${id} not found: Warrant has no folders.`);
    if (kind === "organizations") {
      if (id !== deps.organizationId) throw new NotFound(`Organization ${id} not found.`);
      return {
        attachedTo: `organizations/${id}`,
        ref: organizationRef(id),
        point: `cloudresourcemanager.googleapis.com/organizations/${id}`,
      };
    }
    const project = /^\d+$/.test(id)
      ? (await deps.repos.projects.all()).find((p) => p.projectNumber === id)
      : await deps.repos.projects.get(id);
    if (!project) throw new NotFound(`Project ${id} not found.`);
    return {
      attachedTo: `projects/${project.projectId}`,
      ref: projectRef(deps.organizationId, project.projectId),
      point: `cloudresourcemanager.googleapis.com/projects/${project.projectNumber}`,
    };
  }

  const policyName = (a: Attachment, id: string) =>
    `policies/${a.point.replaceAll("/", "%2F")}/denypolicies/${id}`;

  async function require(ctx: RequestContext, verb: string, a: Attachment) {
    const permission = `iam.denypolicies.${verb}`;
    await deps.access.require(
      ctx,
      permission,
      a.ref,
      (d) => `Permission ${v2Permission(permission)} denied on resource ${a.point}. ${d.reason}`,
    );
  }

  function policyIdParam(ctx: RequestContext): string {
    const id = ctx.params.policy!;
    if (!POLICY_ID.test(id)) throw new NotFound(`Deny policy ${id} not found.`);
    return id;
  }

  /**
   * Finished operations, newest last, kept in memory (bounded) so that a client that polls —
   * gcloud does not — finds them at either path Google documents.
   */
  const operations = new Map<string, { attachedTo: string; op: Record<string, unknown> }>();
  function remember(attachedTo: string, id: string, op: Record<string, unknown>) {
    operations.set(id, { attachedTo, op });
    if (operations.size > MAX_REMEMBERED_OPERATIONS) operations.delete(operations.keys().next().value!);
  }

  function operation(a: Attachment, policy: DenyPolicy, extra: Record<string, unknown> = {}) {
    const id = randomBytes(8).toString("hex");
    const op = {
      name: `${policy.name}/operations/${id}`,
      metadata: {
        "@type": "type.googleapis.com/google.iam.v2.PolicyOperationMetadata",
        createTime: new Date().toISOString(),
      },
      done: true,
      response: { "@type": "type.googleapis.com/google.iam.v2.Policy", ...policy, ...extra },
    };
    remember(a.attachedTo, id, op);
    return op;
  }

  async function getOperation(ctx: RequestContext) {
    const a = await attachment(ctx);
    await require(ctx, "get", a);
    const found = operations.get(ctx.params.operation!);
    if (!found || found.attachedTo !== a.attachedTo)
      throw new NotFound(
        `Operation ${ctx.params.operation} not found (operations are kept in memory since the server started).`,
      );
    return found.op;
  }
  router.add("GET", `${BASE}/{policy}/operations/{operation}`, getOperation);
  router.add("GET", "/v2/policies/{attachment}/operations/{operation}", getOperation);

  const newEtag = () => Buffer.from(randomBytes(12)).toString("base64");

  router.add("POST", BASE, async (ctx) => {
    const a = await attachment(ctx);
    const body = await readJsonObject(ctx.req);
    await require(ctx, "create", a);
    const id = ctx.url.searchParams.get("policyId") ?? "";
    if (!POLICY_ID.test(id))
      throw new InvalidArgument(
        `Invalid policyId '${id}': 3 to 63 characters, lower-case letters, digits, '.' and '-', starting with a letter.`,
      );
    const valid = validateDenyPolicy(body);
    if (typeof valid === "string") throw new InvalidArgument(valid);
    const now = new Date().toISOString();
    const policy: DenyPolicy = {
      name: policyName(a, id),
      uid: randomUUID(),
      kind: "DenyPolicy",
      ...valid,
      etag: newEtag(),
      createTime: now,
      updateTime: now,
    };
    await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      if ((await r.denyPolicies.list(a.attachedTo)).length >= MAX_DENY_POLICIES_PER_RESOURCE)
        throw new InvalidArgument(
          `${a.point} already has ${MAX_DENY_POLICIES_PER_RESOURCE} deny policies, the most it may have.`,
        );
      const stored: StoredDenyPolicy = { attachedTo: a.attachedTo, policyId: id, policy };
      if (!(await r.denyPolicies.insert(stored)))
        throw new AlreadyExists(`Deny policy ${policy.name} already exists.`);
    });
    deps.access.denyPoliciesChanged(a.attachedTo);
    return operation(a, policy);
  });

  router.add("GET", BASE, async (ctx) => {
    const a = await attachment(ctx);
    await require(ctx, "list", a);
    const all = await deps.repos.denyPolicies.list(a.attachedTo);
    // As Google: the list carries each policy's metadata, not its rules.
    const policies = all.map(({ policy: { rules: _r, ...meta } }) => meta);
    return policies.length ? { policies } : {};
  });

  router.add("GET", `${BASE}/{policy}`, async (ctx) => {
    const a = await attachment(ctx);
    await require(ctx, "get", a);
    const id = policyIdParam(ctx);
    const stored = await deps.repos.denyPolicies.get(a.attachedTo, id);
    if (!stored) throw new NotFound(`Deny policy ${policyName(a, id)} not found.`);
    return stored.policy;
  });

  router.add("PUT", `${BASE}/{policy}`, async (ctx) => {
    const a = await attachment(ctx);
    const body = await readJsonObject(ctx.req);
    await require(ctx, "update", a);
    const id = policyIdParam(ctx);
    const valid = validateDenyPolicy(body);
    if (typeof valid === "string") throw new InvalidArgument(valid);
    const etag = typeof body.etag === "string" ? body.etag : undefined;
    const updated = await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      const current = await r.denyPolicies.get(a.attachedTo, id);
      if (!current) throw new NotFound(`Deny policy ${policyName(a, id)} not found.`);
      if (etag !== undefined && etag !== current.policy.etag)
        throw new Aborted("The etag does not match the deny policy's current etag: read it again and retry.");
      const policy: DenyPolicy = {
        name: current.policy.name,
        uid: current.policy.uid,
        kind: "DenyPolicy",
        ...valid,
        etag: newEtag(),
        createTime: current.policy.createTime,
        updateTime: new Date().toISOString(),
      };
      await r.denyPolicies.put({ ...current, policy });
      return policy;
    });
    deps.access.denyPoliciesChanged(a.attachedTo);
    return operation(a, updated);
  });

  router.add("DELETE", `${BASE}/{policy}`, async (ctx) => {
    const a = await attachment(ctx);
    await require(ctx, "delete", a);
    const id = policyIdParam(ctx);
    const etag = ctx.url.searchParams.get("etag");
    const removed = await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      const current = await r.denyPolicies.get(a.attachedTo, id);
      if (!current) throw new NotFound(`Deny policy ${policyName(a, id)} not found.`);
      if (etag !== null && etag !== "" && etag !== current.policy.etag)
        throw new Aborted("The etag does not match the deny policy's current etag: read it again and retry.");
      await r.denyPolicies.delete(a.attachedTo, id);
      return current.policy;
    });
    deps.access.denyPoliciesChanged(a.attachedTo);
    return operation(a, removed, { deleteTime: new Date().toISOString() });
  });
}
