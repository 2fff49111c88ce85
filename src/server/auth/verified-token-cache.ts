/**
 * Access tokens and self-signed JWTs whose signature this node has already verified, so a token presented again skips
 * the RSA verification (most of an authenticated call's CPU). Only the cryptographic work is
 * remembered: every request still checks the token's lifetime against the clock, that its signing
 * key is still trusted, and its subject's state (disabled, deleted, re-created, revoked credential),
 * so revocation and policy changes take effect exactly as without the cache.
 *
 * Keyed by a SHA-256 digest of the token, so the cache holds no bearer credential; bounded, the
 * oldest entry leaving first, and an entry leaves at once when its token expires.
 */
import { hash } from "node:crypto";
import type { AccessTokenClaims } from "../../domain/tokens/access-token.js";
import type { Caller } from "../http/context.js";

export const VERIFIED_TOKEN_CACHE_ENTRIES = 10_000;

interface Verified {
  claims: AccessTokenClaims;
  /** Who the claims name, derived once (the per-request checks of that principal still run). */
  caller: Caller;
  /** The key that signed it: an installation key, or a service-account key for a self-signed JWT. */
  kid: string;
  selfSigned?: boolean;
}

export class VerifiedTokenCache {
  private readonly entries = new Map<string, Verified>();

  constructor(private readonly capacity = VERIFIED_TOKEN_CACHE_ENTRIES) {}

  static digest(token: string): string {
    return hash("sha256", token, "base64url");
  }

  /** The claims of a token verified before and not expired at `nowSeconds`. */
  get(digest: string, nowSeconds: number): Verified | undefined {
    const hit = this.entries.get(digest);
    if (hit === undefined) return undefined;
    if (hit.claims.exp <= nowSeconds) {
      this.entries.delete(digest);
      return undefined;
    }
    return hit;
  }

  /** Whether a token of this digest was verified (whatever its lifetime now: `get` checks that). */
  has(digest: string): boolean {
    return this.entries.has(digest);
  }

  set(digest: string, verified: Verified): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(digest, verified);
  }

  get size(): number {
    return this.entries.size;
  }
}
