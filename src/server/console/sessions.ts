/**
 * The console's server-side sessions and pending sign-ins, in the datastore, so every node sharing
 * it shares them: a browser signed in through one node is signed in at all of them, and a sign-in
 * started at one node completes at another (docs/console.md#sessions).
 *
 * A session id is 32 random bytes (256 bits) in an HttpOnly cookie; the store is keyed by its
 * SHA-256, so nothing it holds can be presented as a cookie. The user's access and refresh tokens
 * (and a sign-in's PKCE verifier) are sealed with AES-256-GCM under the installation's master key,
 * bound to their record. A session ends at an absolute deadline from sign-in, after an idle period
 * without requests, or at sign-out, whichever comes first; what has ended is swept away.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Datastore } from "../../datastore/datastore.js";
import { repositories, sweepEnded } from "../../datastore/repositories.js";
import type { StoredConsoleSession } from "../../domain/console-session.js";
import { seal, unseal } from "../../domain/tokens/sealed.js";

export interface ConsoleSession {
  /** SHA-256 (hex) of the id: the record's key. */
  key: string;
  /** `user:alice@example.com` */
  principal: string;
  email: string;
  accessToken: string;
  /** ms since epoch at which the access token expires. */
  accessExpiresAt: number;
  refreshToken: string | undefined;
  createdAt: number;
  lastSeenAt: number;
  /** ms since epoch: the absolute end, whatever the activity. */
  expiresAt: number;
}

export interface PendingLogin {
  codeVerifier: string;
  /** The console path to return to. */
  next: string;
  redirectUri: string;
}

export interface SessionLimits {
  /** From sign-in to the forced end (default 12 h). */
  absoluteSeconds: number;
  /** Without a request for this long the session ends (default 1 h). */
  idleSeconds: number;
  /** A sign-in must come back within this (default 10 min). */
  loginSeconds: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  absoluteSeconds: 12 * 3600,
  idleSeconds: 3600,
  loginSeconds: 600,
};

/** 256 bits, base64url: an opaque id for a cookie. */
export function newOpaqueId(): string {
  return randomBytes(32).toString("base64url");
}

export const sha256Hex = (s: string) => createHash("sha256").update(s).digest("hex");

/** Ids as cookies carry them: 43 base64url characters. */
const ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const SWEEP_EVERY_MS = 60_000;
const SWEEP_PAGE = 500;

interface Tokens {
  accessToken: string;
  refreshToken?: string;
}

export class SessionStore {
  readonly limits: SessionLimits;
  private readonly repos;
  private lastSweep = 0;

  constructor(
    private readonly store: Datastore,
    private readonly masterKey: Buffer,
    limits: Partial<SessionLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...limits };
    this.repos = repositories(store);
  }

  private sealTokens(key: string, t: Tokens) {
    return seal(this.masterKey, JSON.stringify(t), `console-session:${key}`);
  }

  private ended(s: StoredConsoleSession, t: number): boolean {
    return t >= s.expiresAt || t - s.lastSeenAt >= this.limits.idleSeconds * 1000;
  }

  /** Starts a session; returns the id for the cookie. */
  async create(s: {
    principal: string;
    email: string;
    accessToken: string;
    accessExpiresAt: number;
    refreshToken: string | undefined;
  }): Promise<string> {
    await this.sweep();
    const id = newOpaqueId();
    const key = sha256Hex(id);
    const t = this.now();
    await this.repos.consoleSessions.put({
      sessionSha256: key,
      principal: s.principal,
      email: s.email.toLowerCase(),
      tokens: this.sealTokens(key, {
        accessToken: s.accessToken,
        ...(s.refreshToken ? { refreshToken: s.refreshToken } : {}),
      }),
      accessExpiresAt: s.accessExpiresAt,
      createdAt: t,
      lastSeenAt: t,
      expiresAt: t + this.limits.absoluteSeconds * 1000,
    });
    return id;
  }

  /** The live session with this id, its idle clock restarted; undefined when none or ended. */
  async get(id: string | undefined): Promise<ConsoleSession | undefined> {
    if (!id || !ID_SHAPE.test(id)) return undefined;
    const key = sha256Hex(id);
    const s = await this.repos.consoleSessions.get(key);
    if (!s) return undefined;
    const t = this.now();
    if (this.ended(s, t)) {
      await this.repos.consoleSessions.delete(key);
      return undefined;
    }
    let tokens: Tokens;
    try {
      tokens = JSON.parse(unseal(this.masterKey, s.tokens, `console-session:${key}`)) as Tokens;
    } catch {
      // Sealed under another master key (a reseal, a copy): the user signs in again.
      await this.repos.consoleSessions.delete(key);
      return undefined;
    }
    // The idle clock is written at most every minute (or a quarter of the idle period), not per request.
    if (t - s.lastSeenAt >= Math.min(60_000, (this.limits.idleSeconds * 1000) / 4)) {
      await this.repos.consoleSessions.put({ ...s, lastSeenAt: t });
      s.lastSeenAt = t;
    }
    return {
      key,
      principal: s.principal,
      email: s.email,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      accessExpiresAt: s.accessExpiresAt,
      createdAt: s.createdAt,
      lastSeenAt: s.lastSeenAt,
      expiresAt: s.expiresAt,
    };
  }

  /** Stores a refreshed access token (and a rotated refresh token) of a live session. */
  async updateTokens(session: ConsoleSession): Promise<void> {
    await this.store.transaction(async (tx) => {
      const r = repositories(tx);
      const s = await r.consoleSessions.get(session.key);
      if (!s) return; // ended meanwhile (sign-out at another node): stays ended
      await r.consoleSessions.put({
        ...s,
        tokens: this.sealTokens(session.key, {
          accessToken: session.accessToken,
          ...(session.refreshToken ? { refreshToken: session.refreshToken } : {}),
        }),
        accessExpiresAt: session.accessExpiresAt,
      });
    });
  }

  /** Ends a session (sign-out, rotation at sign-in, a token the API stopped taking); returns it if it was live. */
  async delete(id: string | undefined): Promise<ConsoleSession | undefined> {
    if (!id || !ID_SHAPE.test(id)) return undefined;
    const s = await this.get(id);
    await this.repos.consoleSessions.delete(sha256Hex(id));
    return s;
  }

  /** Remembers a sign-in in progress; returns the id for its cookie. */
  async beginLogin(p: PendingLogin & { state: string }): Promise<string> {
    await this.sweep();
    const id = newOpaqueId();
    const key = sha256Hex(id);
    await this.repos.consoleLogins.put({
      loginSha256: key,
      stateSha256: sha256Hex(p.state),
      verifier: seal(this.masterKey, p.codeVerifier, `console-login:${key}`),
      next: p.next,
      redirectUri: p.redirectUri,
      expiresAt: this.now() + this.limits.loginSeconds * 1000,
    });
    return id;
  }

  /**
   * Takes the sign-in this browser started (one use: it is deleted whatever the outcome) and
   * checks the `state` that came back against it in constant time. Undefined when there is none,
   * it expired, or the state is not its own.
   */
  async takeLogin(
    id: string | undefined,
    state: string,
  ): Promise<PendingLogin | "state-mismatch" | undefined> {
    if (!id || !ID_SHAPE.test(id)) return undefined;
    const key = sha256Hex(id);
    const p = await this.store.transaction(async (tx) => {
      const r = repositories(tx);
      const found = await r.consoleLogins.get(key);
      if (found) await r.consoleLogins.delete(key);
      return found;
    });
    if (!p || this.now() >= p.expiresAt) return undefined;
    const same = timingSafeEqual(Buffer.from(sha256Hex(state), "hex"), Buffer.from(p.stateSha256, "hex"));
    if (!same) return "state-mismatch";
    try {
      return {
        codeVerifier: unseal(this.masterKey, p.verifier, `console-login:${key}`),
        next: p.next,
        redirectUri: p.redirectUri,
      };
    } catch {
      return undefined;
    }
  }

  /** Live sessions (for tests and the docs' numbers). */
  async count(): Promise<number> {
    let n = 0;
    let after: string | undefined;
    for (;;) {
      const page = await this.repos.consoleSessions.page(after, SWEEP_PAGE);
      n += page.filter((e) => !this.ended(e.value, this.now())).length;
      if (page.length < SWEEP_PAGE) return n;
      after = page[page.length - 1]!.key;
    }
  }

  /** Drops what has ended, at most once a minute, a page at a time. */
  private async sweep(): Promise<void> {
    const t = this.now();
    if (t - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = t;
    const { consoleSessions, consoleLogins } = this.repos;
    await sweepEnded(consoleSessions.page, consoleSessions.delete, (s) => this.ended(s, t), SWEEP_PAGE);
    await sweepEnded(consoleLogins.page, consoleLogins.delete, (l) => t >= l.expiresAt, SWEEP_PAGE);
  }
}
