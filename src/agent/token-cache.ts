/**
 * Compute Engine's token cache: one token per (account, scope set), served with a decreasing
 * `expires_in` until `refreshMarginSeconds` remain (GCE: 300 s), then replaced. Concurrent misses
 * for one key share a single mint.
 *
 * A workload chooses the scope sets it asks for, so the cache is bounded: at most `maxEntries`
 * tokens, least recently used first out, and a token past its refresh margin is dropped rather
 * than kept (it would never be served again).
 */
export interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Scope sets cached per metadata server: far more than any real workload asks for. */
export const DEFAULT_TOKEN_CACHE_ENTRIES = 1024;

export class TokenCache {
  /** In least-recently-used order: a hit moves its entry to the end. */
  private readonly entries = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  /** Mints started (cache misses). */
  mints = 0;
  /** Requests answered from the cache, and requests that joined a mint in flight (for metrics). */
  hits = 0;
  joins = 0;

  constructor(
    private readonly refreshMarginSeconds = 300,
    private readonly maxEntries = DEFAULT_TOKEN_CACHE_ENTRIES,
  ) {}

  /** Tokens held (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  private fresh(e: CachedToken, now: number): boolean {
    return e.expiresAt - now / 1000 > this.refreshMarginSeconds;
  }

  /** A fresh-enough cached token, or undefined. */
  peek(key: string, now = Date.now()): CachedToken | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (!this.fresh(e, now)) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    this.hits++;
    return e;
  }

  async get(key: string, mint: () => Promise<CachedToken>): Promise<CachedToken> {
    const hit = this.peek(key);
    if (hit) return hit;
    let p = this.inflight.get(key);
    if (p) this.joins++;
    else {
      this.mints++;
      p = mint().then(
        (t) => {
          this.store(key, t);
          this.inflight.delete(key);
          return t;
        },
        (err) => {
          this.inflight.delete(key);
          throw err;
        },
      );
      this.inflight.set(key, p);
    }
    return p;
  }

  private store(key: string, t: CachedToken) {
    this.entries.delete(key);
    this.entries.set(key, t);
    if (this.entries.size <= this.maxEntries) return;
    const now = Date.now();
    for (const [k, e] of this.entries) if (!this.fresh(e, now)) this.entries.delete(k);
    // Still full of fresh tokens: the least recently used go.
    for (const k of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(k);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Token bucket: `ratePerSecond` refill, `burst` capacity. */
export class RateLimiter {
  private tokens: number;
  private last: number;
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst = ratePerSecond,
    /** The clock (ms); tests inject one to drive refills exactly. */
    private readonly clock: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = clock();
  }
  take(now = this.clock()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
