/**
 * Worker thread that computes MD5 and CRC32C of files, off the event loop. A `follow` job hashes a
 * file while it is still being written (reading what has reached the page cache) until it is told
 * the final size, so an upload's bytes are hashed alongside the socket reads instead of after them
 * or in between them on the main thread.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parentPort } from "node:worker_threads";
import { crc32c } from "@node-rs/crc32";
import { crc32cBase64 } from "../../domain/storage/checksums.js";

export type HashRequest =
  | { op: "follow"; id: number; path: string }
  | { op: "finish"; id: number; size: number }
  | { op: "cancel"; id: number };

export type HashReply =
  | { id: number; ok: true; size: number; md5Hash: string; crc32c: string }
  | { id: number; ok: false; error: string };

interface Job {
  final?: number;
  cancelled?: boolean;
}

const BUFFER = 1 << 20;
const jobs = new Map<number, Job>();

async function follow(id: number, path: string, job: Job) {
  let fd: number | undefined;
  try {
    // The writer opens its file asynchronously: the job may start first.
    for (let waited = 0; fd === undefined; waited++) {
      try {
        fd = openSync(path, "r");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT" || job.cancelled || waited > 10_000) throw err;
        await sleep(1);
      }
    }
    if (job.cancelled) return;
    const buf = Buffer.allocUnsafe(BUFFER);
    const md5 = createHash("md5");
    let crc = 0;
    let pos = 0;
    let reads = 0;
    for (;;) {
      if (job.cancelled) return;
      if (job.final !== undefined && pos >= job.final) break;
      const want = job.final !== undefined ? Math.min(BUFFER, job.final - pos) : BUFFER;
      const n = readSync(fd, buf, 0, want, pos);
      if (n > 0) {
        const bytes = buf.subarray(0, n);
        md5.update(bytes);
        crc = crc32c(bytes, crc);
        pos += n;
        // Let other jobs and the next messages in now and then.
        if (++reads % 8 === 0) await new Promise((r) => setImmediate(r));
        continue;
      }
      if (job.final !== undefined) throw new Error(`the file ended at ${pos} bytes, before ${job.final}`);
      await sleep(1);
    }
    const reply: HashReply = {
      id,
      ok: true,
      size: pos,
      md5Hash: md5.digest("base64"),
      crc32c: crc32cBase64(crc),
    };
    parentPort!.postMessage(reply);
  } catch (err) {
    parentPort!.postMessage({ id, ok: false, error: (err as Error).message } satisfies HashReply);
  } finally {
    if (fd !== undefined) closeSync(fd);
    jobs.delete(id);
  }
}

parentPort!.on("message", (m: HashRequest) => {
  if (m.op === "follow") {
    const job: Job = {};
    jobs.set(m.id, job);
    void follow(m.id, m.path, job);
  } else {
    const job = jobs.get(m.id);
    if (!job) return;
    if (m.op === "finish") job.final = m.size;
    else job.cancelled = true;
  }
});
