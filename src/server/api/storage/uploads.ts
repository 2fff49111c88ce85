/**
 * Cloud Storage uploads: `uploadType=media`, `multipart` and `resumable`. Bytes stream to disk
 * through the checksummer and become an object only when complete, verified against the hashes the
 * client declared, and committed with the request's preconditions. Resumable sessions follow GCS's
 * protocol (see docs/storage.md): the session URI is the credential for its chunks, chunks are
 * placed by their `Content-Range` (overlaps skipped, never appended blindly), `308` reports exactly
 * the bytes persisted, a status query never finalises unless it declares the persisted total.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { open, truncate, unlink } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { finished, PassThrough, type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { repositories, type UploadSession } from "../../../datastore/repositories.js";
import { ApiError, diskFull, InvalidArgument, isDiskFull, NotFound } from "../../../domain/errors.js";
import { ANONYMOUS, boundMemberOf, principalFromMember } from "../../../domain/iam/principal.js";
import type { Bucket } from "../../../domain/storage/bucket.js";
import {
  type DeclaredHashes,
  declaredProblem,
  hashMismatch,
  parseGoogHash,
} from "../../../domain/storage/checksums.js";
import {
  checkPreconditions,
  contentTypeFrom,
  encodeObjectName,
  type Preconditions,
  readPreconditions,
  renderObject,
  type StoredObject,
  type WritableMetadata,
  writableMetadata,
} from "../../../domain/storage/object.js";
import { CHUNK_GRANULARITY, parseContentRange } from "../../../domain/storage/ranges.js";
import type { ServerDeps } from "../../deps.js";
import { readBody, readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { BlobStore, type BlobSums } from "../../storage/blob-store.js";
import type { FollowJob } from "../../storage/hasher.js";
import { replaceCheck, requireStorage, storageRefs } from "./access.js";
import { boundaryOf, readMultipartRelated } from "./multipart.js";
import { storageHelpers } from "./objects.js";
import { nameParam, objectName } from "./params.js";

const SESSION_LIFETIME_MS = 7 * 24 * 3600 * 1000;
const UPLOAD_PATHS = ["/upload/storage/v1/b/{bucket}/o", "/resumable/upload/storage/v1/b/{bucket}/o"];

const badRequest = (message: string) => new InvalidArgument(message, "invalid");

function declaredFromBody(body: Record<string, unknown>): DeclaredHashes {
  const d: DeclaredHashes = {};
  if (typeof body.md5Hash === "string") d.md5Hash = body.md5Hash;
  if (typeof body.crc32c === "string") d.crc32c = body.crc32c;
  const problem = declaredProblem(d);
  if (problem) throw badRequest(problem);
  return d;
}

/** What a failed body stream means for the client: its own error, a full disk (503), or an interruption. */
function streamFailure(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (isDiskFull(err)) return diskFull();
  return badRequest("The upload was interrupted before all bytes arrived.");
}

/**
 * The request body as a stream an upload may fail on without tearing down the connection: when the
 * write side fails (a full disk), the rest of the body is read and dropped, so that the client gets
 * the answer rather than a reset connection (a stream pipeline would destroy the request, and with
 * it the socket). A client that goes away still fails the upload.
 */
function detachedBody(req: IncomingMessage): Readable {
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  req.pipe(body);
  // As a pipeline would: the body fails when the request does (aborted, reset, bad chunking).
  finished(req, (err) => {
    if (err || !req.complete) body.destroy(err ?? new Error("the client closed the connection mid-upload"));
  });
  body.once("close", () => {
    if (req.readableEnded) return;
    req.unpipe(body);
    req.resume();
  });
  return body;
}

/** The body size the client declared, or 0 when unknown (chunked). */
function bodyLength(req: IncomingMessage): number {
  const n = Number(header(req, "content-length"));
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

function mergeDeclared(a: DeclaredHashes, b: DeclaredHashes | string): DeclaredHashes {
  if (typeof b === "string") throw badRequest(b);
  return { ...a, ...b };
}

export function registerUploads(router: Router, deps: ServerDeps) {
  const { bucketOf } = storageHelpers(deps);
  const { objectRef } = storageRefs(deps);
  const sessions = new ResumableSessions(deps);

  /**
   * Authorizes creating `name` and checks preconditions early. Replacing an object that exists now
   * is refused here too, but that only spares the client sending the bytes: the object may appear
   * or go while they stream, so the commit decides both again (`replaceCheck`).
   */
  async function admit(ctx: RequestContext, b: Bucket, name: string, pre: Preconditions) {
    await requireStorage(deps, ctx, "storage.objects.create", objectRef(b, name), "object");
    const existing = await deps.repos.objects.get(b.name, name);
    if (existing) await replaceCheck(deps, ctx, b)(existing);
    checkPreconditions(pre, existing);
  }

  async function commit(
    ctx: RequestContext,
    b: Bucket,
    name: string,
    meta: WritableMetadata,
    sums: BlobSums,
    blobId: string,
    declared: DeclaredHashes,
    pre: Preconditions,
  ): Promise<StoredObject> {
    const mismatch = hashMismatch(declared, sums);
    if (mismatch) {
      await deps.objects.blobs.remove(blobId);
      throw badRequest(mismatch);
    }
    return deps.objects.create(b, name, meta, { blobId, ...sums }, pre, replaceCheck(deps, ctx, b));
  }

  async function media(ctx: RequestContext, b: Bucket, pre: Preconditions) {
    const name = objectName(nameParam(ctx));
    await admit(ctx, b, name, pre);
    const declared = mergeDeclared({}, parseGoogHash(ctx.req.headers["x-goog-hash"]));
    const contentType = contentTypeFrom(ctx.req.headers["content-type"]);
    await deps.objects.blobs.ensureRoom(bodyLength(ctx.req));
    const writer = deps.objects.blobs.writer();
    let sums: BlobSums;
    try {
      await pipeline(detachedBody(ctx.req), writer.sink);
      sums = await writer.publish();
    } catch (err) {
      await writer.abort();
      throw streamFailure(err);
    }
    return commit(ctx, b, name, { contentType }, sums, writer.id, declared, pre);
  }

  async function multipart(ctx: RequestContext, b: Bucket, pre: Preconditions) {
    const boundary = boundaryOf(ctx.req.headers["content-type"]);
    if (!boundary) throw badRequest("Multipart uploads need Content-Type: multipart/related; boundary=….");
    await deps.objects.blobs.ensureRoom(bodyLength(ctx.req));
    const writer = deps.objects.blobs.writer();
    let name = "";
    let meta: WritableMetadata = {};
    let declared: DeclaredHashes = {};
    try {
      await readMultipartRelated(detachedBody(ctx.req), boundary, async (metaPart, mediaPart) => {
        let body: Record<string, unknown> = {};
        if (metaPart.body.length) {
          try {
            const parsed = JSON.parse(metaPart.body.toString("utf8"));
            if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error();
            body = parsed as Record<string, unknown>;
          } catch {
            throw badRequest("The metadata part of a multipart upload must be a JSON object.");
          }
        }
        name = objectName((typeof body.name === "string" ? body.name : undefined) ?? nameParam(ctx));
        await admit(ctx, b, name, pre);
        meta = writableMetadata(body);
        meta.contentType ||= contentTypeFrom(mediaPart.headers["content-type"]);
        declared = mergeDeclared(declaredFromBody(body), parseGoogHash(ctx.req.headers["x-goog-hash"]));
        return writer.sink;
      });
    } catch (err) {
      await writer.abort();
      throw streamFailure(err);
    }
    let sums: BlobSums;
    try {
      sums = await writer.publish();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    return commit(ctx, b, name, meta, sums, writer.id, declared, pre);
  }

  async function initiate(ctx: RequestContext, b: Bucket, pre: Preconditions) {
    const body = await readJsonObject(ctx.req);
    const name = objectName((typeof body.name === "string" ? body.name : undefined) ?? nameParam(ctx));
    await admit(ctx, b, name, pre);
    const meta = writableMetadata(body);
    const xType = ctx.req.headers["x-upload-content-type"];
    if (typeof xType === "string" && xType) meta.contentType ||= contentTypeFrom(xType);
    const xLength = ctx.req.headers["x-upload-content-length"];
    let total: number | undefined;
    if (typeof xLength === "string" && xLength !== "") {
      if (!/^\d{1,16}$/.test(xLength))
        throw badRequest(`Invalid X-Upload-Content-Length '${xLength.slice(0, 20)}'.`);
      total = Number(xLength);
    }
    const declared = mergeDeclared(declaredFromBody(body), parseGoogHash(ctx.req.headers["x-goog-hash"]));
    await deps.objects.blobs.ensureRoom(total ?? 0);
    const { uploadId } = await sessions.create(
      b,
      name,
      meta,
      pre,
      declared,
      boundMemberOf(ctx.caller.principal),
      total,
    );
    const location = `${ctx.baseUrl}/upload/storage/v1/b/${encodeURIComponent(b.name)}/o?uploadType=resumable&name=${encodeObjectName(name)}&upload_id=${uploadId}`;
    ctx.res.writeHead(200, { Location: location, "X-GUploader-UploadID": uploadId, "Content-Length": 0 });
    ctx.res.end();
    return undefined;
  }

  for (const path of UPLOAD_PATHS) {
    router.add(
      "POST",
      path,
      async (ctx) => {
        const b = await bucketOf(ctx.params.bucket);
        const pre = readPreconditions(ctx.url.searchParams);
        const protocol = ctx.req.headers["x-goog-upload-protocol"];
        const type =
          ctx.url.searchParams.get("uploadType") ??
          (typeof protocol === "string" ? protocol.toLowerCase() : undefined) ??
          (path.startsWith("/resumable") ? "resumable" : undefined);
        let created: StoredObject;
        switch (type) {
          case "media":
            created = await media(ctx, b, pre);
            break;
          case "multipart":
            created = await multipart(ctx, b, pre);
            break;
          case "resumable":
            return initiate(ctx, b, pre);
          case undefined:
            throw new InvalidArgument("Required parameter: uploadType", "required");
          default:
            throw badRequest(
              `Invalid uploadType '${type.slice(0, 40)}': expected media, multipart or resumable.`,
            );
        }
        return renderObject(created, ctx.baseUrl);
      },
      "optional",
    );
    // Chunks and cancellation: the session URI (its upload_id) is the credential, as at GCS.
    router.add("PUT", path, (ctx) => sessions.put(ctx), "none");
    router.add("DELETE", path, (ctx) => sessions.cancel(ctx), "none");
  }
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** Resumable upload sessions: state in the datastore, bytes in `uploads/<fileId>`. */
class ResumableSessions {
  /** Per-session queue: chunks of one session are applied one at a time. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: ServerDeps) {}

  async create(
    b: Bucket,
    name: string,
    metadata: WritableMetadata,
    pre: Preconditions,
    declared: DeclaredHashes,
    principal: string,
    total: number | undefined,
  ) {
    const uploadId = randomBytes(32).toString("base64url");
    const now = Date.now();
    const session: UploadSession = {
      idSha256: sha256(uploadId),
      fileId: BlobStore.newId(),
      bucket: b.name,
      name,
      metadata: metadata as Record<string, unknown>,
      preconditions: pre as Record<string, string>,
      declared,
      principal,
      ...(total !== undefined ? { total } : {}),
      persisted: 0,
      createTime: new Date(now).toISOString(),
      expireTime: new Date(now + SESSION_LIFETIME_MS).toISOString(),
    };
    const file = this.deps.objects.blobs.uploadPath(session.fileId);
    const fh = await open(file, "w", 0o600);
    await fh.close();
    try {
      await this.deps.store.transaction((tx) => repositories(tx).uploads.put(session));
    } catch (err) {
      await unlink(file).catch(() => {});
      throw err;
    }
    return { uploadId, session };
  }

  private async load(ctx: RequestContext): Promise<UploadSession> {
    const id = ctx.url.searchParams.get("upload_id");
    if (!id) throw new InvalidArgument("Required parameter: upload_id", "required");
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(id)) throw new NotFound("No such upload session.");
    const s = (await this.deps.repos.uploads.get(sha256(id))) as UploadSession | undefined;
    if (!s || Date.parse(s.expireTime) < Date.now()) throw new NotFound("No such upload session.");
    return s;
  }

  private serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => {});
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return next;
  }

  async put(ctx: RequestContext) {
    const first = await this.load(ctx);
    // The session URI stands in for its initiator's credential: log the request as theirs.
    ctx.caller = { principal: principalFromMember(first.principal) ?? ANONYMOUS };
    return this.serialized(first.idSha256, async () => {
      const s = await this.load(ctx);
      if (s.finalized) {
        await drain(ctx.req);
        return this.finalizedObject(ctx, s);
      }
      const range = parseContentRange(header(ctx.req, "content-range"));
      if (typeof range === "string") throw badRequest(range);
      if (range.kind === "query") {
        const body = await readBody(ctx.req, 0).catch(() => {
          throw badRequest("Client sent query request with a non-empty body.");
        });
        if (body.length) throw badRequest("Client sent query request with a non-empty body.");
        const total = range.total ?? s.total;
        if (total !== undefined && total !== null && total < s.persisted)
          throw badRequest(
            `The declared size ${total} is smaller than the ${s.persisted} bytes already received.`,
          );
        if (range.total !== null && range.total === s.persisted) return this.finalize(ctx, s);
        return this.incomplete(ctx, s);
      }
      if (range.start > s.persisted) {
        await drain(ctx.req);
        throw badRequest(
          `Invalid request: this chunk starts at byte ${range.start} but only ${s.persisted} bytes have been received; query the session status and resume from there.`,
        );
      }
      const total = range.kind === "chunk" ? (range.total ?? s.total) : undefined;
      if (range.kind === "chunk" && s.total !== undefined && range.total !== null && range.total !== s.total)
        throw badRequest(`The declared size ${range.total} differs from the ${s.total} declared earlier.`);
      const expected = range.kind === "chunk" ? range.end - range.start + 1 : undefined;
      const declaredLength = header(ctx.req, "content-length");
      if (expected !== undefined && declaredLength !== undefined && Number(declaredLength) !== expected)
        throw badRequest(
          `Content-Length ${declaredLength} does not match the ${expected} bytes named by Content-Range.`,
        );
      await this.deps.objects.blobs.ensureRoom(expected ?? bodyLength(ctx.req));
      const { received, hashing } = await this.write(ctx, s, range.start, expected);
      const end = range.start + received;
      if (expected !== undefined && received !== expected) {
        hashing?.cancel();
        throw badRequest(`The request carried ${received} bytes; Content-Range named ${expected}.`);
      }
      let persisted = Math.max(s.persisted, end);
      const final = range.kind === "rest" || (total !== undefined && total !== null && end === total);
      if (total !== undefined && total !== null && persisted > total)
        throw badRequest(`Received ${persisted} bytes, more than the declared size ${total}.`);
      // Non-final chunks count in whole 256 KiB units; the client resends the remainder.
      if (!final && persisted % CHUNK_GRANULARITY !== 0)
        persisted = Math.max(s.persisted, persisted - (persisted % CHUNK_GRANULARITY));
      const next: UploadSession = {
        ...s,
        persisted,
        ...(total !== undefined && total !== null ? { total } : {}),
      };
      await this.deps.store.transaction((tx) => repositories(tx).uploads.put(next));
      // The streamed checksum covers the object only if every byte came in this request.
      const whole = final && next.persisted === end ? hashing : undefined;
      if (hashing !== whole) hashing?.cancel();
      if (final) return this.finalize(ctx, next, whole);
      return this.incomplete(ctx, next);
    });
  }

  /** Writes the request body at `start`, skipping bytes already persisted; returns bytes received. */
  private async write(ctx: RequestContext, s: UploadSession, start: number, limit: number | undefined) {
    const path = this.deps.objects.blobs.uploadPath(s.fileId);
    let received = 0;
    // A request that writes the object from its first byte is checksummed while it streams in
    // (Node's single-shot upload); other sessions are checksummed when they complete.
    const hashing =
      s.persisted === 0 && start === 0 ? this.deps.objects.blobs.hasher.follow(path) : undefined;
    // Bytes a failed request left past the persisted ones are not part of the session.
    await truncate(path, s.persisted);
    const skip = s.persisted - start;
    const placer = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _enc, cb) {
        const at = received;
        received += chunk.length;
        if (limit !== undefined && received > limit) {
          cb(badRequest(`The request carried more than the ${limit} bytes named by Content-Range.`));
          return;
        }
        const fresh = at >= skip ? chunk : received > skip ? chunk.subarray(skip - at) : null;
        if (!fresh) return cb();
        cb(null, fresh);
      },
    });
    try {
      // The stream opens and closes its own descriptor: sharing one with a FileHandle closed it
      // twice when a write failed (EBADF).
      await pipeline(
        detachedBody(ctx.req),
        placer,
        createWriteStream(path, { flags: "r+", start: s.persisted, highWaterMark: 1 << 20 }),
      );
      const fh = await open(path, "r+");
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      // Bytes of a failed request are not credited; remove them now (a full disk wants them back).
      hashing?.cancel();
      await truncate(path, s.persisted).catch(() => {});
      throw streamFailure(err);
    }
    return { received, hashing };
  }

  private incomplete(ctx: RequestContext, s: UploadSession) {
    ctx.res.writeHead(308, {
      ...(s.persisted > 0 ? { Range: `bytes=0-${s.persisted - 1}` } : {}),
      "X-GUploader-UploadID": ctx.url.searchParams.get("upload_id") ?? "",
      "Content-Length": 0,
    });
    ctx.res.end();
    return undefined;
  }

  private async finalize(ctx: RequestContext, s: UploadSession, streamed?: FollowJob) {
    const path = this.deps.objects.blobs.uploadPath(s.fileId);
    // Off the event loop either way: a 1 GiB object takes seconds to checksum.
    const sums = await (streamed
      ? streamed.finish(s.persisted)
      : this.deps.objects.blobs.hasher.hashFile(path, s.persisted));
    const mismatch = hashMismatch(s.declared, sums);
    if (mismatch) {
      await this.discard(s);
      throw badRequest(mismatch);
    }
    const bucket = await this.deps.repos.buckets.get(s.bucket);
    if (!bucket) {
      await this.discard(s);
      throw new NotFound("The specified bucket does not exist.");
    }
    const blobId = await this.deps.objects.blobs.adopt(path);
    let created: StoredObject;
    try {
      created = await this.deps.objects.create(
        bucket,
        s.name,
        s.metadata as WritableMetadata,
        { blobId, ...sums },
        s.preconditions as Preconditions,
        // `ctx.caller` is the session's initiator (see `put`).
        replaceCheck(this.deps, ctx, bucket),
      );
    } catch (err) {
      await this.deps.store.transaction((tx) => repositories(tx).uploads.delete(s.idSha256));
      throw err;
    }
    await this.deps.store.transaction((tx) =>
      repositories(tx).uploads.put({
        ...s,
        finalized: { bucket: created.bucket, name: created.name, generation: created.generation },
      }),
    );
    return renderObject(created, ctx.baseUrl);
  }

  private async finalizedObject(ctx: RequestContext, s: UploadSession) {
    const f = s.finalized!;
    const o = await this.deps.objects.find(f.bucket, f.name, f.generation);
    if (!o) throw new NotFound("The upload completed, but its object no longer exists.");
    return renderObject(o, ctx.baseUrl);
  }

  private async discard(s: UploadSession) {
    await unlink(this.deps.objects.blobs.uploadPath(s.fileId)).catch(() => {});
    await this.deps.store.transaction((tx) => repositories(tx).uploads.delete(s.idSha256));
  }

  async cancel(ctx: RequestContext) {
    const s = await this.load(ctx);
    await this.serialized(s.idSha256, () => this.discard(s));
    // GCS answers a cancelled session with 499 "Client Closed Request".
    throw new ApiError(499, "ABORTED", "clientClosedRequest", "The resumable upload was cancelled.");
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads and drops a request body (bounded by the server's timeouts). */
async function drain(req: IncomingMessage) {
  for await (const _ of req) {
  }
}
