/**
 * The console's server-side sessions and pending sign-ins, in this process's memory.
 *
 * A session id is 32 random bytes (256 bits) in an HttpOnly cookie; the store is keyed by its
 * SHA-256, so what is kept in memory cannot be replayed as a cookie. The session holds the user's
 * access and refresh tokens, which never leave the server. It ends at an absolute deadline from
 * sign-in, after an idle period without requests, or at sign-out, whichever comes first.
 *
 * Memory, not the datastore: sessions are few, short-lived and hold bearer secrets that would
 * otherwise have to be sealed at rest. Behind a load balancer with several nodes, pin a browser
 * to one node (sticky sessions) or it is asked to sign in again on the next node
 * (docs/console.md#sessions). A restart signs everyone out.
 */
import { createHash, randomBytes } from "node:crypto";

export interface ConsoleSession {
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
  /** SHA-256 of the `state` sent to the authorization endpoint (compared on the callback). */
  stateDigest: Buffer;
  codeVerifier: string;
  /** The console path to return to. */
  next: string;
  redirectUri: string;
  expiresAt: number;
}

export interface SessionLimits {
  /** From sign-in to the forced end (default 12 h). */
  absoluteSeconds: number;
  /** Without a request for this long the session ends (default 1 h). */
  idleSeconds: number;
  /** A sign-in must come back within this (default 10 min). */
  loginSeconds: number;
  /** At most this many live sessions; the least recently used go first (default 10 000). */
  maxSessions: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  absoluteSeconds: 12 * 3600,
  idleSeconds: 3600,
  loginSeconds: 600,
  maxSessions: 10_000,
};

/** 256 bits, base64url: an opaque id for a cookie. */
export function newOpaqueId(): string {
  return randomBytes(32).toString("base64url");
}

const digest = (id: string) => createHash("sha256").update(id).digest("hex");

/** Session ids as cookies carry them: 43 base64url characters. */
const ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export class SessionStore {
  private readonly sessions = new Map<string, ConsoleSession>();
  private readonly logins = new Map<string, PendingLogin>();
  readonly limits: SessionLimits;
  private readonly now: () => number;

  constructor(limits: Partial<SessionLimits> = {}, now: () => number = Date.now) {
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...limits };
    this.now = now;
  }

  /** Starts a session; returns the id for the cookie. */
  create(s: Omit<ConsoleSession, "createdAt" | "lastSeenAt" | "expiresAt">): string {
    this.sweep();
    const id = newOpaqueId();
    const t = this.now();
    this.sessions.set(digest(id), {
      ...s,
      createdAt: t,
      lastSeenAt: t,
      expiresAt: t + this.limits.absoluteSeconds * 1000,
    });
    // Beyond the cap, the least recently used sessions go (a Map iterates in insertion order, and
    // `get` re-inserts on use).
    while (this.sessions.size > this.limits.maxSessions) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    return id;
  }

  /** The live session with this id, its idle clock restarted; undefined when none or ended. */
  get(id: string | undefined): ConsoleSession | undefined {
    if (!id || !ID_SHAPE.test(id)) return undefined;
    const key = digest(id);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const t = this.now();
    if (t >= s.expiresAt || t - s.lastSeenAt >= this.limits.idleSeconds * 1000) {
      this.sessions.delete(key);
      return undefined;
    }
    s.lastSeenAt = t;
    this.sessions.delete(key);
    this.sessions.set(key, s);
    return s;
  }

  /** Ends a session (sign-out, rotation at sign-in, a refresh token that stopped working). */
  delete(id: string | undefined): ConsoleSession | undefined {
    if (!id || !ID_SHAPE.test(id)) return undefined;
    const key = digest(id);
    const s = this.sessions.get(key);
    this.sessions.delete(key);
    return s;
  }

  /** Remembers a sign-in in progress; returns the id for its cookie. */
  beginLogin(p: Omit<PendingLogin, "expiresAt">): string {
    this.sweep();
    const id = newOpaqueId();
    this.logins.set(digest(id), { ...p, expiresAt: this.now() + this.limits.loginSeconds * 1000 });
    while (this.logins.size > this.limits.maxSessions) {
      const oldest = this.logins.keys().next().value as string;
      this.logins.delete(oldest);
    }
    return id;
  }

  /** Takes (and forgets: one use) the sign-in this browser started; undefined when none or expired. */
  takeLogin(id: string | undefined): PendingLogin | undefined {
    if (!id || !ID_SHAPE.test(id)) return undefined;
    const key = digest(id);
    const p = this.logins.get(key);
    this.logins.delete(key);
    if (!p || this.now() >= p.expiresAt) return undefined;
    return p;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Drops what has ended; run on each creation, so memory follows the live sessions. */
  private sweep() {
    const t = this.now();
    const idle = this.limits.idleSeconds * 1000;
    for (const [k, s] of this.sessions)
      if (t >= s.expiresAt || t - s.lastSeenAt >= idle) this.sessions.delete(k);
    for (const [k, p] of this.logins) if (t >= p.expiresAt) this.logins.delete(k);
  }
}
