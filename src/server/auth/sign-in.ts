/**
 * Signing people in at the authorization endpoint: password checks (scrypt, constant time, failed
 * attempts limited per account and per client address), the authorization server's own browser
 * sessions, and authorization codes. Codes and sessions live in the datastore (as digests), so any
 * node of a cluster redeems a code another issued; the failure counters are per node.
 */
import { repositories } from "../../datastore/repositories.js";
import {
  type AuthorizationCodeRecord,
  CODE_LIFETIME_S,
  newAuthorizationCode,
  newSessionId,
  SIGNIN_SESSION_LIFETIME_S,
  type SignInSession,
} from "../../domain/oauth/authorization.js";
import { sha256Hex } from "../../domain/oauth/secrets.js";
import { normalizeEmail, type User } from "../../domain/user.js";
import { decoyHash, MAX_PASSWORD_LENGTH, verifyPassword } from "../../domain/user-password.js";
import type { ServerDeps } from "../deps.js";

/** Failed attempts allowed per window: per account (guessing one password) and per address (spraying). */
export const SIGNIN_LIMITS = { perUser: 5, perAddress: 20, windowMs: 15 * 60 * 1000 };

/** Counts failures per key in a fixed window; bounded in size. */
export class FailureLimiter {
  private readonly entries = new Map<string, { count: number; since: number }>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private entry(key: string) {
    const e = this.entries.get(key);
    if (e && this.now() - e.since < this.windowMs) return e;
    if (e) this.entries.delete(key);
    return undefined;
  }

  /** Milliseconds until `key` may try again, or 0. */
  blockedFor(key: string): number {
    const e = this.entry(key);
    return e && e.count >= this.max ? e.since + this.windowMs - this.now() : 0;
  }

  fail(key: string) {
    const e = this.entry(key);
    if (e) e.count++;
    else {
      if (this.entries.size >= 100_000) this.entries.clear();
      this.entries.set(key, { count: 1, since: this.now() });
    }
  }

  clear(key: string) {
    this.entries.delete(key);
  }
}

export type PasswordOutcome =
  | { ok: true; user: User }
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "limited"; retryAfterMs: number };

export class SignIn {
  readonly perUser: FailureLimiter;
  readonly perAddress: FailureLimiter;

  constructor(
    private readonly deps: ServerDeps,
    limits = SIGNIN_LIMITS,
  ) {
    this.perUser = new FailureLimiter(limits.perUser, limits.windowMs);
    this.perAddress = new FailureLimiter(limits.perAddress, limits.windowMs);
  }

  /**
   * Checks a password. Every failure looks the same to the caller (no account, disabled account,
   * no password set, wrong password), takes the same scrypt work, and counts against both the
   * e-mail named (whether or not it exists) and the client's address.
   */
  async checkPassword(emailRaw: string, password: string, address: string): Promise<PasswordOutcome> {
    const email = normalizeEmail(emailRaw.trim()).slice(0, 254);
    const userKey = `u:${email}`;
    const addressKey = `a:${address}`;
    const wait = Math.max(this.perUser.blockedFor(userKey), this.perAddress.blockedFor(addressKey));
    if (wait > 0) return { ok: false, reason: "limited", retryAfterMs: wait };
    const user = email ? await this.deps.repos.users.get(email) : undefined;
    const stored = email ? await this.deps.repos.userPasswords.get(email) : undefined;
    const usable = user?.state === "ACTIVE" && stored !== undefined && stored.uid === user.uniqueId;
    const matches = await verifyPassword(
      password.slice(0, MAX_PASSWORD_LENGTH + 1),
      usable ? stored.hash : await decoyHash(),
    );
    if (!usable || !matches) {
      this.perUser.fail(userKey);
      this.perAddress.fail(addressKey);
      return { ok: false, reason: "invalid" };
    }
    this.perUser.clear(userKey);
    return { ok: true, user };
  }

  /** A new browser session (a fresh id at every sign-in: no fixation). Returns the cookie value. */
  async startSession(user: User, method: string): Promise<{ id: string; session: SignInSession }> {
    const id = newSessionId();
    const now = Date.now();
    const session: SignInSession = {
      sessionSha256: sha256Hex(id),
      email: user.email,
      uid: user.uniqueId!,
      method,
      authTime: new Date(now).toISOString(),
      expireTime: new Date(now + SIGNIN_SESSION_LIFETIME_S * 1000).toISOString(),
    };
    await this.deps.repos.signInSessions.put(session);
    return { id, session };
  }

  /** The live session of a cookie value, for a user still active (the same one), else undefined. */
  async session(id: string | undefined): Promise<{ session: SignInSession; user: User } | undefined> {
    if (!id || id.length > 128) return undefined;
    const sha = sha256Hex(id);
    const session = await this.deps.repos.signInSessions.get(sha);
    if (!session) return undefined;
    if (Date.parse(session.expireTime) <= Date.now()) {
      await this.deps.repos.signInSessions.delete(sha);
      return undefined;
    }
    const user = await this.deps.repos.users.get(session.email);
    if (user?.state !== "ACTIVE" || user.uniqueId !== session.uid) return undefined;
    return { session, user };
  }

  async endSession(id: string | undefined) {
    if (id && id.length <= 128) await this.deps.repos.signInSessions.delete(sha256Hex(id));
  }

  /** Issues a code bound to everything the request named. */
  async issueCode(fields: Omit<AuthorizationCodeRecord, "codeSha256" | "createTime" | "expireTime">) {
    const code = newAuthorizationCode();
    const now = Date.now();
    await this.deps.repos.authorizationCodes.put({
      ...fields,
      codeSha256: sha256Hex(code),
      createTime: new Date(now).toISOString(),
      expireTime: new Date(now + CODE_LIFETIME_S * 1000).toISOString(),
    });
    return code;
  }

  /** Deletes expired codes and sessions (run periodically). */
  async sweep(): Promise<number> {
    const now = Date.now();
    let n = 0;
    await this.deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      for (const c of await r.authorizationCodes.list(1000))
        if (
          Date.parse(c.expireTime) + CODE_LIFETIME_S * 1000 < now &&
          (await r.authorizationCodes.delete(c.codeSha256))
        )
          n++;
      for (const s of await r.signInSessions.list(1000))
        if (Date.parse(s.expireTime) < now && (await r.signInSessions.delete(s.sessionSha256))) n++;
    });
    return n;
  }
}
