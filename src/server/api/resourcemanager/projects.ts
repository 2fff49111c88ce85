/** Cloud Resource Manager v1: projects and their IAM policies. */
import { decodePageToken, encodePageToken, repositories } from "../../../datastore/repositories.js";
import { AlreadyExists, InvalidArgument, NotFound, PermissionDenied } from "../../../domain/errors.js";
import { addBinding, emptyPolicy, newEtag } from "../../../domain/iam/policy.js";
import { boundMemberOf } from "../../../domain/iam/principal.js";
import { newProjectNumber, projectIdProblem, randomDigits } from "../../../domain/ids.js";
import { labelsProblem, type Project, projectNameProblem } from "../../../domain/project.js";
import { organizationRef, projectRef, projectResource } from "../../../domain/resources.js";
import { defaultComputeServiceAccount } from "../../../domain/service-account.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import type { DenialMessage } from "../../iam/access-control.js";
import { optionalString, pageSize, pageToken } from "../params.js";

/** Resource Manager hides whether a project exists from callers who may not see it. */
const denied: DenialMessage = (d) => `The caller does not have permission. ${d.reason}`;

export function registerProjects(router: Router, deps: ServerDeps) {
  const { access, policies } = deps;
  const ref = (id: string) => projectRef(deps.organizationId, id);

  /** The project, after checking `permission` on it (when given; IAM methods check their own). */
  async function load(ctx: RequestContext, id: string, permission?: string): Promise<Project> {
    const project = await deps.projects.get(id);
    if (!project) {
      // Only callers who could see any project learn that this one does not exist.
      if (await access.allows(ctx, "resourcemanager.projects.get", organizationRef(deps.organizationId)))
        throw new NotFound(`Project ${id} not found.`);
      throw new PermissionDenied(
        `The caller does not have permission to access project ${id} (or it may not exist).`,
      );
    }
    if (permission) await access.require(ctx, permission, ref(id), denied);
    return project;
  }

  router.add("POST", "/v1/projects", async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const projectId = body.projectId;
    const idProblem = projectIdProblem(projectId);
    if (idProblem) throw new InvalidArgument(idProblem);
    const name = optionalString(body, "name") ?? (projectId as string);
    const nameProblem = projectNameProblem(name);
    if (nameProblem) throw new InvalidArgument(nameProblem);
    const labelProblem = labelsProblem(body.labels);
    if (labelProblem) throw new InvalidArgument(labelProblem);
    await access.require(
      ctx,
      "resourcemanager.projects.create",
      organizationRef(deps.organizationId),
      denied,
    );
    const project: Project = {
      projectId: projectId as string,
      projectNumber: newProjectNumber(),
      name,
      lifecycleState: "ACTIVE",
      createTime: new Date().toISOString(),
      ...(body.labels ? { labels: body.labels as Record<string, string> } : {}),
      parent: { type: "organization", id: deps.organizationId },
    };
    // The creator owns the new project, as on Google Cloud.
    const policy = {
      ...addBinding(emptyPolicy(), "roles/owner", boundMemberOf(ctx.caller.principal)),
      etag: newEtag(),
    };
    await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      if (!(await r.projects.insert(project)))
        throw new AlreadyExists(
          "Requested entity already exists: the project ID you specified is already in use by another project.",
        );
      await r.policies.put(projectResource(project.projectId), policy);
      await r.serviceAccounts.insert(defaultComputeServiceAccount(project.projectId, project.projectNumber));
    });
    deps.projects.invalidate(project.projectId);
    access.policyChanged(projectResource(project.projectId), policy);
    return {
      name: `operations/cp.${randomDigits(19)}`,
      done: true,
      response: { "@type": "type.googleapis.com/google.cloudresourcemanager.v1.Project", ...project },
    };
  });

  router.add("GET", "/v1/projects", async (ctx) => {
    const size = pageSize(ctx, "pageSize", 500, 1000);
    let after = decodePageToken(pageToken(ctx));
    const visible: Project[] = [];
    // Scan in key order, keeping what the caller may see, until a page is full; the token is the
    // last key scanned, so the next page resumes exactly there.
    for (;;) {
      const rows = await deps.repos.projects.list({
        pageSize: 100,
        ...(after ? { pageToken: encodePageToken(after) } : {}),
      });
      for (const p of rows.items) {
        after = p.projectId;
        if (await access.allows(ctx, "resourcemanager.projects.get", ref(p.projectId))) visible.push(p);
        if (visible.length === size) {
          const more =
            (await deps.repos.projects.list({ pageSize: 1, pageToken: encodePageToken(after) })).items
              .length > 0;
          return { projects: visible, ...(more ? { nextPageToken: encodePageToken(after) } : {}) };
        }
      }
      if (!rows.nextPageToken) return { projects: visible };
    }
  });

  router.add("GET", "/v1/projects/{project}", async (ctx) =>
    load(ctx, ctx.params.project!, "resourcemanager.projects.get"),
  );

  router.add("POST", "/v1/projects/{project}:getIamPolicy", async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const id = ctx.params.project!;
    await load(ctx, id);
    return policies.get(ctx, ref(id), "resourcemanager.projects.getIamPolicy", denied, body);
  });

  router.add("POST", "/v1/projects/{project}:setIamPolicy", async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const id = ctx.params.project!;
    await load(ctx, id);
    return policies.set(ctx, ref(id), "resourcemanager.projects.setIamPolicy", body, denied);
  });

  router.add("POST", "/v1/projects/{project}:testIamPermissions", async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const id = ctx.params.project!;
    await load(ctx, id);
    return policies.test(ctx, ref(id), body);
  });
}
