/**
 * RS256 signing for token mints on every core: a pool of `node:worker_threads` doing `crypto.sign`
 * (signing-worker.ts), sized to the machine's cores, so the event loop only builds the token around
 * the signature and mints scale past one core's signing rate.
 *
 * - **Keys** are handed to each thread as `KeyObject`s by `postMessage` the first time it signs with
 *   them (structured clone: the key never exists as text outside the key ring), and forgotten when
 *   a thread holds more than a few (rotation retires old ones).
 * - **Batched**: the signatures asked for in one turn of the event loop go to each thread in one
 *   message and come back in one, since a message costs both threads about as much as the work
 *   around a signature.
 * - **Bounded queue**: at most `maxPending` signatures wait in the threads; beyond that a signature
 *   is made on the event loop itself, which slows the loop and so pushes back on the clients,
 *   rather than queueing without limit or refusing the request.
 * - **A thread that dies** (crash, `terminate`, out of memory) loses no request: its unfinished
 *   signatures go to the other threads (or the event loop when none is left), and it is replaced,
 *   at most `maxRestarts` times a minute; past that the pool signs on the event loop.
 * - **Shutdown** (`close`): new signatures are made on the event loop, those already handed to a
 *   thread finish, then the threads end.
 */
import { sign as cryptoSign, type KeyObject } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { JwsSigner } from "../../domain/tokens/access-token.js";
import type { FromWorker, ToWorker } from "./signing-worker.js";

/** How an RS256 signature over a JWS signing input is made. */
export type Signer = JwsSigner;

/** Signs on the calling thread. */
export const signHere: Signer = (_kid, key, input) => cryptoSign("sha256", Buffer.from(input), key);

export interface SigningPoolOptions {
  /** Threads (default: the cores this process may use). */
  size?: number;
  /** Signatures waiting in threads before new ones are made on the event loop (default 256 per thread). */
  maxPending?: number;
  /** Replacements of dead threads allowed per minute before the pool signs on the event loop. */
  maxRestarts?: number;
  /** Where a thread's death is reported. */
  log?: (line: string) => void;
}

interface Job {
  id: number;
  kid: string;
  key: KeyObject;
  input: string;
  resolve(sig: Buffer): void;
  reject(err: Error): void;
}

interface Thread {
  worker: Worker;
  /** Keys this thread holds. */
  kids: Set<string>;
  /** Jobs handed to this thread (sent, or in `outbox`) and not answered yet. */
  jobs: Map<number, Job>;
  /** Jobs dispatched this turn, sent together at its end. */
  outbox: { id: number; kid: string; input: string }[];
  /** Ended on purpose (close): its exit is not a death. */
  ending: boolean;
}

/** Keys a thread may hold before it is told to forget them all (a ring holds 2–3). */
const MAX_KEYS_PER_THREAD = 8;
const WORKER_URL = new URL("./signing-worker.js", import.meta.url);

export class SigningPool {
  private readonly threads: Thread[] = [];
  private nextId = 1;
  private pending = 0;
  private flushScheduled = false;
  private closed = false;
  private restarts: number[] = [];
  private readonly maxPending: number;
  private readonly maxRestarts: number;
  private readonly log: (line: string) => void;
  /** Signatures made on the event loop because the queue was full, or no thread was left. */
  signedInline = 0;
  /** Threads that died and were replaced (or not, past `maxRestarts`). */
  deaths = 0;

  constructor(opts: SigningPoolOptions = {}) {
    const size = Math.max(1, Math.min(64, Math.round(opts.size ?? availableParallelism())));
    this.maxPending = Math.max(1, opts.maxPending ?? 256 * size);
    this.maxRestarts = opts.maxRestarts ?? 10;
    this.log = opts.log ?? (() => {});
    for (let i = 0; i < size; i++) this.threads.push(this.spawn());
  }

  get size(): number {
    return this.threads.length;
  }

  /** The worker threads (tests end one to show that no signature is lost). */
  get workers(): readonly Worker[] {
    return this.threads.map((t) => t.worker);
  }

  /** An RS256 signature of `signingInput` with `key` (named `kid`), made by a thread of the pool. */
  readonly sign: Signer = (kid, key, signingInput) => {
    if (this.closed || this.pending >= this.maxPending || this.threads.length === 0) {
      this.signedInline++;
      return signHere(kid, key, signingInput);
    }
    return new Promise<Buffer>((resolve, reject) => {
      this.dispatch({ id: this.nextId++, kid, key, input: signingInput, resolve, reject });
    });
  };

  private spawn(): Thread {
    const worker = new Worker(WORKER_URL, { name: "warrant-signing" });
    const thread: Thread = { worker, kids: new Set(), jobs: new Map(), outbox: [], ending: false };
    worker.on("message", (m: FromWorker) => {
      for (const r of m.results) {
        const job = thread.jobs.get(r.id);
        if (!job) continue;
        thread.jobs.delete(r.id);
        this.pending--;
        if ("sig" in r) job.resolve(Buffer.from(r.sig.buffer, r.sig.byteOffset, r.sig.byteLength));
        // The thread lost the key (it cannot, but never fail a mint for it): sign here.
        else this.signInline(job);
      }
      if (thread.jobs.size === 0) worker.unref();
    });
    worker.on("error", (err) => this.log(`signing pool: a thread failed: ${err.message}`));
    worker.on("exit", () => this.died(thread));
    // Idle threads do not keep the process alive; one with signatures in hand does.
    worker.unref();
    return thread;
  }

  private signInline(job: Job): void {
    this.signedInline++;
    try {
      job.resolve(signHere(job.kid, job.key, job.input) as Buffer);
    } catch (err) {
      job.reject(err as Error);
    }
  }

  private dispatch(job: Job): void {
    // The thread with the fewest signatures in hand.
    let best: Thread | undefined;
    for (const t of this.threads) if (!best || t.jobs.size < best.jobs.size) best = t;
    if (!best) {
      this.signInline(job);
      return;
    }
    if (!best.kids.has(job.kid)) {
      if (best.kids.size >= MAX_KEYS_PER_THREAD) {
        // Jobs already waiting for this thread still need the keys it is about to forget.
        this.send(best);
        best.worker.postMessage({ t: "forget" } satisfies ToWorker);
        best.kids.clear();
      }
      best.worker.postMessage({ t: "key", kid: job.kid, key: job.key } satisfies ToWorker);
      best.kids.add(job.kid);
    }
    if (best.jobs.size === 0) best.worker.ref();
    best.jobs.set(job.id, job);
    this.pending++;
    best.outbox.push({ id: job.id, kid: job.kid, input: job.input });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends each thread the jobs dispatched to it this turn, in one message. */
  private flush(): void {
    this.flushScheduled = false;
    for (const t of this.threads) this.send(t);
  }

  private send(t: Thread): void {
    if (t.outbox.length === 0) return;
    const jobs = t.outbox;
    t.outbox = [];
    t.worker.postMessage({ t: "sign", jobs } satisfies ToWorker);
  }

  /** A thread ended: hand its unfinished signatures to the others, and replace it unless closing. */
  private died(thread: Thread): void {
    const i = this.threads.indexOf(thread);
    if (i >= 0) this.threads.splice(i, 1);
    const orphans = [...thread.jobs.values()];
    thread.jobs.clear();
    thread.outbox = [];
    this.pending -= orphans.length;
    if (!thread.ending && !this.closed) {
      this.deaths++;
      const now = Date.now();
      this.restarts = this.restarts.filter((t) => now - t < 60_000);
      if (this.restarts.length < this.maxRestarts) {
        this.restarts.push(now);
        this.threads.push(this.spawn());
        this.log(`signing pool: a thread died with ${orphans.length} signature(s) in hand; replaced`);
      } else
        this.log(
          `signing pool: a thread died; ${this.maxRestarts} replacements in a minute, ${this.threads.length} thread(s) left`,
        );
    }
    for (const job of orphans) {
      if (this.closed || this.threads.length === 0) this.signInline(job);
      else this.dispatch(job);
    }
  }

  /** Signatures handed to threads and not yet back. */
  get inFlight(): number {
    return this.pending;
  }

  /**
   * Stops using the threads: later signatures are made on the event loop; those in hand finish;
   * then the threads end.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.threads.map(async (t) => {
        await Promise.all(
          [...t.jobs.values()].map(
            (j) =>
              new Promise<void>((ok) => {
                const { resolve, reject } = j;
                j.resolve = (s) => {
                  resolve(s);
                  ok();
                };
                j.reject = (e) => {
                  reject(e);
                  ok();
                };
              }),
          ),
        );
        t.ending = true;
        await t.worker.terminate();
      }),
    );
  }
}
