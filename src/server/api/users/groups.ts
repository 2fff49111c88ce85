/**
 * Warrant's group directory (no Google REST equivalent here: Google's groups live in Cloud
 * Identity). `group:EMAIL` policy members match every principal that belongs to EMAIL directly or
 * through nested groups; a change applies to the next decision of this server (the access
 * control's group index is dropped on every committed change), the same bound as a revoked grant.
 *
 * Authorization, as for the user directory: reading needs `resourcemanager.projects.getIamPolicy`
 * on the organization, changing it `resourcemanager.projects.setIamPolicy` there (roles/owner).
 */
import { repositories } from "../../../datastore/repositories.js";
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from "../../../domain/errors.js";
import {
  type Group,
  GroupError,
  groupEmailProblem,
  groupMember,
  MAX_GROUP_MEMBERS,
  wouldCycle,
} from "../../../domain/iam/groups.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { optionalString } from "../params.js";
import {
  DIRECTORY_READ_PERMISSION,
  DIRECTORY_WRITE_PERMISSION,
  directoryAccess,
} from "./directory-access.js";

export const GROUPS_READ_PERMISSION = DIRECTORY_READ_PERMISSION;
export const GROUPS_WRITE_PERMISSION = DIRECTORY_WRITE_PERMISSION;

export function registerGroups(router: Router, deps: ServerDeps) {
  const { requireRead, requireWrite, audit } = directoryAccess(deps, "the group directory");

  const emailParam = (ctx: RequestContext) => {
    const email = ctx.params.group!;
    const problem = groupEmailProblem(email);
    if (problem) throw new InvalidArgument(problem);
    return email.toLowerCase();
  };
  const member = (v: unknown) => {
    try {
      return groupMember(v);
    } catch (err) {
      if (err instanceof GroupError) throw new InvalidArgument(err.message);
      throw err;
    }
  };
  const cycleCheck = (all: Group[], parent: string, added: string[]) => {
    const byEmail = new Map(all.map((g) => [g.email, g]));
    for (const m of added) {
      if (!m.startsWith("group:")) continue;
      const path = wouldCycle(byEmail, parent, m.slice(6));
      if (path)
        throw new FailedPrecondition(
          `Adding ${m} to group ${parent} would make a cycle: ${[parent, ...path].map((g) => `group:${g}`).join(" contains ")}. Nested groups may not contain themselves.`,
        );
    }
  };
  const changed = () => deps.access.groupsChanged();

  router.add("POST", "/warrant/v1/groups", async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const problem = groupEmailProblem(body.email);
    if (problem) throw new InvalidArgument(problem);
    const displayName = optionalString(body, "displayName");
    const description = optionalString(body, "description");
    if (body.members !== undefined && !Array.isArray(body.members))
      throw new InvalidArgument("members must be a list of user:, serviceAccount: or group: members.");
    const members = [...new Set(((body.members as unknown[]) ?? []).map(member))].sort();
    if (members.length > MAX_GROUP_MEMBERS)
      throw new InvalidArgument(`A group has at most ${MAX_GROUP_MEMBERS} direct members.`);
    await requireWrite(ctx, "Creating a group");
    const email = (body.email as string).toLowerCase();
    const group: Group = {
      email,
      ...(displayName !== undefined ? { displayName } : {}),
      ...(description !== undefined ? { description } : {}),
      members,
      createTime: new Date().toISOString(),
    };
    await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      cycleCheck([...(await r.groups.all()), group], email, members);
      if (!(await r.groups.insert(group))) throw new AlreadyExists(`Group ${email} already exists.`);
    });
    changed();
    audit(ctx, "groups.create", { group: email, members });
    return group;
  });

  router.add("GET", "/warrant/v1/groups", async (ctx) => {
    await requireRead(ctx);
    return { groups: await deps.repos.groups.all() };
  });

  router.add("GET", "/warrant/v1/groups/{group}", async (ctx) => {
    const email = emailParam(ctx);
    await requireRead(ctx);
    const g = await deps.repos.groups.get(email);
    if (!g) throw new NotFound(`Group ${email} not found.`);
    return g;
  });

  router.add("DELETE", "/warrant/v1/groups/{group}", async (ctx) => {
    const email = emailParam(ctx);
    await requireWrite(ctx, "Deleting a group");
    if (!(await deps.store.transaction((tx) => repositories(tx).groups.delete(email))))
      throw new NotFound(`Group ${email} not found.`);
    changed();
    audit(ctx, "groups.delete", { group: email });
    return {};
  });

  for (const verb of ["addMember", "removeMember"] as const)
    router.add("POST", `/warrant/v1/groups/{group}:${verb}`, async (ctx) => {
      const body = await readJsonObject(ctx.req);
      const email = emailParam(ctx);
      const m = member(body.member);
      await requireWrite(ctx, verb === "addMember" ? "Adding a group member" : "Removing a group member");
      const next = await deps.store.transaction(async (tx) => {
        const r = repositories(tx);
        const all = await r.groups.all();
        const g = all.find((x) => x.email === email);
        if (!g) throw new NotFound(`Group ${email} not found.`);
        if (verb === "addMember") {
          if (g.members.includes(m)) throw new AlreadyExists(`${m} is already a member of group ${email}.`);
          if (m === `group:${email}`) throw new FailedPrecondition(`A group cannot contain itself.`);
          cycleCheck(all, email, [m]);
          if (g.members.length >= MAX_GROUP_MEMBERS)
            throw new FailedPrecondition(
              `Group ${email} has ${MAX_GROUP_MEMBERS} members, the most it may have.`,
            );
          const updated = { ...g, members: [...g.members, m].sort() };
          await r.groups.put(updated);
          return updated;
        }
        if (!g.members.includes(m)) throw new NotFound(`${m} is not a member of group ${email}.`);
        const updated = { ...g, members: g.members.filter((x) => x !== m) };
        await r.groups.put(updated);
        return updated;
      });
      changed();
      audit(ctx, `groups.${verb}`, { group: email, member: m });
      return next;
    });
}
