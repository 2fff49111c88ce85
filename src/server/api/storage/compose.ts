/**
 * Server-side copies: `copyTo`, `rewriteTo` (done in one call) and `compose`. The bytes are
 * streamed blob to blob through the checksummer, so the new object's hashes are computed, not
 * trusted; a composite object reports CRC32C and a component count but no MD5, as at GCS.
 */
import { pipeline } from "node:stream/promises";
import {
  checkPreconditions,
  readPreconditions,
  type StoredObject,
  WRITABLE_FIELDS,
  type WritableMetadata,
  writableMetadata,
} from "../../../domain/storage/object.js";
import type { ServerDeps } from "../../deps.js";
import type { RequestContext } from "../../http/context.js";
import type { BlobSums } from "../../storage/blob-store.js";
import { noSuchBucket } from "../../storage/object-service.js";
import { replaceCheck, requireStorage, storageRefs } from "./access.js";
import { objectName } from "./params.js";

export interface CopyRequest {
  sources: StoredObject[];
  destinationBucket: string;
  destinationObject: string;
  /** The destination's metadata fields from the request body. */
  body: Record<string, unknown>;
  /** For copies: the source whose metadata the destination keeps unless the body overrides it. */
  inherit?: StoredObject;
}

export async function copyObject(
  deps: ServerDeps,
  ctx: RequestContext,
  req: CopyRequest,
): Promise<StoredObject> {
  const { objectRef } = storageRefs(deps);
  const bucket = await deps.repos.buckets.get(req.destinationBucket);
  if (!bucket) throw noSuchBucket();
  const name = objectName(req.destinationObject);
  await requireStorage(deps, ctx, "storage.objects.create", objectRef(bucket, name), "object");
  const mayReplace = replaceCheck(deps, ctx, bucket);
  // Early answers that spare copying the bytes; the commit decides both again on what it finds.
  const existing = await deps.repos.objects.get(bucket.name, name);
  if (existing) await mayReplace(existing);
  const pre = readPreconditions(ctx.url.searchParams);
  checkPreconditions(pre, existing);
  if (req.inherit) checkPreconditions(readPreconditions(ctx.url.searchParams, "ifSource"), req.inherit);

  const override = writableMetadata(req.body);
  let meta: WritableMetadata = override;
  if (req.inherit && !WRITABLE_FIELDS.some((f) => f in req.body)) {
    const { contentType, metadata, contentEncoding, contentDisposition, contentLanguage, cacheControl } =
      req.inherit;
    meta = {
      contentType,
      ...(metadata ? { metadata } : {}),
      ...(contentEncoding ? { contentEncoding } : {}),
      ...(contentDisposition ? { contentDisposition } : {}),
      ...(contentLanguage ? { contentLanguage } : {}),
      ...(cacheControl ? { cacheControl } : {}),
    };
  }

  await deps.objects.blobs.ensureRoom(req.sources.reduce((n, s) => n + Number(s.size), 0));
  const writer = deps.objects.blobs.writer();
  let sums: BlobSums;
  try {
    for (const s of req.sources)
      await pipeline(deps.objects.blobs.read(s.blobId), writer.sink, { end: false });
    sums = await writer.publish();
  } catch (err) {
    // No partial copy stays behind (a full disk is answered 503 by the HTTP layer).
    await writer.abort();
    throw err;
  }
  const composite = !req.inherit;
  return deps.objects.create(
    bucket,
    name,
    meta,
    {
      blobId: writer.id,
      size: sums.size,
      crc32c: sums.crc32c,
      ...(composite
        ? { componentCount: req.sources.reduce((n, s) => n + (s.componentCount ?? 1), 0) }
        : { md5Hash: sums.md5Hash }),
    },
    pre,
    mayReplace,
  );
}
