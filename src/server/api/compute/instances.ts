/** Compute Engine v1: zones, instances and (already finished) zone operations. */

import { repositories } from "../../../datastore/repositories.js";
import {
  type AttachedServiceAccount,
  computeTimestamp,
  type Instance,
  instanceHostname,
  nextNetworkIP,
  type Operation,
  renderInstance,
  renderOperation,
} from "../../../domain/compute/instance.js";
import { normalizeScope, scopeProblem } from "../../../domain/compute/scopes.js";
import { DEFAULT_MACHINE_TYPE, MACHINE_TYPES, regionOf, ZONES } from "../../../domain/compute/zones.js";
import { ApiError, InvalidArgument, NotFound } from "../../../domain/errors.js";
import { memberOf } from "../../../domain/iam/principal.js";
import { newComputeId, randomDigits, resourceNameProblem } from "../../../domain/ids.js";
import type { Project } from "../../../domain/project.js";
import { labelsProblem } from "../../../domain/project.js";
import { childOf, instanceResource, projectRef, serviceAccountResource } from "../../../domain/resources.js";
import { defaultComputeServiceAccountEmail } from "../../../domain/service-account.js";
import { show } from "../../../domain/show.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { Handler, RequestContext } from "../../http/context.js";
import { jsonWithItems, RenderedJson } from "../../http/json-text.js";
import { type Method, Router } from "../../http/router.js";
import type { DenialMessage } from "../../iam/access-control.js";
import { pageSize, pageToken } from "../params.js";
import { batchHandler } from "./batch.js";

const API = "/compute/v1/";

const notFound = (resource: string) => new NotFound(`The resource '${resource}' was not found`);

export function registerCompute(router: Router, deps: ServerDeps) {
  const { access } = deps;
  const api = (ctx: RequestContext) => `${ctx.baseUrl}${API}`;
  const rendered = new RenderedJson<Instance>(renderInstance);
  const pRef = (projectId: string) => projectRef(deps.organizationId, projectId);
  const iRef = (i: Pick<Instance, "projectId" | "zone" | "name">) =>
    childOf(pRef(i.projectId), instanceResource(i.projectId, i.zone, i.name));
  /** The Compute routes alone, for the parts of a batch request. */
  const compute = new Router();
  const add = (method: Method, path: string, handler: Handler) => {
    router.add(method, path, handler);
    compute.add(method, path, handler);
  };
  router.add(
    "POST",
    "/batch/compute/v1",
    batchHandler(compute, deps.log, () => access.mode),
  );
  const computeDenied =
    (target: string): DenialMessage =>
    (d) =>
      `Required '${d.permission}' permission for '${target}'. ${d.reason}`;

  async function project(ctx: RequestContext, permission: string) {
    const projectId = ctx.params.project!;
    const target = `projects/${projectId}`;
    await access.require(ctx, permission, pRef(projectId), computeDenied(target));
    const p = await deps.projects.get(projectId);
    if (!p) throw notFound(target);
    return p;
  }

  function zone(ctx: RequestContext): string {
    const z = ctx.params.zone!;
    if (!ZONES.includes(z))
      throw new InvalidArgument(`Invalid value for field 'zone': '${z}'. Unknown zone.`, "invalid");
    return z;
  }

  async function instance(ctx: RequestContext, permission: string): Promise<Instance> {
    const projectId = ctx.params.project!;
    const z = zone(ctx);
    const name = ctx.params.instance!;
    const target = instanceResource(projectId, z, name);
    await access.require(ctx, permission, iRef({ projectId, zone: z, name }), computeDenied(target));
    const i = await deps.repos.instances.get(projectId, z, name);
    if (!i) throw notFound(target);
    return i;
  }

  /** Attaching a service account requires acting as it: iam.serviceAccounts.actAs on the account. */
  async function checkedServiceAccounts(
    ctx: RequestContext,
    owner: Project,
    raw: unknown,
  ): Promise<AttachedServiceAccount[]> {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw))
      throw new InvalidArgument(
        "Invalid value for field 'resource.serviceAccounts': expected a list.",
        "invalid",
      );
    if (raw.length > 1)
      throw new InvalidArgument(
        "Invalid value for field 'resource.serviceAccounts': at most one service account per instance.",
        "invalid",
      );
    const out: AttachedServiceAccount[] = [];
    for (const [i, entry] of raw.entries()) {
      const field = `resource.serviceAccounts[${i}]`;
      if (!entry || typeof entry !== "object")
        throw new InvalidArgument(`Invalid value for field '${field}'.`, "invalid");
      const { email, scopes } = entry as Record<string, unknown>;
      if (typeof email !== "string" || email === "")
        throw new InvalidArgument(`Invalid value for field '${field}.email': it is required.`, "invalid");
      const list = scopes ?? [];
      if (!Array.isArray(list))
        throw new InvalidArgument(`Invalid value for field '${field}.scopes': expected a list.`, "invalid");
      const normalized = list.map((s) => (typeof s === "string" ? normalizeScope(s) : s));
      const bad = normalized.map(scopeProblem).find((p) => p !== null);
      if (bad) throw new InvalidArgument(`Invalid value for field '${field}.scopes': ${bad}`, "invalid");
      const sa = await deps.repos.serviceAccounts.get(
        email === "default" ? defaultComputeServiceAccountEmail(owner.projectNumber) : email,
      );
      const who = memberOf(ctx.caller.principal).replace(/^[a-zA-Z]+:/, "");
      const noAccess = `The user does not have access to service account '${email}'. User: '${who}'. Ask a project owner to grant you the iam.serviceAccountUser role on the service account.`;
      if (!sa)
        throw new InvalidArgument(
          `Invalid value for field '${field}.email': '${email}'. ${noAccess}`,
          "invalid",
        );
      await access.require(
        ctx,
        "iam.serviceAccounts.actAs",
        childOf(pRef(sa.projectId), serviceAccountResource(sa.projectId, sa.email)),
        (d) => `${noAccess} ${d.reason}`,
      );
      out.push({ email: sa.email, scopes: [...new Set(normalized as string[])] });
    }
    return out;
  }

  async function operation(ctx: RequestContext, i: Instance, type: string, error?: Operation["error"]) {
    const op: Operation = {
      id: newComputeId(),
      name: `operation-${Date.now()}-${randomDigits(13)}`,
      projectId: i.projectId,
      zone: i.zone,
      operationType: type,
      targetName: i.name,
      targetId: i.id,
      user: memberOf(ctx.caller.principal).replace(/^[a-zA-Z]+:/, ""),
      insertTime: computeTimestamp(),
      ...(error ? { error } : {}),
    };
    await deps.repos.operations.put(op);
    return renderOperation(op, api(ctx));
  }

  add("GET", `${API}projects/{project}/zones`, async (ctx) => {
    const p = await project(ctx, "compute.zones.list");
    const base = `${api(ctx)}projects/${p.projectId}`;
    return {
      kind: "compute#zoneList",
      id: `projects/${p.projectId}/zones`,
      items: ZONES.map((z, n) => ({
        kind: "compute#zone",
        id: String(2000 + n),
        creationTimestamp: "1969-12-31T16:00:00.000-08:00",
        name: z,
        description: z,
        status: "UP",
        region: `${base}/regions/${regionOf(z)}`,
        selfLink: `${base}/zones/${z}`,
        availableCpuPlatforms: ["Intel Broadwell"],
        supportsPzs: false,
      })),
      selfLink: `${base}/zones`,
    };
  });

  add("GET", `${API}projects/{project}/zones/{zone}`, async (ctx) => {
    const p = await project(ctx, "compute.zones.get");
    const z = zone(ctx);
    const base = `${api(ctx)}projects/${p.projectId}`;
    return {
      kind: "compute#zone",
      name: z,
      status: "UP",
      region: `${base}/regions/${regionOf(z)}`,
      selfLink: `${base}/zones/${z}`,
    };
  });

  const instances = `${API}projects/{project}/zones/{zone}/instances`;
  const one = `${instances}/{instance}`;

  add("GET", instances, async (ctx) => {
    const p = await project(ctx, "compute.instances.list");
    const z = zone(ctx);
    rejectFilter(ctx);
    // Read as stored text: an unchanged instance's rendering is cached.
    const token = pageToken(ctx);
    const page = await deps.repos.instances.pageText(p.projectId, z, {
      pageSize: pageSize(ctx, "maxResults", 500, 500),
      ...(token ? { pageToken: token } : {}),
    });
    if (!page) throw new InvalidArgument("Invalid value for pageToken.", "invalid");
    const base = api(ctx);
    return jsonWithItems(
      { kind: "compute#instanceList", id: `projects/${p.projectId}/zones/${z}/instances` },
      "items",
      page.items.map((e) => rendered.of(e, base)),
      {
        ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
        selfLink: `${base}projects/${p.projectId}/zones/${z}/instances`,
      },
    );
  });

  add("GET", `${API}projects/{project}/aggregated/instances`, async (ctx) => {
    const p = await project(ctx, "compute.instances.list");
    rejectFilter(ctx);
    const { items: page, next } = await pageOf(deps, p.projectId, undefined, ctx);
    const items: Record<string, unknown> = {};
    const includeAll = ctx.url.searchParams.get("includeAllScopes")?.toLowerCase() === "true";
    for (const z of ZONES) {
      const inZone = page.filter((i) => i.zone === z);
      if (inZone.length) items[`zones/${z}`] = { instances: inZone.map((i) => renderInstance(i, api(ctx))) };
      else if (includeAll)
        items[`zones/${z}`] = {
          warning: {
            code: "NO_RESULTS_ON_PAGE",
            message: "There are no results for scope 'zones/" + z + "' on this page.",
            data: [{ key: "scope", value: `zones/${z}` }],
          },
        };
    }
    return {
      kind: "compute#instanceAggregatedList",
      id: `projects/${p.projectId}/aggregated/instances`,
      items,
      ...(next ? { nextPageToken: next } : {}),
      selfLink: `${api(ctx)}projects/${p.projectId}/aggregated/instances`,
    };
  });

  add("GET", one, async (ctx) => renderInstance(await instance(ctx, "compute.instances.get"), api(ctx)));

  add("POST", instances, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const z = zone(ctx);
    const projectId = ctx.params.project!;
    const nameProblem = resourceNameProblem("resource.name", body.name);
    if (nameProblem) throw new InvalidArgument(nameProblem, "invalid");
    const name = body.name as string;
    const target = instanceResource(projectId, z, name);
    await access.require(
      ctx,
      "compute.instances.create",
      iRef({ projectId, zone: z, name }),
      computeDenied(target),
    );
    const proj = await deps.repos.projects.get(projectId);
    if (!proj) throw notFound(`projects/${projectId}`);
    const machineType = parseMachineType(body.machineType, z);
    const labelProblem = labelsProblem(body.labels);
    if (labelProblem)
      throw new InvalidArgument(`Invalid value for field 'resource.labels': ${labelProblem}`, "invalid");
    const metadata = parseMetadata(body.metadata);
    const tags = parseTags(body.tags);
    if (body.description !== undefined && typeof body.description !== "string")
      throw new InvalidArgument(
        "Invalid value for field 'resource.description': expected a string.",
        "invalid",
      );
    const serviceAccounts = await checkedServiceAccounts(ctx, proj, body.serviceAccounts);
    const now = computeTimestamp();
    const created = await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      const taken = new Set((await r.instances.list(projectId)).map((i) => i.networkIP));
      const inst: Instance = {
        id: newComputeId(),
        projectId,
        zone: z,
        name,
        description: (body.description as string | undefined) ?? "",
        machineType,
        status: "RUNNING",
        serviceAccounts,
        networkIP: nextNetworkIP(taken),
        hostname: instanceHostname(name, projectId),
        creationTimestamp: now,
        lastStartTimestamp: now,
        labels: (body.labels as Record<string, string> | undefined) ?? {},
        metadata,
        tags,
      };
      if (!(await r.instances.insert(inst)))
        throw new ApiError(409, "ALREADY_EXISTS", "alreadyExists", `The resource '${target}' already exists`);
      return inst;
    });
    deps.changes.bump();
    return operation(ctx, created, "insert");
  });

  add("DELETE", one, async (ctx) => {
    const i = await instance(ctx, "compute.instances.delete");
    await deps.store.transaction((tx) => repositories(tx).instances.delete(i));
    await deps.policies.drop(instanceResource(i.projectId, i.zone, i.name));
    deps.changes.bump();
    return operation(ctx, i, "delete");
  });

  for (const [verb, status] of [
    ["start", "RUNNING"],
    ["stop", "TERMINATED"],
  ] as const) {
    add("POST", `${one}/${verb}`, async (ctx) => {
      await readJsonObject(ctx.req);
      const i = await instance(ctx, `compute.instances.${verb}`);
      const updated = await mutate(i, (cur) => ({
        ...cur,
        status,
        ...(verb === "start"
          ? { lastStartTimestamp: computeTimestamp() }
          : { lastStopTimestamp: computeTimestamp() }),
      }));
      return operation(ctx, updated, verb);
    });
  }

  add("POST", `${one}/setServiceAccount`, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const i = await instance(ctx, "compute.instances.setServiceAccount");
    if (i.status !== "TERMINATED")
      throw new InvalidArgument(
        `The instance '${instanceResource(i.projectId, i.zone, i.name)}' must be stopped to change its service account.`,
        "resourceNotReady",
      );
    const email = body.email;
    const serviceAccounts =
      email === undefined || email === null || email === ""
        ? []
        : await checkedServiceAccounts(ctx, (await deps.repos.projects.get(i.projectId))!, [
            { email, scopes: body.scopes ?? [] },
          ]);
    const updated = await mutate(i, (cur) => ({ ...cur, serviceAccounts }));
    return operation(ctx, updated, "setServiceAccount");
  });

  add("POST", `${one}/setMetadata`, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const i = await instance(ctx, "compute.instances.setMetadata");
    const current = renderInstance(i, api(ctx)).metadata.fingerprint;
    if (body.fingerprint !== undefined && body.fingerprint !== current)
      throw new ApiError(
        412,
        "FAILED_PRECONDITION",
        "conditionNotMet",
        `Supplied fingerprint does not match current metadata fingerprint.`,
      );
    const metadata = parseMetadata(body);
    const updated = await mutate(i, (cur) => ({ ...cur, metadata }));
    return operation(ctx, updated, "setMetadata");
  });

  const operationRoute = `${API}projects/{project}/zones/{zone}/operations/{operation}`;
  const getOperation = async (ctx: RequestContext) => {
    const p = await project(ctx, "compute.projects.get");
    const op = await deps.repos.operations.get(p.projectId, ctx.params.operation!);
    if (!op || op.zone !== ctx.params.zone)
      throw notFound(`projects/${p.projectId}/zones/${ctx.params.zone}/operations/${ctx.params.operation}`);
    return renderOperation(op, api(ctx));
  };
  add("GET", operationRoute, getOperation);
  add("POST", `${operationRoute}/wait`, getOperation);

  async function mutate(i: Instance, change: (cur: Instance) => Instance) {
    return deps.store
      .transaction(async (tx) => {
        const r = repositories(tx);
        const cur = await r.instances.get(i.projectId, i.zone, i.name);
        if (!cur) throw notFound(instanceResource(i.projectId, i.zone, i.name));
        const next = change(cur);
        await r.instances.put(next);
        return next;
      })
      .finally(() => deps.changes.bump());
  }
}

function rejectFilter(ctx: RequestContext) {
  const f = ctx.url.searchParams.get("filter");
  if (f)
    throw new InvalidArgument(
      "The 'filter' parameter is not supported by Warrant yet; filter on the client.",
      "invalid",
    );
}

/** One page of instances, read as a page (keyset pagination), not sliced from all of them. */
async function pageOf(deps: ServerDeps, projectId: string, zone: string | undefined, ctx: RequestContext) {
  const size = pageSize(ctx, "maxResults", 500, 500);
  const token = pageToken(ctx);
  const page = await deps.repos.instances.page(projectId, zone, {
    pageSize: size,
    ...(token ? { pageToken: token } : {}),
  });
  if (!page) throw new InvalidArgument("Invalid value for pageToken.", "invalid");
  return { items: page.items, next: page.nextPageToken };
}

function parseMachineType(raw: unknown, zone: string): string {
  if (raw === undefined) return DEFAULT_MACHINE_TYPE;
  if (typeof raw !== "string")
    throw new InvalidArgument(
      "Invalid value for field 'resource.machineType': expected a string.",
      "invalid",
    );
  const m = /(?:^|\/)zones\/([^/]+)\/machineTypes\/([^/]+)$/.exec(raw) ?? /^()([a-z0-9-]+)$/.exec(raw);
  if (!m) throw new InvalidArgument(`Invalid value for field 'resource.machineType': '${raw}'.`, "invalid");
  if (m[1] && m[1] !== zone)
    throw new InvalidArgument(
      `Invalid value for field 'resource.machineType': '${raw}'. Machine type is in zone ${m[1]}, not ${zone}.`,
      "invalid",
    );
  if (!MACHINE_TYPES.includes(m[2]!))
    throw new InvalidArgument(
      `Invalid value for field 'resource.machineType': '${raw}'. Machine type with name '${m[2]}' does not exist in zone '${zone}'. Known: ${MACHINE_TYPES.join(", ")}.`,
      "invalid",
    );
  return m[2]!;
}

function parseMetadata(raw: unknown) {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== "object")
    throw new InvalidArgument("Invalid value for field 'resource.metadata'.", "invalid");
  const items = (raw as Record<string, unknown>).items ?? [];
  if (!Array.isArray(items))
    throw new InvalidArgument(
      "Invalid value for field 'resource.metadata.items': expected a list.",
      "invalid",
    );
  const seen = new Set<string>();
  return items.map((it, n) => {
    const { key, value } = (it ?? {}) as Record<string, unknown>;
    if (typeof key !== "string" || !/^[a-zA-Z0-9_-]{1,128}$/.test(key))
      throw new InvalidArgument(
        `Invalid value for field 'resource.metadata.items[${n}].key': '${show(key)}'.`,
        "invalid",
      );
    if (seen.has(key))
      throw new InvalidArgument(
        `Invalid value for field 'resource.metadata': duplicate key '${key}'.`,
        "invalid",
      );
    seen.add(key);
    if (typeof value !== "string" || value.length > 256 * 1024)
      throw new InvalidArgument(`Invalid value for field 'resource.metadata.items[${n}].value'.`, "invalid");
    return { key, value };
  });
}

function parseTags(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  const items = (raw as Record<string, unknown>).items ?? [];
  if (
    !Array.isArray(items) ||
    items.some((t) => typeof t !== "string" || !/^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/.test(t))
  )
    throw new InvalidArgument("Invalid value for field 'resource.tags.items'.", "invalid");
  return items as string[];
}
