/**
 * A thread of the signing pool (signing-pool.ts): RS256 signatures with `crypto.sign`, off the event
 * loop. Keys arrive as `KeyObject`s through `postMessage` (cloned into this thread's memory, never
 * exported as text) and are held by kid; every signing request names its key.
 */
import { type KeyObject, sign } from "node:crypto";
import { parentPort } from "node:worker_threads";

export type ToWorker =
  | { t: "key"; kid: string; key: KeyObject }
  | { t: "forget" }
  | { t: "sign"; jobs: { id: number; kid: string; input: string }[] };
/** The answers to one `sign` message, in its order. */
export type FromWorker = { results: Result[] };
export type Result = { id: number; sig: Uint8Array } | { id: number; error: string };

const keys = new Map<string, KeyObject>();
const port = parentPort;
if (!port) throw new Error("signing-worker.js runs as a worker thread of the signing pool");

// Jobs arrive in batches (everything the event loop dispatched in one turn) and leave in one
// message: each message costs both threads more than a little, a signature about 250 µs.
port.on("message", (m: ToWorker) => {
  if (m.t === "key") keys.set(m.kid, m.key);
  else if (m.t === "forget") keys.clear();
  else {
    const results: Result[] = [];
    const moved: ArrayBuffer[] = [];
    for (const job of m.jobs) {
      const key = keys.get(job.kid);
      if (!key) {
        results.push({ id: job.id, error: `no key ${job.kid} in this signing thread` });
        continue;
      }
      try {
        const sig = sign("sha256", Buffer.from(job.input), key);
        results.push({ id: job.id, sig: new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength) });
        // The signature's own buffer moves to the main thread (no copy) when it is its alone.
        if (sig.byteLength === sig.buffer.byteLength) moved.push(sig.buffer as ArrayBuffer);
      } catch (err) {
        results.push({ id: job.id, error: (err as Error).message });
      }
    }
    port.postMessage({ results } satisfies FromWorker, moved);
  }
});
