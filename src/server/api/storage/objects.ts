/**
 * Cloud Storage JSON API: objects (list, get metadata or bytes, patch, delete, copy, rewrite,
 * compose). Uploads live in `uploads.ts`. Every call checks the token's scopes and IAM on the object
 * (through its bucket's policy: uniform bucket-level access) like Google.
 */
import { pipeline } from "node:stream/promises";
import type { TextEntry } from "../../../datastore/datastore.js";
import { InvalidArgument } from "../../../domain/errors.js";
import type { Bucket } from "../../../domain/storage/bucket.js";
import { compareNames, type ListEntry, listPage } from "../../../domain/storage/listing.js";
import {
  objectEtag,
  patchMetadata,
  readPreconditions,
  renderObject,
  type StoredObject,
  writableMetadata,
} from "../../../domain/storage/object.js";
import { parseRange } from "../../../domain/storage/ranges.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import { jsonWithItems, RenderedJson } from "../../http/json-text.js";
import type { Router } from "../../http/router.js";
import { sendJson } from "../../http/server.js";
import { noSuchBucket, noSuchObject } from "../../storage/object-service.js";
import { requireStorage, storageRefs } from "./access.js";
import { STORAGE_BASES } from "./buckets.js";
import { copyObject } from "./compose.js";
import { boolParam, generationParam, objectName } from "./params.js";

export function storageHelpers(deps: ServerDeps) {
  const { bucketRef, objectRef } = storageRefs(deps);
  async function bucketOf(name: string | undefined): Promise<Bucket> {
    const b = name ? await deps.repos.buckets.get(name) : undefined;
    if (!b) throw noSuchBucket();
    return b;
  }
  /** Loads the bucket, authorizes `permission` on the object, then loads the object (403 before 404). */
  async function objectFor(ctx: RequestContext, permission: string, bucket?: string, object?: string) {
    const b = await bucketOf(bucket ?? ctx.params.bucket);
    const name = objectName(object ?? ctx.params.object);
    await requireStorage(deps, ctx, permission, objectRef(b, name), "object");
    const generation = generationParam(ctx);
    const o = await deps.objects.find(b.name, name, generation);
    if (!o) throw noSuchObject(b.name, name);
    return { bucket: b, object: o };
  }
  return { bucketRef, objectRef, bucketOf, objectFor };
}

export function registerObjects(router: Router, deps: ServerDeps) {
  const { bucketRef, objectRef, bucketOf, objectFor } = storageHelpers(deps);
  const { objects } = deps;
  const rendered = new RenderedJson<StoredObject>(renderObject);

  for (const base of STORAGE_BASES) {
    const one = `${base}/b/{bucket}/o/{object}`;

    router.add(
      "GET",
      `${base}/b/{bucket}/o`,
      async (ctx) => {
        const b = await bucketOf(ctx.params.bucket);
        await requireStorage(deps, ctx, "storage.objects.list", bucketRef(b), "bucket");
        const q = ctx.url.searchParams;
        const raw = q.get("maxResults");
        const max = raw === null || raw === "" ? 1000 : Number(raw);
        if (!Number.isInteger(max) || max < 0)
          throw new InvalidArgument(`Invalid value for maxResults: '${raw!.slice(0, 40)}'.`, "invalid");
        const token = q.get("pageToken");
        if (token !== null && !/^[A-Za-z0-9_-]{0,4096}$/.test(token))
          throw new InvalidArgument("Invalid pageToken.", "invalid");
        const versions = boolParam(ctx, "versions");
        const delimiter = q.get("delimiter") || undefined;
        if (delimiter !== undefined && Buffer.byteLength(delimiter) > 1024)
          throw new InvalidArgument("Invalid delimiter: longer than 1024 bytes.", "invalid");
        const prefix = q.get("prefix") ?? "";
        const query = {
          prefix,
          ...(delimiter !== undefined ? { delimiter } : {}),
          ...(q.get("startOffset") ? { startOffset: q.get("startOffset")! } : {}),
          ...(q.get("endOffset") ? { endOffset: q.get("endOffset")! } : {}),
          includeTrailingDelimiter: boolParam(ctx, "includeTrailingDelimiter"),
          maxResults: max === 0 ? 1000 : Math.min(max, 1000),
          versions,
          ...(token ? { pageToken: token } : {}),
        };
        // `includeFoldersAsPrefixes` (gcloud) concerns managed folders, which flat buckets lack.
        boolParam(ctx, "includeFoldersAsPrefixes");
        // Live objects are read as their stored text: an unchanged object's rendering is cached.
        const page = versions
          ? await listPage<StoredObject>(query, (o) => scanVersions(deps, b.name, { prefix, ...o }))
          : await listPage<TextEntry>(query, (o) => deps.repos.objects.scanText(b.name, { prefix, ...o }));
        const items = versions
          ? (page.items as StoredObject[]).map((o) =>
              Buffer.from(JSON.stringify(renderObject(o, ctx.baseUrl))),
            )
          : (page.items as TextEntry[]).map((e) => rendered.of(e, ctx.baseUrl));
        return jsonWithItems(
          { kind: "storage#objects", ...(page.prefixes.length ? { prefixes: page.prefixes } : {}) },
          "items",
          items.length ? items : undefined,
          page.nextPageToken ? { nextPageToken: page.nextPageToken } : {},
        );
      },
      "optional",
    );

    router.add(
      "GET",
      one,
      async (ctx) => {
        const alt = ctx.url.searchParams.get("alt") ?? "json";
        if (alt !== "json" && alt !== "media")
          throw new InvalidArgument(`Invalid value for alt: '${alt.slice(0, 40)}'.`, "invalid");
        const { object } = await objectFor(ctx, "storage.objects.get");
        if (alt === "media") return download(ctx, deps, object);
        return renderObject(object, ctx.baseUrl);
      },
      "optional",
    );

    const patch = async (ctx: RequestContext) => {
      const body = await readJsonObject(ctx.req);
      const { bucket, object } = await objectFor(ctx, "storage.objects.update");
      const replace = ctx.req.method === "PUT";
      const updated = await objects.update(
        bucket.name,
        object.name,
        object.generation,
        readPreconditions(ctx.url.searchParams),
        (cur) => {
          if (!replace) return patchMetadata(cur, body);
          // `update` replaces every writable field; absent ones are cleared.
          const {
            metadata: _m,
            contentEncoding: _e,
            contentDisposition: _d,
            contentLanguage: _l,
            cacheControl: _c,
            ...kept
          } = cur;
          const meta = writableMetadata(body);
          return { ...kept, ...meta, contentType: meta.contentType || "application/octet-stream" };
        },
      );
      return renderObject(updated, ctx.baseUrl);
    };
    router.add("PATCH", one, patch, "optional");
    router.add("PUT", one, patch, "optional");

    router.add(
      "DELETE",
      one,
      async (ctx) => {
        const b = await bucketOf(ctx.params.bucket);
        const name = objectName(ctx.params.object);
        await requireStorage(deps, ctx, "storage.objects.delete", objectRef(b, name), "object");
        await objects.delete(b.name, name, generationParam(ctx), readPreconditions(ctx.url.searchParams));
        ctx.res.writeHead(204, { "Content-Length": 0 });
        ctx.res.end();
        return undefined;
      },
      "optional",
    );

    for (const verb of ["copyTo", "rewriteTo"] as const)
      router.add(
        "POST",
        `${one}/${verb}/b/{destinationBucket}/o/{destinationObject}`,
        async (ctx) => {
          const body = await readJsonObject(ctx.req);
          const source = await objectFor(ctx, "storage.objects.get", undefined, undefined);
          const written = await copyObject(deps, ctx, {
            sources: [source.object],
            destinationBucket: ctx.params.destinationBucket!,
            destinationObject: ctx.params.destinationObject!,
            body,
            // A copy keeps the source's metadata unless the body sets some.
            inherit: source.object,
          });
          const resource = renderObject(written, ctx.baseUrl);
          if (verb === "copyTo") return resource;
          return {
            kind: "storage#rewriteResponse",
            totalBytesRewritten: written.size,
            objectSize: written.size,
            done: true,
            resource,
          };
        },
        "optional",
      );

    router.add(
      "POST",
      `${one}/compose`,
      async (ctx) => {
        const body = await readJsonObject(ctx.req);
        const b = await bucketOf(ctx.params.bucket);
        const list = body.sourceObjects;
        if (!Array.isArray(list) || list.length === 0)
          throw new InvalidArgument("Required parameter: sourceObjects", "required");
        if (list.length > 32)
          throw new InvalidArgument(
            "The number of source objects provided exceeds the limit of 32.",
            "invalid",
          );
        const sources: StoredObject[] = [];
        for (const [i, s] of list.entries()) {
          if (!s || typeof s !== "object" || typeof (s as { name?: unknown }).name !== "string")
            throw new InvalidArgument(`Invalid value at 'sourceObjects[${i}].name'.`, "invalid");
          const src = s as { name: string; generation?: unknown };
          const name = objectName(src.name);
          await requireStorage(deps, ctx, "storage.objects.get", objectRef(b, name), "object");
          const gen =
            src.generation === undefined || src.generation === null ? undefined : String(src.generation);
          if (gen !== undefined && !/^\d{1,20}$/.test(gen))
            throw new InvalidArgument(`Invalid value at 'sourceObjects[${i}].generation'.`, "invalid");
          const o = await objects.find(b.name, name, gen);
          if (!o) throw noSuchObject(b.name, name);
          sources.push(o);
        }
        const destination = (body.destination ?? {}) as Record<string, unknown>;
        if (typeof destination !== "object" || Array.isArray(destination))
          throw new InvalidArgument("Invalid value at 'destination'.", "invalid");
        const written = await copyObject(deps, ctx, {
          sources,
          destinationBucket: b.name,
          destinationObject: ctx.params.object!,
          body: destination,
        });
        return renderObject(written, ctx.baseUrl);
      },
      "optional",
    );
  }

  // The `mediaLink` form (gcloud `storage cat` fetches it verbatim).
  router.add(
    "GET",
    "/download/storage/v1/b/{bucket}/o/{object}",
    async (ctx) => {
      const { object } = await objectFor(ctx, "storage.objects.get");
      return download(ctx, deps, object);
    },
    "optional",
  );
}

/** Versioned listing: noncurrent and live generations merged in (name, generation) order. */
async function scanVersions(
  deps: ServerDeps,
  bucket: string,
  q: { prefix: string; from?: string; after?: string; limit: number },
): Promise<ListEntry<StoredObject>[]> {
  const versionKey = (o: StoredObject) => `${o.name}\u0001${o.generation.padStart(20, "0")}`;
  // Live objects are keyed by name alone: widen to the name of `after` and filter by composite key.
  const afterName = q.after?.split("\u0001")[0];
  const [old, live] = await Promise.all([
    deps.repos.objectVersions.scan(bucket, q),
    deps.repos.objects.scan(bucket, {
      prefix: q.prefix,
      limit: q.limit + 1,
      ...(q.from !== undefined ? { from: q.from } : {}),
      ...(afterName !== undefined ? { from: afterName } : {}),
    }),
  ]);
  const merged = [
    ...old,
    ...live
      .map((e) => ({ ...e, key: versionKey(e.value) }))
      .filter((e) => q.after === undefined || compareNames(e.key, q.after) > 0),
  ].sort((a, b) => compareNames(a.key, b.key));
  return merged.slice(0, q.limit);
}

/** Streams an object's bytes, honouring `Range` (206) with GCS's response headers. */
async function download(ctx: RequestContext, deps: ServerDeps, o: StoredObject) {
  const size = Number(o.size);
  const range = parseRange(ctx.req.headers.range, size);
  const headers: Record<string, string | number> = {
    "Content-Type": o.contentType,
    ETag: `"${objectEtag(o)}"`,
    "Last-Modified": new Date(o.updated).toUTCString(),
    "Accept-Ranges": "bytes",
    "Cache-Control": "private, max-age=0",
    "X-Goog-Generation": o.generation,
    "X-Goog-Metageneration": o.metageneration,
    "X-Goog-Stored-Content-Length": o.size,
    "X-Goog-Stored-Content-Encoding": o.contentEncoding ?? "identity",
    "X-Goog-Hash": `crc32c=${o.crc32c}${o.md5Hash ? `,md5=${o.md5Hash}` : ""}`,
    "X-Goog-Storage-Class": o.storageClass,
    ...(o.contentEncoding ? { "Content-Encoding": o.contentEncoding } : {}),
    ...(o.contentDisposition ? { "Content-Disposition": o.contentDisposition } : {}),
    ...(o.contentLanguage ? { "Content-Language": o.contentLanguage } : {}),
  };
  if (range === "unsatisfiable") {
    sendJson(
      ctx.res,
      416,
      {
        error: {
          code: 416,
          message: "The requested range cannot be satisfied.",
          errors: [
            {
              message: "The requested range cannot be satisfied.",
              domain: "global",
              reason: "requestedRangeNotSatisfiable",
            },
          ],
        },
      },
      { "Content-Range": `bytes */${size}` },
    );
    return undefined;
  }
  let stream: ReturnType<typeof deps.objects.blobs.read>;
  try {
    stream = deps.objects.blobs.read(o.blobId, range ?? undefined);
    await new Promise<void>((ok, fail) => {
      stream.once("open", () => ok());
      stream.once("error", fail);
    });
  } catch {
    // Overwritten or deleted between the metadata read and the open.
    throw noSuchObject(o.bucket, o.name);
  }
  if (range) {
    headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
    headers["Content-Length"] = range.end - range.start + 1;
  } else headers["Content-Length"] = size;
  ctx.res.writeHead(range ? 206 : 200, headers);
  if (ctx.req.method === "HEAD") {
    stream.destroy();
    ctx.res.end();
    return undefined;
  }
  await pipeline(stream, ctx.res);
  return undefined;
}
