/**
 * The main-thread side of the hash worker: one worker thread, started on first use, shared by all
 * uploads. `follow(path)` starts hashing a file that is being written; `finish(size)` resolves with
 * its checksums once the worker has read exactly `size` bytes.
 */
import { Worker } from "node:worker_threads";
import type { HashReply, HashRequest } from "./hash-worker.js";

export interface FileSums {
  size: number;
  md5Hash: string;
  crc32c: string;
}

export interface FollowJob {
  finish(size: number): Promise<FileSums>;
  cancel(): void;
}

export class FileHasher {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (s: FileSums) => void; reject: (e: Error) => void }
  >();

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL("./hash-worker.js", import.meta.url));
    w.on("message", (r: HashReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      this.settle();
      if (r.ok) p.resolve({ size: r.size, md5Hash: r.md5Hash, crc32c: r.crc32c });
      else p.reject(new Error(`checksum of an upload failed: ${r.error}`));
    });
    w.on("error", (err) => this.failAll(err));
    w.on("exit", () => {
      this.worker = undefined;
      this.failAll(new Error("the checksum worker stopped"));
    });
    this.worker = w;
    this.settle();
    return w;
  }

  /** The worker keeps the process alive only while a job is waited on. */
  private settle() {
    if (this.pending.size) this.worker?.ref();
    else this.worker?.unref();
  }

  private failAll(err: Error) {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private send(m: HashRequest) {
    this.start().postMessage(m);
  }

  follow(path: string): FollowJob {
    const id = this.nextId++;
    const result = new Promise<FileSums>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker?.ref();
    // A cancelled job never answers; nobody waits on it, so an unhandled rejection must not surface.
    result.catch(() => {});
    this.send({ op: "follow", id, path });
    return {
      finish: (size) => {
        this.send({ op: "finish", id, size });
        return result;
      },
      cancel: () => {
        this.pending.delete(id);
        this.settle();
        this.worker?.postMessage({ op: "cancel", id } satisfies HashRequest);
      },
    };
  }

  /** The checksums of the first `size` bytes of a complete file. */
  hashFile(path: string, size: number): Promise<FileSums> {
    return this.follow(path).finish(size);
  }

  async close() {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
