/**
 * Cloud Storage JSON API: buckets and bucket IAM, enforcing token, scopes and IAM like Google.
 * Callers without credentials are anonymous (`allUsers`); a denial then is a 401, as at GCS.
 */
import { repositories } from "../../../datastore/repositories.js";
import { ApiError, InvalidArgument, NotFound } from "../../../domain/errors.js";
import { newEtag, sameEtag } from "../../../domain/iam/policy.js";
import { labelsProblem } from "../../../domain/project.js";
import { projectRef, type ResourceRef } from "../../../domain/resources.js";
import {
  type Bucket,
  bucketNameProblem,
  bucketResource,
  defaultBucketPolicy,
  renderBucket,
  STORAGE_CLASSES,
} from "../../../domain/storage/bucket.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { pageToken } from "../params.js";
import { requireStorage, type StorageTarget, storageDenial, storageRefs } from "./access.js";

/** `STORAGE_EMULATOR_HOST` users (Node) send paths without the `/storage/v1` prefix. */
export const STORAGE_BASES = ["/storage/v1", ""];

export function registerBuckets(router: Router, deps: ServerDeps) {
  const { access } = deps;
  const { bucketRef } = storageRefs(deps);
  const require = (ctx: RequestContext, permission: string, ref: ResourceRef, target: StorageTarget) =>
    requireStorage(deps, ctx, permission, ref, target);

  async function load(ctx: RequestContext, permission: string): Promise<Bucket> {
    const b = await deps.repos.buckets.get(ctx.params.bucket!);
    if (!b) throw new NotFound("The specified bucket does not exist.");
    await require(ctx, permission, bucketRef(b), "bucket");
    return b;
  }

  const project = async (ctx: RequestContext, permission: string) => {
    const id = ctx.url.searchParams.get("project");
    if (!id) throw new InvalidArgument("Required parameter: project", "required");
    await require(ctx, permission, projectRef(deps.organizationId, id), "project");
    const p = await deps.projects.get(id);
    if (!p) throw new NotFound(`The project ${id} does not exist.`);
    return p;
  };

  for (const base of STORAGE_BASES) {
    router.add(
      "GET",
      `${base}/b`,
      async (ctx) => {
        const p = await project(ctx, "storage.buckets.list");
        const raw = ctx.url.searchParams.get("maxResults");
        const max = raw === null ? 1000 : Number(raw);
        if (!Number.isInteger(max) || max < 1)
          throw new InvalidArgument(`Invalid value for maxResults: '${raw}'.`, "invalid");
        const token = pageToken(ctx);
        const prefix = ctx.url.searchParams.get("prefix") ?? undefined;
        const page = await deps.repos.buckets.list(p.projectId, {
          pageSize: Math.min(max, 1000),
          ...(token ? { pageToken: token } : {}),
          ...(prefix ? { prefix } : {}),
        });
        return {
          kind: "storage#buckets",
          ...(page.items.length ? { items: page.items.map((b) => renderBucket(b, ctx.baseUrl)) } : {}),
          ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
        };
      },
      "optional",
    );

    router.add(
      "POST",
      `${base}/b`,
      async (ctx) => {
        const body = await readJsonObject(ctx.req);
        const problem = bucketNameProblem(body.name);
        if (problem) throw new InvalidArgument(problem, "invalid");
        const p = await project(ctx, "storage.buckets.create");
        const storageClass = body.storageClass ?? "STANDARD";
        if (typeof storageClass !== "string" || !STORAGE_CLASSES.includes(storageClass))
          throw new InvalidArgument(
            `Invalid storageClass: must be one of ${STORAGE_CLASSES.join(", ")}.`,
            "invalid",
          );
        const location = body.location ?? "US";
        if (typeof location !== "string" || !/^[A-Za-z0-9-]{2,40}$/.test(location))
          throw new InvalidArgument("Invalid location.", "invalid");
        const labelProblem = labelsProblem(body.labels);
        if (labelProblem) throw new InvalidArgument(labelProblem, "invalid");
        const now = new Date();
        const bucket: Bucket = {
          name: body.name as string,
          projectId: p.projectId,
          projectNumber: p.projectNumber,
          location: location.toUpperCase(),
          storageClass,
          labels: (body.labels as Record<string, string> | undefined) ?? {},
          generation: String(now.getTime() * 1000),
          metageneration: "1",
          timeCreated: now.toISOString(),
          updated: now.toISOString(),
        };
        const policy = { ...defaultBucketPolicy(p.projectId), etag: newEtag() };
        await deps.store.transaction(async (tx) => {
          const r = repositories(tx);
          if (!(await r.buckets.insert(bucket)))
            throw new ApiError(
              409,
              "ALREADY_EXISTS",
              "conflict",
              "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
            );
          await r.policies.put(bucketResource(bucket.name), policy);
        });
        access.policyChanged(bucketResource(bucket.name), policy);
        return renderBucket(bucket, ctx.baseUrl);
      },
      "optional",
    );

    router.add(
      "GET",
      `${base}/b/{bucket}`,
      async (ctx) => renderBucket(await load(ctx, "storage.buckets.get"), ctx.baseUrl),
      "optional",
    );

    router.add(
      "PATCH",
      `${base}/b/{bucket}`,
      async (ctx) => {
        const body = await readJsonObject(ctx.req);
        if (body.labels !== undefined) {
          const labelProblem = labelsProblem(body.labels);
          if (labelProblem) throw new InvalidArgument(labelProblem, "invalid");
        }
        if (
          body.storageClass !== undefined &&
          (typeof body.storageClass !== "string" || !STORAGE_CLASSES.includes(body.storageClass))
        )
          throw new InvalidArgument(
            `Invalid storageClass: must be one of ${STORAGE_CLASSES.join(", ")}.`,
            "invalid",
          );
        const versioning = body.versioning;
        if (
          versioning !== undefined &&
          versioning !== null &&
          (typeof versioning !== "object" ||
            typeof (versioning as { enabled?: unknown }).enabled !== "boolean")
        )
          throw new InvalidArgument(
            'Invalid value for versioning: expected {"enabled": true|false}.',
            "invalid",
          );
        const b = await load(ctx, "storage.buckets.update");
        const updated = await deps.store.transaction(async (tx) => {
          const r = repositories(tx);
          const cur = (await r.buckets.get(b.name))!;
          const next: Bucket = {
            ...cur,
            ...(body.labels !== undefined
              ? { labels: (body.labels as Record<string, string> | null) ?? {} }
              : {}),
            ...(typeof body.storageClass === "string" ? { storageClass: body.storageClass } : {}),
            ...(versioning !== undefined
              ? { versioning: { enabled: (versioning as { enabled?: boolean } | null)?.enabled === true } }
              : {}),
            metageneration: String(Number(cur.metageneration) + 1),
            updated: new Date().toISOString(),
          };
          await r.buckets.put(next);
          return next;
        });
        return renderBucket(updated, ctx.baseUrl);
      },
      "optional",
    );

    router.add(
      "DELETE",
      `${base}/b/{bucket}`,
      async (ctx) => {
        const b = await load(ctx, "storage.buckets.delete");
        if (await deps.objects.bucketInUse(b.name))
          throw new ApiError(
            409,
            "FAILED_PRECONDITION",
            "conflict",
            "The bucket you tried to delete is not empty.",
          );
        await deps.store.transaction((tx) => repositories(tx).buckets.delete(b.name));
        await deps.policies.drop(bucketResource(b.name));
        ctx.res.writeHead(204, { "Content-Length": 0 });
        ctx.res.end();
        return undefined;
      },
      "optional",
    );

    router.add(
      "GET",
      `${base}/b/{bucket}/iam`,
      async (ctx) => {
        const b = await load(ctx, "storage.buckets.getIamPolicy");
        const asked = ctx.url.searchParams.get("optionsRequestedPolicyVersion");
        const policy = await deps.policies.get(
          ctx,
          bucketRef(b),
          "storage.buckets.getIamPolicy",
          storageDenial("bucket"),
          asked === null ? {} : { options: { requestedPolicyVersion: Number(asked) } },
        );
        return { kind: "storage#policy", resourceId: bucketResource(b.name), ...policy };
      },
      "optional",
    );

    router.add(
      "PUT",
      `${base}/b/{bucket}/iam`,
      async (ctx) => {
        const body = await readJsonObject(ctx.req);
        const b = await load(ctx, "storage.buckets.setIamPolicy");
        const { kind: _k, resourceId: _r, ...policy } = body;
        // GCS answers a stale etag with 412 Precondition Failed.
        const current = (await access.policyOf(bucketResource(b.name)))?.etag;
        if (typeof policy.etag === "string" && current !== undefined && !sameEtag(policy.etag, current))
          throw new ApiError(
            412,
            "FAILED_PRECONDITION",
            "conditionNotMet",
            "Precondition Failed: the policy's etag does not match.",
          );
        try {
          const written = await deps.policies.set(
            ctx,
            bucketRef(b),
            "storage.buckets.setIamPolicy",
            { policy },
            storageDenial("bucket"),
          );
          return { kind: "storage#policy", resourceId: bucketResource(b.name), ...written };
        } catch (err) {
          if (err instanceof ApiError && err.status === "ABORTED")
            throw new ApiError(
              412,
              "FAILED_PRECONDITION",
              "conditionNotMet",
              "Precondition Failed: the policy's etag does not match.",
            );
          throw err;
        }
      },
      "optional",
    );

    router.add(
      "GET",
      `${base}/b/{bucket}/iam/testPermissions`,
      async (ctx) => {
        const b = await deps.repos.buckets.get(ctx.params.bucket!);
        if (!b) throw new NotFound("The specified bucket does not exist.");
        const perms = ctx.url.searchParams.getAll("permissions");
        if (perms.length === 0) throw new InvalidArgument("Required parameter: permissions", "required");
        const projectLevel = perms.find(
          (p) => p === "storage.buckets.list" || p === "storage.buckets.create",
        );
        if (projectLevel)
          throw new InvalidArgument(
            `Permission ${projectLevel} is a project-level permission and cannot be tested on a bucket.`,
            "invalid",
          );
        const held = await access.held(ctx, perms, bucketRef(b));
        return { kind: "storage#testIamPermissionsResponse", ...(held.length ? { permissions: held } : {}) };
      },
      "optional",
    );
  }
}
