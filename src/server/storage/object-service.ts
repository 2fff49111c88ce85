/**
 * Object lifecycle over the datastore and the blob store: every change of an object's live
 * generation happens in one datastore transaction that also checks the request's preconditions,
 * so two writers racing on `ifGenerationMatch` cannot both win. Blobs are published before the
 * commit and removed after it (or after a failed commit), never the other way round.
 */
import type { Datastore } from "../../datastore/datastore.js";
import { repositories } from "../../datastore/repositories.js";
import { NotFound } from "../../domain/errors.js";
import type { Bucket } from "../../domain/storage/bucket.js";
import {
  checkPreconditions,
  nextGeneration,
  type Preconditions,
  type StoredObject,
  type WritableMetadata,
} from "../../domain/storage/object.js";
import type { BlobStore } from "./blob-store.js";

export const noSuchObject = (bucket: string, name: string) =>
  new NotFound(`No such object: ${bucket}/${name}`);
export const noSuchBucket = () => new NotFound("The specified bucket does not exist.");

export interface NewObjectBytes {
  blobId: string;
  size: number;
  md5Hash?: string;
  crc32c: string;
  componentCount?: number;
}

/**
 * Decides, inside the commit transaction, whether the caller may replace the live object it found
 * there; throws (403) to refuse. Overwriting needs more than creating (`storage.objects.delete`), and
 * only the commit knows whether an object exists by then.
 */
export type ReplaceCheck = (existing: StoredObject) => Promise<unknown>;

export class ObjectService {
  constructor(
    private readonly store: Datastore,
    readonly blobs: BlobStore,
  ) {}

  /** The live object, or a specific generation (live or noncurrent). */
  async find(bucket: string, name: string, generation?: string): Promise<StoredObject | undefined> {
    const repos = repositories(this.store);
    const live = await repos.objects.get(bucket, name);
    if (generation === undefined || live?.generation === generation) return live;
    return repos.objectVersions.get(bucket, name, generation);
  }

  /**
   * Makes published bytes the new live generation of `name`. The previous generation becomes
   * noncurrent in a versioned bucket, and its blob is removed otherwise. `mayReplace` runs in the
   * same transaction as the preconditions, against the object that is about to be replaced.
   */
  async create(
    bucket: Bucket,
    name: string,
    meta: WritableMetadata,
    bytes: NewObjectBytes,
    pre: Preconditions,
    mayReplace: ReplaceCheck,
  ): Promise<StoredObject> {
    const garbage: string[] = [];
    try {
      const created = await this.store.transaction(async (tx) => {
        const r = repositories(tx);
        const b = await r.buckets.get(bucket.name);
        if (!b) throw noSuchBucket();
        const cur = await r.objects.get(b.name, name);
        if (cur) await mayReplace(cur);
        checkPreconditions(pre, cur);
        const now = new Date().toISOString();
        const o: StoredObject = {
          bucket: b.name,
          name,
          generation: nextGeneration(),
          metageneration: "1",
          contentType: meta.contentType || "application/octet-stream",
          size: String(bytes.size),
          ...(bytes.md5Hash ? { md5Hash: bytes.md5Hash } : {}),
          crc32c: bytes.crc32c,
          ...(bytes.componentCount ? { componentCount: bytes.componentCount } : {}),
          storageClass: b.storageClass,
          ...(meta.metadata && Object.keys(meta.metadata).length ? { metadata: meta.metadata } : {}),
          ...(meta.contentEncoding ? { contentEncoding: meta.contentEncoding } : {}),
          ...(meta.contentDisposition ? { contentDisposition: meta.contentDisposition } : {}),
          ...(meta.contentLanguage ? { contentLanguage: meta.contentLanguage } : {}),
          ...(meta.cacheControl ? { cacheControl: meta.cacheControl } : {}),
          timeCreated: now,
          updated: now,
          blobId: bytes.blobId,
        };
        if (cur) {
          if (b.versioning?.enabled) await r.objectVersions.put({ ...cur, timeDeleted: now });
          else garbage.push(cur.blobId);
        }
        await r.objects.put(o);
        return o;
      });
      await this.collect(garbage);
      return created;
    } catch (err) {
      await this.blobs.remove(bytes.blobId);
      throw err;
    }
  }

  /** Metadata update of one generation: bumps its metageneration. */
  async update(
    bucket: string,
    name: string,
    generation: string | undefined,
    pre: Preconditions,
    change: (cur: StoredObject) => StoredObject,
  ): Promise<StoredObject> {
    return this.store.transaction(async (tx) => {
      const r = repositories(tx);
      const live = await r.objects.get(bucket, name);
      const isLive = generation === undefined || live?.generation === generation;
      const cur = isLive ? live : await r.objectVersions.get(bucket, name, generation!);
      if (!cur) throw noSuchObject(bucket, name);
      checkPreconditions(pre, cur);
      const next: StoredObject = {
        ...change(cur),
        metageneration: String(Number(cur.metageneration) + 1),
        updated: new Date().toISOString(),
      };
      if (isLive) await r.objects.put(next);
      else await r.objectVersions.put(next);
      return next;
    });
  }

  /**
   * Deletes the live object (kept as noncurrent in a versioned bucket) or, with `generation`, that
   * generation permanently.
   */
  async delete(bucket: string, name: string, generation: string | undefined, pre: Preconditions) {
    const garbage: string[] = [];
    await this.store.transaction(async (tx) => {
      const r = repositories(tx);
      const b = await r.buckets.get(bucket);
      if (!b) throw noSuchBucket();
      const live = await r.objects.get(bucket, name);
      if (generation !== undefined && live?.generation !== generation) {
        const old = await r.objectVersions.get(bucket, name, generation);
        if (!old) throw noSuchObject(bucket, name);
        checkPreconditions(pre, live);
        await r.objectVersions.delete(old);
        garbage.push(old.blobId);
        return;
      }
      if (!live) throw noSuchObject(bucket, name);
      checkPreconditions(pre, live);
      await r.objects.delete(bucket, name);
      if (b.versioning?.enabled && generation === undefined)
        await r.objectVersions.put({ ...live, timeDeleted: new Date().toISOString() });
      else garbage.push(live.blobId);
    });
    await this.collect(garbage);
  }

  /** Whether a bucket holds anything (live or noncurrent), which forbids deleting it. */
  async bucketInUse(bucket: string): Promise<boolean> {
    const r = repositories(this.store);
    return (await r.objects.any(bucket)) || (await r.objectVersions.any(bucket));
  }

  /**
   * Removes what no one can reach any more: blobs of an interrupted run that no object refers to,
   * expired resumable sessions, and session files without a session. Only files older than
   * `before` are touched, so uploads in flight are safe.
   */
  async sweep(before: number): Promise<number> {
    const r = repositories(this.store);
    const referenced = new Set<string>();
    for await (const o of r.objects.all()) referenced.add(o.blobId);
    for await (const o of r.objectVersions.all()) referenced.add(o.blobId);
    const live = new Set<string>();
    for (const u of await r.uploads.all()) {
      if (Date.parse(u.expireTime) < before)
        await this.store.transaction((tx) => repositories(tx).uploads.delete(u.idSha256));
      else live.add(u.fileId);
    }
    const blobs = await this.blobs.sweep((id) => referenced.has(id), before);
    const uploads = await this.blobs.sweepUploads((id) => live.has(id), before);
    return blobs + uploads;
  }

  private async collect(blobIds: string[]) {
    for (const id of blobIds) await this.blobs.remove(id);
  }
}
