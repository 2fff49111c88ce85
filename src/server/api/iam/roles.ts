/** IAM v1: the predefined role catalog and per-project custom roles. */
import { createHash } from "node:crypto";
import { repositories } from "../../../datastore/repositories.js";
import {
  Aborted,
  AlreadyExists,
  FailedPrecondition,
  InvalidArgument,
  NotFound,
} from "../../../domain/errors.js";
import { newEtag, sameEtag } from "../../../domain/iam/policy.js";
import {
  listPredefinedRoles,
  predefinedRole,
  type Role,
  validateCustomRole,
} from "../../../domain/iam/roles.js";
import { projectRef } from "../../../domain/resources.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import type { DenialMessage } from "../../iam/access-control.js";
import { objectField, pageSize, pageToken, updateMask } from "../params.js";

const denied: DenialMessage = (d) =>
  `Permission '${d.permission}' denied on resource (or it may not exist). ${d.reason}`;

/** Predefined roles never change at run time: their etag is a digest of their content. */
const predefinedEtag = (r: Role) =>
  createHash("sha256").update(JSON.stringify(r)).digest().subarray(0, 8).toString("base64");

function view(ctx: RequestContext, role: Role, defaultFull: boolean) {
  const v = ctx.url.searchParams.get("view");
  if (v !== null && v !== "BASIC" && v !== "FULL")
    throw new InvalidArgument(`Invalid value for view: '${v}'. Expected BASIC or FULL.`);
  const full = v === "FULL" || (v === null && defaultFull);
  const { includedPermissions, ...basic } = role;
  return full ? { ...basic, includedPermissions } : basic;
}

function offsetPage<T>(items: readonly T[], ctx: RequestContext, fallback: number, max: number) {
  const size = pageSize(ctx, "pageSize", fallback, max);
  const token = pageToken(ctx);
  const start = token ? Number.parseInt(Buffer.from(token, "base64url").toString(), 10) : 0;
  if (!Number.isInteger(start) || start < 0) throw new InvalidArgument("Invalid pageToken.");
  const end = start + size;
  return {
    items: items.slice(start, end),
    next: end < items.length ? Buffer.from(String(end)).toString("base64url") : undefined,
  };
}

export function registerRoles(router: Router, deps: ServerDeps) {
  const { access } = deps;
  const projectOf = async (ctx: RequestContext, permission: string) => {
    const projectId = ctx.params.project!;
    await access.require(ctx, permission, projectRef(deps.organizationId, projectId), denied);
    if (!(await deps.projects.get(projectId))) throw new NotFound(`Project ${projectId} not found.`);
    return projectId;
  };

  router.add("GET", "/v1/roles", async (ctx) => {
    const all = listPredefinedRoles().map((r) => ({ ...r, etag: predefinedEtag(r) }));
    const { items, next } = offsetPage(all, ctx, 300, 1000);
    return { roles: items.map((r) => view(ctx, r, false)), ...(next ? { nextPageToken: next } : {}) };
  });

  router.add("GET", "/v1/roles/{role}", async (ctx) => {
    const role = predefinedRole(`roles/${ctx.params.role}`);
    if (!role) throw new NotFound(`The role named roles/${ctx.params.role} was not found.`);
    return { ...role, etag: predefinedEtag(role) };
  });

  const base = "/v1/projects/{project}/roles";
  const one = `${base}/{roleId}`;

  router.add("GET", base, async (ctx) => {
    const projectId = await projectOf(ctx, "iam.roles.list");
    const showDeleted = ctx.url.searchParams.get("showDeleted") === "true";
    const roles = (await deps.repos.customRoles.list(projectId)).filter((r) => showDeleted || !r.deleted);
    const { items, next } = offsetPage(roles, ctx, 300, 1000);
    return { roles: items.map((r) => view(ctx, r, false)), ...(next ? { nextPageToken: next } : {}) };
  });

  router.add("POST", base, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const projectId = await projectOf(ctx, "iam.roles.create");
    const role = validateCustomRole(projectId, body.roleId, objectField(body, "role"));
    if (typeof role === "string") throw new InvalidArgument(role);
    const stored = { ...role, etag: newEtag() };
    await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      if (!(await r.customRoles.insert(projectId, stored)))
        throw new AlreadyExists(
          `A role named ${body.roleId as string} in projects/${projectId} already exists.`,
        );
    });
    access.customRolesChanged();
    return stored;
  });

  async function load(ctx: RequestContext, permission: string) {
    const projectId = await projectOf(ctx, permission);
    const name = `projects/${projectId}/roles/${ctx.params.roleId}`;
    const role = await deps.repos.customRoles.get(name);
    if (!role) throw new NotFound(`The role named ${name} was not found.`);
    return { projectId, role };
  }

  router.add("GET", one, async (ctx) => (await load(ctx, "iam.roles.get")).role);

  router.add("PATCH", one, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const mask = updateMask(body, ctx, ["title", "description", "includedPermissions", "stage"]);
    const { projectId, role } = await load(ctx, "iam.roles.update");
    const input = body as Record<string, unknown>;
    if (typeof input.etag === "string" && role.etag !== undefined && !sameEtag(input.etag, role.etag))
      throw new Aborted(
        "The role's etag does not match: it was changed concurrently. Read it again and retry.",
      );
    const merged: Record<string, unknown> = { ...role };
    for (const f of mask ?? ["title", "description", "includedPermissions", "stage"])
      if (f in input) merged[f] = input[f];
    const next = validateCustomRole(projectId, ctx.params.roleId, merged);
    if (typeof next === "string") throw new InvalidArgument(next);
    return save(projectId, { ...next, etag: newEtag(), ...(role.deleted ? { deleted: true } : {}) });
  });

  router.add("DELETE", one, async (ctx) => {
    const { projectId, role } = await load(ctx, "iam.roles.delete");
    if (role.deleted)
      throw new FailedPrecondition(
        `You can't delete role_id (${ctx.params.roleId}) as it is already deleted.`,
      );
    return save(projectId, { ...role, deleted: true, etag: newEtag() });
  });

  router.add("POST", `${one}:undelete`, async (ctx) => {
    await readJsonObject(ctx.req);
    const { projectId, role } = await load(ctx, "iam.roles.undelete");
    if (!role.deleted)
      throw new FailedPrecondition(`You can't undelete role_id (${ctx.params.roleId}) as it is not deleted.`);
    const { deleted: _d, ...rest } = role;
    return save(projectId, { ...rest, etag: newEtag() });
  });

  async function save(projectId: string, role: Role) {
    await deps.store.transaction((tx) => repositories(tx).customRoles.put(projectId, role));
    access.customRolesChanged();
    return role;
  }
}
