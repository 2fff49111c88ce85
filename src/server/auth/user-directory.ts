/**
 * An in-memory view of the user directory, of the OAuth clients of issued user credentials and of
 * their refresh tokens (by digest; found ones only), for the token hot paths. Like `ServiceAccountDirectory`, entries are served from memory for at most
 * `ttlMs` and dropped at once when this process changes them, so a deleted or disabled user, or a
 * revoked credential, is refused immediately by this node and within `ttlMs` by any other node
 * sharing the datastore.
 */

import type { OAuthClient, Repositories } from "../../datastore/repositories.js";
import type { RefreshTokenRecord } from "../../domain/oauth/client.js";
import type { User } from "../../domain/user.js";
import { DIRECTORY_TTL_MS } from "./service-account-directory.js";

interface Cached<T> {
  value: T;
  at: number;
}

/** Bounds the caches: token claims name the keys, and only the server mints tokens. */
const MAX_ENTRIES = 10_000;

export class UserDirectory {
  private readonly users = new Map<string, Cached<User | undefined>>();
  private readonly clients = new Map<string, Cached<OAuthClient | undefined>>();
  private readonly refreshTokens = new Map<string, Cached<RefreshTokenRecord>>();
  /** Bumped on every invalidation, so a read that raced one never caches what it read. */
  private generation = 0;

  constructor(
    private readonly repos: Repositories,
    private readonly ttlMs = DIRECTORY_TTL_MS,
  ) {}

  private fresh<T>(c: Cached<T> | undefined): c is Cached<T> {
    return c !== undefined && Date.now() - c.at < this.ttlMs;
  }

  async user(email: string): Promise<User | undefined> {
    const k = email.toLowerCase();
    const c = this.users.get(k);
    if (this.fresh(c)) return c.value;
    const g = this.generation;
    const value = await this.repos.users.get(k);
    if (this.users.size > MAX_ENTRIES) this.users.clear();
    if (g === this.generation) this.users.set(k, { value, at: Date.now() });
    return value;
  }

  async client(clientId: string): Promise<OAuthClient | undefined> {
    const c = this.clients.get(clientId);
    if (this.fresh(c)) return c.value;
    const g = this.generation;
    const value = await this.repos.oauthClients.get(clientId);
    if (this.clients.size > MAX_ENTRIES) this.clients.clear();
    if (g === this.generation) this.clients.set(clientId, { value, at: Date.now() });
    return value;
  }

  /**
   * The refresh token of this SHA-256 digest. Only found tokens are kept: digests of unknown tokens
   * (guesses) would only fill the cache.
   */
  async refreshToken(sha256: string): Promise<RefreshTokenRecord | undefined> {
    const c = this.refreshTokens.get(sha256);
    if (this.fresh(c)) return c.value;
    const g = this.generation;
    const value = await this.repos.refreshTokens.get(sha256);
    if (this.refreshTokens.size > MAX_ENTRIES) this.refreshTokens.clear();
    if (value !== undefined && g === this.generation)
      this.refreshTokens.set(sha256, { value, at: Date.now() });
    return value;
  }

  /** Called after this process changed the user (or any credential issued to them). */
  invalidateUser(email: string) {
    this.generation++;
    const k = email.toLowerCase();
    this.users.delete(k);
    for (const [id, c] of this.clients) if (c.value?.subject === `user:${k}`) this.clients.delete(id);
    for (const [sha, c] of this.refreshTokens)
      if (c.value.subject === `user:${k}`) this.refreshTokens.delete(sha);
  }

  /** The client changed (revoked, say): it and the refresh tokens issued to it are read again. */
  invalidateClient(clientId: string) {
    this.generation++;
    this.clients.delete(clientId);
    for (const [sha, c] of this.refreshTokens)
      if (c.value.clientId === clientId) this.refreshTokens.delete(sha);
  }

  /** A refresh token changed (revoked, deleted) here or on another node (the change feed). */
  invalidateRefreshToken(sha256: string) {
    this.generation++;
    this.refreshTokens.delete(sha256);
  }

  invalidateAll() {
    this.generation++;
    this.users.clear();
    this.clients.clear();
    this.refreshTokens.clear();
  }
}
