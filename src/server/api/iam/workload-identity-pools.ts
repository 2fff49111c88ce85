/**
 * IAM v1: workload identity pools and their OIDC providers
 * (`/v1/projects/P/locations/global/workloadIdentityPools[/POOL[/providers/PROVIDER]]`). P is the
 * project id or number; names are returned with the number, as `principal://` members and STS
 * audiences use it. Changes apply at once and answer a done Operation (gcloud never polls).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { repositories } from "../../../datastore/repositories.js";
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from "../../../domain/errors.js";
import {
  idProblem,
  mergeProvider,
  PROVIDER_FIELDS,
  poolFields,
  poolName,
  renderPool,
  renderProvider,
  SOFT_DELETE_DAYS,
  type WorkloadIdentityPool,
  type WorkloadIdentityPoolProvider,
} from "../../../domain/iam/workload-identity.js";
import type { Project } from "../../../domain/project.js";
import { childOf, projectRef, type ResourceRef } from "../../../domain/resources.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import type { DenialMessage } from "../../iam/access-control.js";
import { pageSize, pageToken } from "../params.js";

const denied: DenialMessage = (d) =>
  `Permission '${d.permission}' denied on resource (or it may not exist). ${d.reason}`;

/** Google's permission names for pools and providers, as the predefined roles grant them. */
export const POOL_PERMISSION = (verb: string) => `iam.googleapis.com/workloadIdentityPools.${verb}`;
export const PROVIDER_PERMISSION = (verb: string) =>
  `iam.googleapis.com/workloadIdentityPoolProviders.${verb}`;

const POOL_TYPE = "type.googleapis.com/google.iam.v1.WorkloadIdentityPool";
const PROVIDER_TYPE = "type.googleapis.com/google.iam.v1.WorkloadIdentityPoolProvider";

/** A project by id or by number. */
export async function resolveProject(deps: ServerDeps, idOrNumber: string): Promise<Project | undefined> {
  if (!/^\d+$/.test(idOrNumber)) return deps.repos.projects.get(idOrNumber);
  return (await deps.repos.projects.all()).find((p) => p.projectNumber === idOrNumber);
}

export const poolRef = (deps: ServerDeps, projectId: string, poolId: string): ResourceRef =>
  childOf(
    projectRef(deps.organizationId, projectId),
    `projects/${projectId}/locations/global/workloadIdentityPools/${poolId}`,
  );

/** How long a finished Operation stays readable by `GET` (polling clients such as Terraform). */
export const OPERATION_TTL_MS = 15 * 60_000;
const MAX_KEPT_OPERATIONS = 10_000;

type PoolOperation = ReturnType<typeof operation>;

function operation(resourceName: string, type: string, resource: unknown) {
  return {
    name: `${resourceName}/operations/${randomBytes(12).toString("hex")}`,
    metadata: { "@type": "type.googleapis.com/google.iam.v1.WorkloadIdentityPoolOperationMetadata" },
    done: true,
    response: { "@type": type, ...(resource as object) },
  };
}

/**
 * Finished operations, kept in memory for OPERATION_TTL_MS (one server owns the datastore): every
 * change applies synchronously, so an operation only ever reports `done` with its result.
 */
class RecentOperations {
  private readonly ops = new Map<string, { op: PoolOperation; at: number }>();
  keep(op: PoolOperation): PoolOperation {
    const now = Date.now();
    for (const [name, e] of this.ops) {
      if (now - e.at < OPERATION_TTL_MS && this.ops.size < MAX_KEPT_OPERATIONS) break;
      this.ops.delete(name);
    }
    this.ops.set(op.name, { op, at: now });
    return op;
  }
  get(name: string): PoolOperation | undefined {
    const e = this.ops.get(name);
    return e && Date.now() - e.at < OPERATION_TTL_MS ? e.op : undefined;
  }
}

/** `showDeleted=true` (Python sends `True`/`False`). */
const showDeleted = (ctx: RequestContext) =>
  ctx.url.searchParams.get("showDeleted")?.toLowerCase() === "true";

/** The update mask as dotted camelCase paths, each one of `allowed`; required for PATCH. */
function mask(ctx: RequestContext, allowed: readonly string[]): string[] {
  const raw = ctx.url.searchParams.get("updateMask");
  if (raw === null || raw.trim() === "") throw new InvalidArgument("updateMask is required.");
  const fields = raw.split(",").map((f) => f.trim());
  const bad = fields.find((f) => !allowed.includes(f));
  if (bad !== undefined)
    throw new InvalidArgument(`Invalid updateMask field '${bad}'. Allowed: ${allowed.join(", ")}.`);
  return fields;
}

function page<T extends { name: string }>(items: T[], ctx: RequestContext, fallback: number, max: number) {
  const size = pageSize(ctx, "pageSize", fallback, max);
  const token = pageToken(ctx);
  const after = token ? Buffer.from(token, "base64url").toString("utf8") : undefined;
  const sorted = items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rest = after === undefined ? sorted : sorted.filter((i) => i.name > after);
  const out = rest.slice(0, size);
  return {
    items: out,
    next: rest.length > size ? Buffer.from(out.at(-1)!.name).toString("base64url") : undefined,
  };
}

const expireTime = () => new Date(Date.now() + SOFT_DELETE_DAYS * 86400_000).toISOString();

export function registerWorkloadIdentityPools(
  router: Router,
  deps: ServerDeps,
  /** Told of every pool change, so this process's tokens of a disabled or deleted pool stop at once. */
  onPoolChange: (name: string) => void = () => {},
) {
  const { access } = deps;
  const recent = new RecentOperations();
  const done = (resourceName: string, type: string, resource: unknown) =>
    recent.keep(operation(resourceName, type, resource));
  const base = "/v1/projects/{project}/locations/{location}/workloadIdentityPools";
  const one = `${base}/{pool}`;
  const providers = `${one}/providers`;
  const provider = `${providers}/{provider}`;

  /** Authorizes `permission` on the project (or the pool), then resolves it: 404 only to those allowed. */
  async function project(ctx: RequestContext, permission: string, poolId?: string) {
    const given = ctx.params.project!;
    const found = await resolveProject(deps, given);
    const projectId = found?.projectId ?? given;
    const ref =
      poolId !== undefined ? poolRef(deps, projectId, poolId) : projectRef(deps.organizationId, projectId);
    await access.require(ctx, permission, ref, denied);
    if (ctx.params.location !== "global")
      throw new InvalidArgument(`Location '${ctx.params.location}' is not supported: use global.`);
    if (!found) throw new NotFound(`Project ${given} not found.`);
    return found;
  }

  async function loadPool(ctx: RequestContext, permission: string) {
    const p = await project(ctx, permission, ctx.params.pool!);
    const name = poolName(p.projectNumber, ctx.params.pool!);
    const pool = await deps.repos.workloadIdentityPools.get(name);
    if (!pool) throw new NotFound(`Requested entity was not found: workload identity pool ${name}.`);
    return pool;
  }

  router.add("POST", base, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const p = await project(ctx, POOL_PERMISSION("create"));
    const id = ctx.url.searchParams.get("workloadIdentityPoolId");
    const bad = idProblem("pool", id);
    if (bad) throw new InvalidArgument(bad);
    const fields = poolFields(body);
    if (typeof fields === "string") throw new InvalidArgument(fields);
    const pool: WorkloadIdentityPool = {
      ...fields,
      name: poolName(p.projectNumber, id!),
      projectId: p.projectId,
      projectNumber: p.projectNumber,
      poolId: id!,
      uid: randomUUID(),
      disabled: fields.disabled === true,
      state: "ACTIVE",
    };
    const stored = JSON.parse(JSON.stringify(pool)) as WorkloadIdentityPool;
    const inserted = await deps.store.transaction((tx) =>
      repositories(tx).workloadIdentityPools.insert(stored),
    );
    if (!inserted)
      throw new AlreadyExists(
        `Requested entity already exists: workload identity pool ${pool.name} (a deleted pool's id cannot be reused until it is purged).`,
      );
    return done(pool.name, POOL_TYPE, renderPool(stored));
  });

  router.add("GET", base, async (ctx) => {
    const p = await project(ctx, POOL_PERMISSION("list"));
    const all = (await deps.repos.workloadIdentityPools.list(p.projectNumber)).filter(
      (x) => showDeleted(ctx) || x.state === "ACTIVE",
    );
    const { items, next } = page(all, ctx, 50, 1000);
    return { workloadIdentityPools: items.map(renderPool), ...(next ? { nextPageToken: next } : {}) };
  });

  router.add("GET", one, async (ctx) => renderPool(await loadPool(ctx, POOL_PERMISSION("get"))));

  router.add("PATCH", one, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const fields = mask(ctx, ["displayName", "description", "disabled", "sessionDuration"]);
    const pool = await loadPool(ctx, POOL_PERMISSION("update"));
    if (pool.state === "DELETED")
      throw new FailedPrecondition(`Workload identity pool ${pool.name} is deleted.`);
    const changes = poolFields(body, fields);
    if (typeof changes === "string") throw new InvalidArgument(changes);
    const next = JSON.parse(JSON.stringify({ ...pool, ...changes })) as WorkloadIdentityPool;
    await deps.store.transaction((tx) => repositories(tx).workloadIdentityPools.put(next));
    onPoolChange(next.name);
    return done(next.name, POOL_TYPE, renderPool(next));
  });

  router.add("DELETE", one, async (ctx) => {
    const pool = await loadPool(ctx, POOL_PERMISSION("delete"));
    if (pool.state === "DELETED")
      throw new FailedPrecondition(`Workload identity pool ${pool.name} is already deleted.`);
    const next: WorkloadIdentityPool = { ...pool, state: "DELETED", expireTime: expireTime() };
    await deps.store.transaction((tx) => repositories(tx).workloadIdentityPools.put(next));
    onPoolChange(next.name);
    return done(next.name, POOL_TYPE, renderPool(next));
  });

  router.add("POST", `${one}:undelete`, async (ctx) => {
    await readJsonObject(ctx.req);
    const pool = await loadPool(ctx, POOL_PERMISSION("undelete"));
    if (pool.state !== "DELETED")
      throw new FailedPrecondition(`Workload identity pool ${pool.name} is not deleted.`);
    const { expireTime: _e, ...rest } = pool;
    const next: WorkloadIdentityPool = { ...rest, state: "ACTIVE" };
    await deps.store.transaction((tx) => repositories(tx).workloadIdentityPools.put(next));
    onPoolChange(next.name);
    return done(next.name, POOL_TYPE, renderPool(next));
  });

  // Providers: authorized on the pool, which must exist (deleted pools still list their providers).
  async function loadProvider(ctx: RequestContext, permission: string) {
    const pool = await loadPool(ctx, permission);
    const name = `${pool.name}/providers/${ctx.params.provider}`;
    const found = await deps.repos.workloadIdentityPoolProviders.get(name);
    if (!found)
      throw new NotFound(`Requested entity was not found: workload identity pool provider ${name}.`);
    return { pool, provider: found };
  }

  const save = async (pool: WorkloadIdentityPool, p: WorkloadIdentityPoolProvider) => {
    const clean = JSON.parse(JSON.stringify(p)) as WorkloadIdentityPoolProvider;
    await deps.store.transaction((tx) =>
      repositories(tx).workloadIdentityPoolProviders.put(pool.name, clean),
    );
    return done(clean.name, PROVIDER_TYPE, renderProvider(clean));
  };

  router.add("POST", providers, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const pool = await loadPool(ctx, PROVIDER_PERMISSION("create"));
    const id = ctx.url.searchParams.get("workloadIdentityPoolProviderId");
    const bad = idProblem("provider", id);
    if (bad) throw new InvalidArgument(bad);
    if (body.oidc === undefined)
      throw new InvalidArgument("Only OIDC providers are supported: oidc is required.");
    const merged = mergeProvider({ disabled: false, attributeMapping: {}, oidc: { issuerUri: "" } }, body, [
      "displayName",
      "description",
      "disabled",
      "attributeMapping",
      "attributeCondition",
      "oidc",
    ]);
    if (typeof merged === "string") throw new InvalidArgument(merged);
    const p: WorkloadIdentityPoolProvider = {
      ...merged,
      name: `${pool.name}/providers/${id}`,
      providerId: id!,
      state: "ACTIVE",
      etag: randomUUID(),
    };
    const clean = JSON.parse(JSON.stringify(p)) as WorkloadIdentityPoolProvider;
    const inserted = await deps.store.transaction((tx) =>
      repositories(tx).workloadIdentityPoolProviders.insert(pool.name, clean),
    );
    if (!inserted)
      throw new AlreadyExists(`Requested entity already exists: workload identity pool provider ${p.name}.`);
    return done(p.name, PROVIDER_TYPE, renderProvider(clean));
  });

  router.add("GET", providers, async (ctx) => {
    const pool = await loadPool(ctx, PROVIDER_PERMISSION("list"));
    const all = (await deps.repos.workloadIdentityPoolProviders.list(pool.name)).filter(
      (x) => showDeleted(ctx) || x.state === "ACTIVE",
    );
    const { items, next } = page(all, ctx, 50, 100);
    return {
      workloadIdentityPoolProviders: items.map(renderProvider),
      ...(next ? { nextPageToken: next } : {}),
    };
  });

  router.add("GET", provider, async (ctx) =>
    renderProvider((await loadProvider(ctx, PROVIDER_PERMISSION("get"))).provider),
  );

  router.add("PATCH", provider, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const fields = mask(ctx, PROVIDER_FIELDS);
    const { pool, provider: p } = await loadProvider(ctx, PROVIDER_PERMISSION("update"));
    if (p.state === "DELETED")
      throw new FailedPrecondition(`Workload identity pool provider ${p.name} is deleted.`);
    // Only the masked fields change: gcloud sends unmasked ones too.
    const { name, providerId, state, etag: _etag, ...current } = p;
    const merged = mergeProvider(current, body, fields);
    if (typeof merged === "string") throw new InvalidArgument(merged);
    return save(pool, { ...merged, name, providerId, state, etag: randomUUID() });
  });

  router.add("DELETE", provider, async (ctx) => {
    const { pool, provider: p } = await loadProvider(ctx, PROVIDER_PERMISSION("delete"));
    if (p.state === "DELETED")
      throw new FailedPrecondition(`Workload identity pool provider ${p.name} is already deleted.`);
    return save(pool, { ...p, state: "DELETED", expireTime: expireTime(), etag: randomUUID() });
  });

  // Operations: readable for OPERATION_TTL_MS after the change, always done.
  router.add("GET", `${one}/operations/{operation}`, async (ctx) => {
    const pool = await loadPool(ctx, POOL_PERMISSION("get"));
    const op = recent.get(`${pool.name}/operations/${ctx.params.operation}`);
    if (!op) throw new NotFound(`Requested entity was not found: operation ${ctx.params.operation}.`);
    return op;
  });

  router.add("GET", `${provider}/operations/{operation}`, async (ctx) => {
    const { provider: p } = await loadProvider(ctx, PROVIDER_PERMISSION("get"));
    const op = recent.get(`${p.name}/operations/${ctx.params.operation}`);
    if (!op) throw new NotFound(`Requested entity was not found: operation ${ctx.params.operation}.`);
    return op;
  });

  router.add("POST", `${provider}:undelete`, async (ctx) => {
    await readJsonObject(ctx.req);
    const { pool, provider: p } = await loadProvider(ctx, PROVIDER_PERMISSION("undelete"));
    if (p.state !== "DELETED")
      throw new FailedPrecondition(`Workload identity pool provider ${p.name} is not deleted.`);
    const { expireTime: _e, ...rest } = p;
    return save(pool, { ...rest, state: "ACTIVE", etag: randomUUID() });
  });
}
