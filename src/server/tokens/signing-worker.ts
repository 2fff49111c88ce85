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
  | { t: "sign"; id: number; kid: string; input: string };
export type FromWorker = { id: number; sig: Uint8Array } | { id: number; error: string };

const keys = new Map<string, KeyObject>();
const port = parentPort;
if (!port) throw new Error("signing-worker.js runs as a worker thread of the signing pool");

port.on("message", (m: ToWorker) => {
  if (m.t === "key") keys.set(m.kid, m.key);
  else if (m.t === "forget") keys.clear();
  else {
    const key = keys.get(m.kid);
    if (!key) {
      port.postMessage({ id: m.id, error: `no key ${m.kid} in this signing thread` } satisfies FromWorker);
      return;
    }
    try {
      const sig = sign("sha256", Buffer.from(m.input), key);
      // The signature's own buffer moves to the main thread (no copy).
      const out = new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
      port.postMessage(
        { id: m.id, sig: out } satisfies FromWorker,
        sig.byteLength === sig.buffer.byteLength ? [sig.buffer] : [],
      );
    } catch (err) {
      port.postMessage({ id: m.id, error: (err as Error).message } satisfies FromWorker);
    }
  }
});
