/**
 * How Cloud Storage words and shapes authorization failures. Callers without credentials are
 * anonymous (`allUsers`); when they are denied GCS answers 401 `required` rather than 403.
 */
import { ApiError } from "../../../domain/errors.js";
import { childOf, projectRef, type ResourceRef } from "../../../domain/resources.js";
import { type Bucket, bucketResource } from "../../../domain/storage/bucket.js";
import { objectResource } from "../../../domain/storage/object.js";
import type { ServerDeps } from "../../deps.js";
import type { RequestContext } from "../../http/context.js";
import type { DenialMessage } from "../../iam/access-control.js";
import type { ReplaceCheck } from "../../storage/object-service.js";

export type StorageTarget = "project" | "bucket" | "object";

const TARGET_WORDS: Record<StorageTarget, string> = {
  project: "the Google Cloud project",
  bucket: "the Google Cloud Storage bucket",
  object: "the Google Cloud Storage object",
};

/** GCS wording: "<who> does not have <permission> access to the Google Cloud Storage bucket." */
export function storageDenial(target: StorageTarget): DenialMessage {
  return (d) => {
    const who = d.principal === "allUsers" ? "Anonymous caller" : d.principal.replace(/^[a-zA-Z]+:/, "");
    return `${who} does not have ${d.permission} access to ${TARGET_WORDS[target]}. Permission '${d.permission}' denied on resource (or it may not exist). ${d.reason}`;
  };
}

export function storageRefs(deps: ServerDeps) {
  const bucketRef = (b: Bucket): ResourceRef =>
    childOf(projectRef(deps.organizationId, b.projectId), bucketResource(b.name));
  const objectRef = (b: Bucket, name: string): ResourceRef =>
    childOf(bucketRef(b), objectResource(b.name, name));
  return { bucketRef, objectRef };
}

/**
 * The commit-time rule for writing over an existing object: replacing it needs
 * `storage.objects.delete` on it, as at GCS. `ctx` is the request that commits (for a resumable
 * upload, the final chunk, acting as the session's initiator), so the check is audited on it.
 */
export function replaceCheck(deps: ServerDeps, ctx: RequestContext, bucket: Bucket): ReplaceCheck {
  const { objectRef } = storageRefs(deps);
  return (existing) =>
    requireStorage(deps, ctx, "storage.objects.delete", objectRef(bucket, existing.name), "object");
}

/** Checks a permission; an anonymous caller who is denied gets GCS's 401 instead of 403. */
export async function requireStorage(
  deps: ServerDeps,
  ctx: RequestContext,
  permission: string,
  ref: ResourceRef,
  target: StorageTarget,
) {
  try {
    await deps.access.require(ctx, permission, ref, storageDenial(target));
  } catch (err) {
    if (err instanceof ApiError && err.code === 403 && ctx.caller.principal.kind === "anonymous") {
      const e = new ApiError(401, "UNAUTHENTICATED", "required", err.message, {
        location: "Authorization",
        locationType: "header",
      });
      e.explanation = err.explanation;
      e.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"';
      throw e;
    }
    throw err;
  }
}
