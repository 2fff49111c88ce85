/**
 * An in-memory view of service accounts and their public keys for the token hot paths (token
 * endpoint, bearer verification). Entries are served from memory for at most `ttlMs`, and
 * dropped at once when this process changes them or the datastore's change feed says another node
 * did (cluster-sync.ts), so a disabled or deleted account (or key) is refused at once by every node;
 * `ttlMs` bounds staleness should a change notice ever be missed.
 */
import type { KeyObject } from "node:crypto";
import { createPublicKey } from "node:crypto";
import type { Repositories } from "../../datastore/repositories.js";
import type { ServiceAccount } from "../../domain/service-account.js";
import type { ServiceAccountKey } from "../../domain/service-account-key.js";

export const DIRECTORY_TTL_MS = 5_000;

interface Cached<T> {
  value: T;
  at: number;
}

export interface UsableKey {
  key: ServiceAccountKey;
  publicKey: KeyObject;
}

export class ServiceAccountDirectory {
  private readonly accounts = new Map<string, Cached<ServiceAccount | undefined>>();
  private readonly keysByAccount = new Map<string, Cached<UsableKey[]>>();
  private readonly keysById = new Map<string, Cached<UsableKey | undefined>>();
  private readonly projectNumbers = new Map<string, string>();
  /** Bumped on every invalidation, so a read that raced one never caches what it read. */
  private generation = 0;

  constructor(
    private readonly repos: Repositories,
    private readonly ttlMs = DIRECTORY_TTL_MS,
  ) {}

  private fresh<T>(c: Cached<T> | undefined): c is Cached<T> {
    return c !== undefined && Date.now() - c.at < this.ttlMs;
  }

  async account(email: string): Promise<ServiceAccount | undefined> {
    const k = email.toLowerCase();
    const c = this.accounts.get(k);
    if (this.fresh(c)) return c.value;
    const g = this.generation;
    const value = await this.repos.serviceAccounts.get(k);
    if (g === this.generation) this.accounts.set(k, { value, at: Date.now() });
    return value;
  }

  /** An enabled account, or undefined when missing or disabled. */
  async activeAccount(email: string): Promise<ServiceAccount | undefined> {
    const sa = await this.account(email);
    return sa && !sa.disabled ? sa : undefined;
  }

  /** Enabled keys of the account. */
  async keysOf(email: string): Promise<UsableKey[]> {
    const k = email.toLowerCase();
    const c = this.keysByAccount.get(k);
    if (this.fresh(c)) return c.value;
    const g = this.generation;
    const value = (await this.repos.serviceAccountKeys.list(k)).filter((x) => !x.disabled).map(usable);
    if (g === this.generation) this.keysByAccount.set(k, { value, at: Date.now() });
    return value;
  }

  /** An enabled key by id. */
  async key(keyId: string): Promise<UsableKey | undefined> {
    const c = this.keysById.get(keyId);
    if (this.fresh(c)) return c.value;
    const g = this.generation;
    const k = await this.repos.serviceAccountKeys.get(keyId);
    const value = k && !k.disabled ? usable(k) : undefined;
    if (g === this.generation) this.keysById.set(keyId, { value, at: Date.now() });
    return value;
  }

  /** Project numbers never change, so they are cached for good. */
  async projectNumber(projectId: string): Promise<string | undefined> {
    const cached = this.projectNumbers.get(projectId);
    if (cached) return cached;
    const p = await this.repos.projects.get(projectId);
    if (p) this.projectNumbers.set(projectId, p.projectNumber);
    return p?.projectNumber;
  }

  /** Called after this process changed the account or any of its keys. */
  invalidate(email: string, keyId?: string) {
    this.generation++;
    const k = email.toLowerCase();
    this.accounts.delete(k);
    this.keysByAccount.delete(k);
    if (keyId) this.keysById.delete(keyId);
    else for (const [id, c] of this.keysById) if (c.value?.key.email === k) this.keysById.delete(id);
  }

  /** Another node changed a key (the change feed names only its id): drop it and every key list. */
  invalidateKey(keyId: string) {
    this.generation++;
    this.keysById.delete(keyId);
    this.keysByAccount.clear();
  }

  /** Changes may have been missed (or the periodic re-read): drop everything but project numbers. */
  invalidateAll() {
    this.generation++;
    this.accounts.clear();
    this.keysByAccount.clear();
    this.keysById.clear();
  }
}

/** Parsed public keys by key id: a key's PEM never changes, so refreshing an entry reuses it. */
const parsedKeys = new Map<string, KeyObject>();

function usable(key: ServiceAccountKey): UsableKey {
  let publicKey = parsedKeys.get(key.keyId);
  if (!publicKey) {
    publicKey = createPublicKey(key.publicKeyPem);
    if (parsedKeys.size > 10_000) parsedKeys.clear();
    parsedKeys.set(key.keyId, publicKey);
  }
  return { key, publicKey };
}
