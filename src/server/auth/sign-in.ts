/**
 * Signing people in at the authorization endpoint: password checks (scrypt, constant time, failed
 * attempts limited per account and per client address), the authorization server's own browser
 * sessions, and authorization codes. Codes, sessions and the failure counters live in the datastore
 * (as digests), so any node of a cluster redeems a code another issued, and a guesser spreading
 * attempts over the nodes is limited as on one.
 */
import type { Datastore } from "../../datastore/datastore.js";
import { repositories, sweepEnded } from "../../datastore/repositories.js";
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

/**
 * Counts failures per key in a fixed window, in the datastore (shared by the nodes). Keys are stored
 * as SHA-256 digests; a window's record is replaced when it has ended, and the sign-in sweep deletes
 * ended ones.
 */
export class FailureLimiter {
  constructor(
    private readonly store: Datastore,
    readonly max: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `record` counts a window that has not ended. */
  private live(record: { since: string } | undefined) {
    return record !== undefined && this.now() - Date.parse(record.since) < this.windowMs;
  }

  /** Milliseconds until `key` may try again, or 0. */
  async blockedFor(key: string): Promise<number> {
    const r = await repositories(this.store).signInFailures.get(sha256Hex(key));
    if (!r || !this.live(r) || r.count < this.max) return 0;
    return Math.max(1, Date.parse(r.since) + this.windowMs - this.now());
  }

  async fail(key: string): Promise<void> {
    const keySha256 = sha256Hex(key);
    // Read and write in one transaction: concurrent failures at several nodes all count.
    await this.store.transaction(async (tx) => {
      const repo = repositories(tx).signInFailures;
      const r = await repo.get(keySha256);
      await repo.put(
        this.live(r)
          ? { ...r!, count: r!.count + 1 }
          : { keySha256, count: 1, since: new Date(this.now()).toISOString() },
      );
    });
  }

  async clear(key: string): Promise<void> {
    await repositories(this.store).signInFailures.delete(sha256Hex(key));
  }

  /** Deletes records whose window has ended, a page at a time; returns how many. */
  sweep(pageSize = 1000): Promise<number> {
    const repo = repositories(this.store).signInFailures;
    return sweepEnded(repo.page, repo.delete, (r) => !this.live(r), pageSize);
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
    this.perUser = new FailureLimiter(deps.store, limits.perUser, limits.windowMs);
    this.perAddress = new FailureLimiter(deps.store, limits.perAddress, limits.windowMs);
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
    const wait = Math.max(
      await this.perUser.blockedFor(userKey),
      await this.perAddress.blockedFor(addressKey),
    );
    if (wait > 0) return { ok: false, reason: "limited", retryAfterMs: wait };
    const user = email ? await this.deps.repos.users.get(email) : undefined;
    const stored = email ? await this.deps.repos.userPasswords.get(email) : undefined;
    const usable = user?.state === "ACTIVE" && stored !== undefined && stored.uid === user.uniqueId;
    const matches = await verifyPassword(
      password.slice(0, MAX_PASSWORD_LENGTH + 1),
      usable ? stored.hash : await decoyHash(),
    );
    if (!usable || !matches) {
      await this.perUser.fail(userKey);
      await this.perAddress.fail(addressKey);
      return { ok: false, reason: "invalid" };
    }
    await this.perUser.clear(userKey);
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

  /** Deletes expired codes, sessions and failure windows (run periodically); returns how many. */
  async sweep(): Promise<number> {
    // The per-account and per-address counters share one kind: one sweep ends both's old windows.
    return (await sweepSignInRecords(this.deps.store, Date.now())) + (await this.perAddress.sweep());
  }
}

/**
 * Deletes, a page at a time, the authorization codes past their redemption window and the
 * authorization server's browser sessions past their expiry; returns how many.
 */
export async function sweepSignInRecords(store: Datastore, now: number, pageSize = 1000): Promise<number> {
  const r = repositories(store);
  const codes = await sweepEnded(
    r.authorizationCodes.page,
    r.authorizationCodes.delete,
    (c) => Date.parse(c.expireTime) + CODE_LIFETIME_S * 1000 < now,
    pageSize,
  );
  const sessions = await sweepEnded(
    r.signInSessions.page,
    r.signInSessions.delete,
    (x) => Date.parse(x.expireTime) < now,
    pageSize,
  );
  return codes + sessions;
}
