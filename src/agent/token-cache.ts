/**
 * Compute Engine's token cache: one token per (account, scope set), served with a decreasing
 * `expires_in` until `refreshMarginSeconds` remain (GCE: 300 s), then replaced. Concurrent misses
 * for one key share a single mint.
 */
export interface CachedToken {
  token: string;
  expiresAt: number;
}

export class TokenCache {
  private readonly entries = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  mints = 0;

  constructor(private readonly refreshMarginSeconds = 300) {}

  /** A fresh-enough cached token, or undefined. */
  peek(key: string, now = Date.now()): CachedToken | undefined {
    const e = this.entries.get(key);
    return e && e.expiresAt - now / 1000 > this.refreshMarginSeconds ? e : undefined;
  }

  async get(key: string, mint: () => Promise<CachedToken>): Promise<CachedToken> {
    const hit = this.peek(key);
    if (hit) return hit;
    let p = this.inflight.get(key);
    if (!p) {
      this.mints++;
      p = mint().then(
        (t) => {
          this.entries.set(key, t);
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

  clear(): void {
    this.entries.clear();
  }
}

/** Token bucket: `ratePerSecond` refill, `burst` capacity. */
export class RateLimiter {
  private tokens: number;
  private last = Date.now();
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst = ratePerSecond,
  ) {
    this.tokens = burst;
  }
  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
