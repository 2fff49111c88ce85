/**
 * Object bytes on the filesystem. Each blob gets a random id (never a name derived from the object
 * name, so no object name can reach outside the data directory). Bytes stream into `tmp/`, are
 * checksummed on the way, fsynced, and renamed into `blobs/` before the object's metadata commits:
 * a crash mid-upload leaves at most a temp file (cleared at start) or an unreferenced blob (swept),
 * never a visible partial object. The directory may be shared by several nodes (`--blob-dir` on a
 * shared filesystem): metadata lives in the datastore, so a blob becomes visible on every node when
 * its object's metadata commits.
 */
import { randomBytes } from "node:crypto";
import type { WriteStream } from "node:fs";
import { createReadStream, createWriteStream, type ReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, statfs, unlink } from "node:fs/promises";
import { join } from "node:path";
import { diskFull } from "../../domain/errors.js";
import { FileHasher, type FollowJob } from "./hasher.js";

const ID = /^[A-Za-z0-9_-]{22}$/;

export interface BlobSums {
  size: number;
  md5Hash: string;
  crc32c: string;
}

/** Free space kept in reserve by default: uploads that would eat into it are refused (503). */
export const DEFAULT_STORAGE_RESERVE_BYTES = 64 * 1024 * 1024;

/** In a shared blob directory, another node's temp files older than this are a crashed node's. */
export const SHARED_TMP_MAX_AGE_MS = 24 * 3600_000;
/**
 * In a shared blob directory the start-up sweep spares blobs and session files younger than this:
 * another node may have just published a blob whose metadata is about to commit.
 */
export const SHARED_SWEEP_MARGIN_MS = 3600_000;

/** Bytes available to this process on the filesystem holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

export class BlobStore {
  readonly blobsDir: string;
  readonly tmpDir: string;
  readonly uploadsDir: string;
  /** MD5 and CRC32C run in a worker thread, beside the socket reads rather than between them. */
  readonly hasher = new FileHasher();

  constructor(
    readonly root: string,
    /** Free space (bytes) that uploads may not take: the datastore, audit log and OS need room too. */
    readonly reserveBytes = DEFAULT_STORAGE_RESERVE_BYTES,
    /**
     * Other nodes use the directory too (`--blob-dir`): each writes temp files in a directory of its
     * own under `tmp/`, and only temp files older than a day are cleared at start.
     */
    readonly shared = false,
  ) {
    this.blobsDir = join(root, "blobs");
    this.tmpDir = shared ? join(root, "tmp", BlobStore.newId()) : join(root, "tmp");
    this.uploadsDir = join(root, "uploads");
  }

  /** Creates the directories and drops temp files of uploads a previous process did not finish. */
  async init() {
    for (const d of [this.blobsDir, this.uploadsDir]) await mkdir(d, { recursive: true, mode: 0o700 });
    if (this.shared) {
      // Another node's uploads in flight are in its own temp directory: leave all but stale ones.
      const tmpRoot = join(this.root, "tmp");
      await mkdir(tmpRoot, { recursive: true, mode: 0o700 });
      for (const d of await readdir(tmpRoot).catch(() => [] as string[])) {
        const s = await stat(join(tmpRoot, d)).catch(() => null);
        if (s && s.mtimeMs < Date.now() - SHARED_TMP_MAX_AGE_MS)
          await rm(join(tmpRoot, d), { recursive: true, force: true });
      }
    } else await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
  }

  async close() {
    await this.hasher.close();
  }

  /**
   * Refuses (503, disk full) to accept `incoming` more bytes when that would leave less than the
   * reserve free. Checked before a request's bytes are read; a write that still finds no room
   * (ENOSPC, EDQUOT) is answered the same way and its bytes removed.
   */
  async ensureRoom(incoming: number) {
    if ((await freeBytes(this.root)) - incoming < this.reserveBytes) throw diskFull();
  }

  static newId() {
    return randomBytes(16).toString("base64url");
  }

  path(blobId: string): string {
    if (!ID.test(blobId)) throw new Error("invalid blob id");
    return join(this.blobsDir, blobId.slice(0, 2), blobId);
  }

  uploadPath(sessionId: string): string {
    if (!ID.test(sessionId)) throw new Error("invalid upload session id");
    return join(this.uploadsDir, sessionId);
  }

  /** A new blob being written. */
  writer(): BlobWriter {
    return new BlobWriter(this, BlobStore.newId());
  }

  read(blobId: string, range?: { start: number; end: number }): ReadStream {
    return createReadStream(this.path(blobId), {
      ...(range ? { start: range.start, end: range.end } : {}),
      highWaterMark: 256 * 1024,
    });
  }

  async remove(blobId: string) {
    await unlink(this.path(blobId)).catch(() => {});
  }

  /** Moves a finished file (fsynced by the caller) into the blob namespace under a new id. */
  async adopt(file: string): Promise<string> {
    const id = BlobStore.newId();
    const dest = this.path(id);
    await mkdir(join(this.blobsDir, id.slice(0, 2)), { recursive: true, mode: 0o700 });
    await rename(file, dest);
    return id;
  }

  /** Deletes resumable-session files whose session is gone (expired, cancelled, or never recorded). */
  async sweepUploads(isLive: (fileId: string) => boolean, before: number): Promise<number> {
    let removed = 0;
    for (const id of await readdir(this.uploadsDir).catch(() => [] as string[])) {
      if (isLive(id)) continue;
      const file = join(this.uploadsDir, id);
      const s = await stat(file).catch(() => null);
      if (s && s.mtimeMs < before) {
        await unlink(file).catch(() => {});
        removed++;
      }
    }
    return removed;
  }

  /**
   * Deletes blobs no object refers to, left by a crash between a blob's rename and its metadata
   * commit. Only blobs older than `before` are considered, so an upload in flight is never touched.
   */
  async sweep(isReferenced: (blobId: string) => boolean, before: number): Promise<number> {
    let removed = 0;
    for (const shard of await readdir(this.blobsDir).catch(() => [] as string[]))
      for (const id of await readdir(join(this.blobsDir, shard)).catch(() => [] as string[])) {
        if (!ID.test(id) || isReferenced(id)) continue;
        const file = join(this.blobsDir, shard, id);
        const s = await stat(file).catch(() => null);
        if (s && s.mtimeMs < before) {
          await unlink(file).catch(() => {});
          removed++;
        }
      }
    return removed;
  }
}

/**
 * Streams bytes into a temp file while the hash worker checksums what reaches it; `publish()` makes
 * it a blob.
 */
export class BlobWriter {
  readonly tmpPath: string;
  readonly sink: WriteStream;
  private readonly hashing: FollowJob;
  private done = false;
  /** The sink's first error. Kept here because a write still in flight when `abort()` destroys the
   *  sink fails after every other listener is gone, and an unheard stream error ends the process. */
  private failure: Error | undefined;

  constructor(
    private readonly store: BlobStore,
    readonly id: string,
  ) {
    this.tmpPath = join(store.tmpDir, id);
    this.sink = createWriteStream(this.tmpPath, { flags: "wx", mode: 0o600, highWaterMark: 1 << 20 });
    this.sink.on("error", (err) => {
      this.failure ??= err;
    });
    this.hashing = store.hasher.follow(this.tmpPath);
  }

  get size() {
    return this.sink.bytesWritten;
  }

  /** Waits for every byte to reach the file, fsyncs it, and moves it into `blobs/`. */
  async publish(): Promise<BlobSums> {
    if (this.failure) throw this.failure;
    if (!this.sink.writableFinished)
      await new Promise<void>((resolve, reject) => {
        this.sink.once("finish", resolve);
        this.sink.once("error", reject);
        if (!this.sink.writableEnded) this.sink.end();
      });
    const fh = await open(this.tmpPath, "r");
    let sums: BlobSums;
    try {
      [sums] = await Promise.all([this.hashing.finish(this.sink.bytesWritten), fh.datasync()]);
    } finally {
      await fh.close();
    }
    await mkdir(join(this.store.blobsDir, this.id.slice(0, 2)), { recursive: true, mode: 0o700 });
    await rename(this.tmpPath, this.store.path(this.id));
    this.done = true;
    return sums;
  }

  /** Drops the bytes (the temp file, or the blob if already published). */
  async abort() {
    this.hashing.cancel();
    // The file may still be opening: wait until it is closed, or the unlink could come first.
    if (!this.sink.closed)
      await new Promise<void>((resolve) => {
        this.sink.once("close", () => resolve());
        this.sink.destroy();
      });
    await unlink(this.tmpPath).catch(() => {});
    if (this.done) await this.store.remove(this.id);
  }
}
