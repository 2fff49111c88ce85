/**
 * RS256 signing for token mints on every core: `crypto.sign` with a callback, which Node runs on
 * libuv's threadpool, so the event loop only builds the token around the signature and mints scale
 * past one core's signing rate.
 *
 * Why libuv's threads and not a pool of `worker_threads`: a signature handed to a worker costs a
 * structured-clone message each way and a `message` event on the event loop, about 13 µs of the
 * loop's time per mint when answered one by one; batching the messages saved that but made the
 * signing threads wait for whole batches, leaving a sixth of the two cores idle under load. A libuv
 * job costs the loop one callback, and each signature comes back as soon as it is made (measured in
 * docs/performance.md). The threadpool has `UV_THREADPOOL_SIZE` threads, which `bin/warrant.cjs`
 * sets before anything uses it (bin/threadpool-size.cjs: one per core, at least 2).
 *
 * - **Keys** stay `KeyObject`s of this process: the threadpool job holds the key object itself; the
 *   key never exists as text outside the key ring.
 * - **Bounded queue**: at most `maxPending` signatures wait for a thread; beyond that a signature is
 *   made on the event loop itself, which slows the loop and so pushes back on the clients, rather
 *   than queueing without limit (and delaying the file reads that share the threadpool) or refusing
 *   the request.
 * - **Shutdown** (`close`): new signatures are made on the event loop, and `close` resolves once
 *   those already handed to a thread are made.
 */
import { sign as cryptoSign } from "node:crypto";
import type { JwsSigner } from "../../domain/tokens/access-token.js";

/** How an RS256 signature over a JWS signing input is made. */
export type Signer = JwsSigner;

/** Signs on the calling thread. */
export const signHere: Signer = (_kid, key, input) => cryptoSign("sha256", Buffer.from(input), key);

/** libuv's default threadpool size, used when `UV_THREADPOOL_SIZE` is not set. */
const LIBUV_DEFAULT_THREADS = 4;

export interface SigningPoolOptions {
  /** Signatures waiting for a thread before new ones are made on the event loop (default 1,024). */
  maxPending?: number;
}

export class SigningPool {
  private pending = 0;
  private closed = false;
  private drained: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private readonly maxPending: number;
  /** Signatures made on the event loop because the queue was full or the pool was closed. */
  signedInline = 0;

  constructor(opts: SigningPoolOptions = {}) {
    this.maxPending = Math.max(1, opts.maxPending ?? 1024);
  }

  /** The threads that sign: libuv's threadpool, shared with file system work. */
  get threads(): number {
    const configured = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? "", 10);
    return Number.isInteger(configured) && configured > 0
      ? Math.min(configured, 1024)
      : LIBUV_DEFAULT_THREADS;
  }

  /** Signatures handed to the threads and not yet made. */
  get inFlight(): number {
    return this.pending;
  }

  /** An RS256 signature of `signingInput` with `key` (named `kid`), made on a libuv thread. */
  readonly sign: Signer = (kid, key, signingInput) => {
    if (this.closed || this.pending >= this.maxPending) {
      this.signedInline++;
      return signHere(kid, key, signingInput);
    }
    this.pending++;
    return new Promise<Buffer>((resolve, reject) => {
      try {
        cryptoSign("sha256", Buffer.from(signingInput), key, (err, signature) => {
          this.settled();
          if (err) reject(err);
          else resolve(signature);
        });
      } catch (err) {
        // Refused before it reached a thread (a key that cannot sign).
        this.settled();
        reject(err);
      }
    });
  };

  private settled(): void {
    if (--this.pending === 0) this.drained?.();
  }

  /** Stops handing signatures to the threads; resolves once those already handed over are made. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??=
      this.pending === 0
        ? Promise.resolve()
        : new Promise((resolve) => {
            this.drained = resolve;
          });
    return this.closing;
  }
}
