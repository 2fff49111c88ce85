/** IAM v1: service accounts and their IAM policies. */
import { repositories } from "../../../datastore/repositories.js";
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from "../../../domain/errors.js";
import { newEtag } from "../../../domain/iam/policy.js";
import { accountIdProblem } from "../../../domain/ids.js";
import { childOf, organizationRef, projectRef, serviceAccountResource } from "../../../domain/resources.js";
import {
  descriptionProblem,
  displayNameProblem,
  makeServiceAccount,
  projectOfServiceAccountEmail,
  type ServiceAccount,
  serviceAccountEmail,
  undeletable,
} from "../../../domain/service-account.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import type { DenialMessage } from "../../iam/access-control.js";
import { objectField, optionalString, pageSize, pageToken, updateMask } from "../params.js";

/** IAM's wording: a denial does not confirm that the account exists. */
const denied: DenialMessage = (d) =>
  `Permission '${d.permission}' denied on resource (or it may not exist). ${d.reason}`;

export const serviceAccountRef = (deps: ServerDeps, sa: ServiceAccount) =>
  childOf(projectRef(deps.organizationId, sa.projectId), serviceAccountResource(sa.projectId, sa.email));

export function registerServiceAccounts(router: Router, deps: ServerDeps) {
  const { access, policies } = deps;
  const saRef = (sa: ServiceAccount) => serviceAccountRef(deps, sa);

  async function requireProject(ctx: RequestContext, projectId: string, permission: string) {
    const project = await deps.projects.get(projectId);
    if (!project) {
      await access.require(ctx, permission, projectRef(deps.organizationId, projectId), denied);
      throw new NotFound(`Project ${projectId} not found.`);
    }
    await access.require(ctx, permission, projectRef(deps.organizationId, projectId), denied);
    return project;
  }

  const find = (ctx: RequestContext, permission: string) => findServiceAccount(deps, ctx, permission);

  const base = "/v1/projects/{project}/serviceAccounts";
  const one = `${base}/{account}`;

  router.add("POST", base, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const projectId = ctx.params.project!;
    const problem = accountIdProblem(body.accountId);
    if (problem) throw new InvalidArgument(problem);
    const input = objectField(body, "serviceAccount");
    const p = displayNameProblem(input.displayName) ?? descriptionProblem(input.description);
    if (p) throw new InvalidArgument(p);
    await requireProject(ctx, projectId, "iam.serviceAccounts.create");
    const sa = makeServiceAccount(projectId, serviceAccountEmail(body.accountId as string, projectId), {
      displayName: input.displayName as string | undefined,
      description: input.description as string | undefined,
    });
    await deps.store.transaction(async (tx) => {
      if (!(await repositories(tx).serviceAccounts.insert(sa)))
        throw new AlreadyExists(
          `Service account ${body.accountId} already exists within project projects/${projectId}.`,
        );
    });
    // The directory may remember the e-mail as missing (a deleted account's): the new one is live now.
    deps.directory.invalidate(sa.email);
    return sa;
  });

  router.add("GET", base, async (ctx) => {
    const projectId = ctx.params.project!;
    const size = pageSize(ctx, "pageSize", 20, 100);
    const token = pageToken(ctx);
    await requireProject(ctx, projectId, "iam.serviceAccounts.list");
    const page = await deps.repos.serviceAccounts.list(projectId, {
      pageSize: size,
      ...(token ? { pageToken: token } : {}),
    });
    return { accounts: page.items, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) };
  });

  router.add("GET", one, async (ctx) => find(ctx, "iam.serviceAccounts.get"));

  router.add("PATCH", one, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const input = objectField(body, "serviceAccount");
    const mask =
      updateMask(body, ctx, ["displayName", "description"]) ??
      ["displayName", "description"].filter((f) => f in input);
    const p = displayNameProblem(input.displayName) ?? descriptionProblem(input.description);
    if (p) throw new InvalidArgument(p);
    const sa = await find(ctx, "iam.serviceAccounts.update");
    return update(sa.email, (cur) => {
      const next = { ...cur };
      for (const f of mask) {
        const v = optionalString(input, f, `serviceAccount.${f}`);
        if (v === undefined || v === "") delete next[f as "displayName" | "description"];
        else next[f as "displayName" | "description"] = v;
      }
      return next;
    });
  });

  for (const [verb, disabled] of [
    ["disable", true],
    ["enable", false],
  ] as const) {
    router.add("POST", `${one}:${verb}`, async (ctx) => {
      await readJsonObject(ctx.req);
      const sa = await find(ctx, `iam.serviceAccounts.${verb}`);
      await update(sa.email, (cur) => {
        const next = { ...cur };
        if (disabled) next.disabled = true;
        else delete next.disabled;
        return next;
      });
      return {};
    });
  }

  router.add("DELETE", one, async (ctx) => {
    const sa = await find(ctx, "iam.serviceAccounts.delete");
    await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      await r.serviceAccounts.delete(sa.email);
      for (const k of await r.serviceAccountKeys.list(sa.email)) await r.serviceAccountKeys.delete(k.keyId);
      // Kept for undelete; the project's accounts past the window are gone for good.
      for (const old of await r.deletedServiceAccounts.list(sa.projectId))
        if (!undeletable(old)) await r.deletedServiceAccounts.delete(old.account.uniqueId);
      await r.deletedServiceAccounts.put({ account: sa, deleteTime: new Date().toISOString() });
    });
    deps.directory.invalidate(sa.email);
    deps.systemKeys.forget(sa.email);
    deps.changes.bump();
    await policies.drop(serviceAccountResource(sa.projectId, sa.email));
    return {};
  });

  // The account is gone, so it is named by unique id and the permission is checked on its project.
  router.add("POST", `${one}:undelete`, async (ctx) => {
    await readJsonObject(ctx.req);
    const { project, account } = ctx.params as { project: string; account: string };
    const deleted = /^\d+$/.test(account) ? await deps.repos.deletedServiceAccounts.get(account) : undefined;
    const projectId = deleted?.account.projectId ?? (project !== "-" ? project : undefined);
    const where = projectId
      ? projectRef(deps.organizationId, projectId)
      : organizationRef(deps.organizationId);
    await access.require(ctx, "iam.serviceAccounts.undelete", where, denied);
    if (!/^\d+$/.test(account))
      throw new InvalidArgument(
        `Invalid service account id '${account}': undelete takes the account's unique id.`,
      );
    if (!deleted || !undeletable(deleted) || (project !== "-" && project !== deleted.account.projectId))
      throw new NotFound(
        `Account deleted: ${account}. It cannot be restored (unknown, or deleted more than 30 days ago).`,
      );
    const restored: ServiceAccount = { ...deleted.account, etag: newEtag() };
    await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      if (!(await r.deletedServiceAccounts.get(account)))
        throw new NotFound(`Account deleted: ${account}. It cannot be restored.`);
      if (!(await r.serviceAccounts.insert(restored)))
        throw new FailedPrecondition(
          `Cannot undelete service account ${restored.email}: a service account with that e-mail exists; delete it first.`,
        );
      await r.deletedServiceAccounts.delete(account);
    });
    deps.directory.invalidate(restored.email);
    deps.changes.bump();
    return { restoredAccount: restored };
  });

  router.add("POST", `${one}:getIamPolicy`, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const sa = await find(ctx, "iam.serviceAccounts.getIamPolicy");
    return policies.get(ctx, saRef(sa), "iam.serviceAccounts.getIamPolicy", denied, body);
  });
  router.add("POST", `${one}:setIamPolicy`, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const sa = await find(ctx, "iam.serviceAccounts.setIamPolicy");
    return policies.set(ctx, saRef(sa), "iam.serviceAccounts.setIamPolicy", body, denied);
  });
  router.add("POST", `${one}:testIamPermissions`, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const { account } = ctx.params as { account: string };
    const sa = /^\d+$/.test(account)
      ? await deps.repos.serviceAccounts.getByUniqueId(undefined, account)
      : await deps.repos.serviceAccounts.get(account);
    if (!sa) throw new NotFound("Unknown service account");
    return policies.test(ctx, saRef(sa), body);
  });

  async function update(email: string, change: (sa: ServiceAccount) => ServiceAccount) {
    const next = await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      const cur = await r.serviceAccounts.get(email);
      if (!cur) throw new NotFound("Unknown service account");
      const changed = { ...change(cur), etag: newEtag() };
      await r.serviceAccounts.put(changed);
      return changed;
    });
    deps.directory.invalidate(email);
    deps.changes.bump();
    return next;
  }
}

/**
 * Resolves `projects/{p}/serviceAccounts/{email-or-uniqueId}` (p may be `-`). A caller without
 * the permission learns nothing about existence: both cases answer 403, as IAM does.
 */
export async function findServiceAccount(
  deps: ServerDeps,
  ctx: RequestContext,
  permission: string,
): Promise<ServiceAccount> {
  const { access } = deps;
  const { project, account } = ctx.params as { project: string; account: string };
  const sa = /^\d+$/.test(account)
    ? await deps.repos.serviceAccounts.getByUniqueId(project === "-" ? undefined : project, account)
    : await deps.repos.serviceAccounts.get(account);
  if (!sa || (project !== "-" && sa.projectId !== project)) {
    // Decide 404 vs 403 where the account would live: its project, else the organization.
    const projectId = project !== "-" ? project : projectOfServiceAccountEmail(account);
    const where = projectId
      ? projectRef(deps.organizationId, projectId)
      : organizationRef(deps.organizationId);
    await access.require(ctx, permission, where, denied);
    throw new NotFound(`Unknown service account`);
  }
  await access.require(ctx, permission, serviceAccountRef(deps, sa), denied);
  return sa;
}
