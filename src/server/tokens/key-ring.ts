/**
 * The installation's signing keys in memory: verification never touches the datastore. The ring
 * follows the lifecycle in `domain/tokens/rotation.ts`; `rotate()` applies one step in a
 * transaction, `tick()` (run by a timer) rotates on schedule, retires expired secondaries and
 * reloads what other nodes may have changed.
 */
import type { KeyObject } from "node:crypto";
import type { Datastore } from "../../datastore/datastore.js";
import { repositories } from "../../datastore/repositories.js";
import {
  expiredSecondaries,
  planRotation,
  type RotationPolicy,
  rotationDue,
} from "../../domain/tokens/rotation.js";
import {
  generateSigningKey,
  loadSigningKey,
  type SigningKey,
  type StoredSigningKey,
} from "../../domain/tokens/signing-key.js";

export const DEFAULT_ROTATION_POLICY: RotationPolicy = {
  rotationPeriodSeconds: 24 * 3600,
  // Verifiers cache the key set for max-age 300 s (certs.ts); add the ring's reload interval.
  publishLeadSeconds: 360,
  // Longest token lifetime (3600 s) plus clock skew tolerance and margin.
  retireAfterSeconds: 3600 + 120,
};

/** How often a token signed by an unknown key may make the ring re-read the datastore. */
export const MISS_RELOAD_INTERVAL_MS = 1_000;

export class RotationRefused extends Error {
  override name = "RotationRefused";
}

export class KeyRing {
  private keys = new Map<string, SigningKey>();
  /** Reloads started and the latest applied: a slow reload never replaces a newer one's view. */
  private reloadsStarted = 0;
  private reloadApplied = 0;

  private constructor(
    private readonly store: Datastore,
    private readonly masterKey: Buffer,
    readonly policy: RotationPolicy,
  ) {}

  /** Loads the ring, creating a primary and a staged key on first use. */
  static async open(store: Datastore, masterKey: Buffer, policy: RotationPolicy = DEFAULT_ROTATION_POLICY) {
    const ring = new KeyRing(store, masterKey, policy);
    await store.transaction(async (tx) => {
      const r = repositories(tx);
      const existing = await r.signingKeys.all();
      if (!existing.some((k) => k.state === "primary"))
        await r.signingKeys.put(generateSigningKey(masterKey, "primary"));
      if (!existing.some((k) => k.state === "staged"))
        await r.signingKeys.put(generateSigningKey(masterKey, "staged"));
    });
    await ring.reload();
    return ring;
  }

  /** Re-reads the ring from the datastore (rotations by another node or `warrant admin keys rotate`). */
  async reload(): Promise<void> {
    const seq = ++this.reloadsStarted;
    const stored = await repositories(this.store).signingKeys.all();
    const next = new Map<string, SigningKey>();
    for (const s of stored) {
      const loaded = this.keys.get(s.kid);
      next.set(s.kid, loaded ? { ...loaded, ...meta(s) } : loadSigningKey(s, this.masterKey));
    }
    if (seq < this.reloadApplied) return;
    this.reloadApplied = seq;
    this.keys = next;
  }

  /** The key that signs new tokens. */
  primary(): SigningKey {
    for (const k of this.keys.values()) if (k.state === "primary") return k;
    throw new Error("key ring has no primary key");
  }

  /** Public key for a kid that may verify tokens: primary and secondary (staged keys sign nothing yet). */
  verificationKey(kid: string): KeyObject | undefined {
    const k = this.keys.get(kid);
    return k && k.state !== "staged" ? k.publicKey : undefined;
  }

  /**
   * For a token whose key this ring does not (yet) trust: another node may have just rotated, and
   * its change notice not arrived. Re-reads the ring, at most once a second however many such tokens
   * arrive (an unknown kid costs an attacker nothing, so it must cost the datastore little).
   */
  async refreshFor(kid: string): Promise<void> {
    if (this.verificationKey(kid)) return;
    if (this.missReload) return this.missReload;
    if (Date.now() - this.lastMissReload < MISS_RELOAD_INTERVAL_MS) return;
    this.lastMissReload = Date.now();
    this.missReload = this.reload().finally(() => {
      this.missReload = undefined;
    });
    return this.missReload;
  }
  private lastMissReload = 0;
  private missReload: Promise<void> | undefined;

  /** Every published key: staged, primary, secondary. */
  all(): SigningKey[] {
    return [...this.keys.values()];
  }

  /** One rotation step: staged → primary → secondary, retire expired secondaries, stage a new key. */
  async rotate(
    now = Date.now(),
    options: { onlyIfDue?: boolean } = {},
  ): Promise<{ promoted: string; demoted?: string; retired: string[]; staged: string }> {
    const result = await this.store.transaction(async (tx) => {
      const r = repositories(tx);
      const stored = await r.signingKeys.all();
      // Scheduled rotations: nodes sharing the store tick independently, and write transactions are
      // serialized (an advisory lock on PostgreSQL), so the first to find it due rotates and the
      // others, re-checking here, find it done: one rotation per installation.
      if (options.onlyIfDue && !rotationDue(stored, now, this.policy))
        throw new RotationRefused("a rotation is not due (another node rotated)");
      const plan = planRotation(stored, now, this.policy);
      if (typeof plan === "string") throw new RotationRefused(plan);
      const at = new Date(now).toISOString();
      const byKid = new Map(stored.map((s) => [s.kid, s]));
      await r.signingKeys.put({ ...byKid.get(plan.promote)!, state: "primary", activatedAt: at });
      if (plan.demote)
        await r.signingKeys.put({ ...byKid.get(plan.demote)!, state: "secondary", demotedAt: at });
      for (const kid of plan.retire) await r.signingKeys.delete(kid);
      const fresh = generateSigningKey(this.masterKey, "staged", new Date(now));
      await r.signingKeys.put(fresh);
      return {
        promoted: plan.promote,
        ...(plan.demote ? { demoted: plan.demote } : {}),
        retired: plan.retire,
        staged: fresh.kid,
      };
    });
    await this.reload();
    return result;
  }

  /** The scheduler's step: rotate when due, retire secondaries whose tokens have expired, reload. */
  async tick(now = Date.now()): Promise<void> {
    const stored = await repositories(this.store).signingKeys.all();
    if (rotationDue(stored, now, this.policy)) {
      try {
        await this.rotate(now, { onlyIfDue: true });
        return;
      } catch (err) {
        if (!(err instanceof RotationRefused)) throw err;
      }
    }
    const expired = expiredSecondaries(stored, now, this.policy);
    if (expired.length)
      await this.store.transaction(async (tx) => {
        for (const kid of expired) await repositories(tx).signingKeys.delete(kid);
      });
    await this.reload();
  }
}

function meta(s: StoredSigningKey) {
  return {
    state: s.state,
    createdAt: s.createdAt,
    ...(s.activatedAt ? { activatedAt: s.activatedAt } : {}),
    ...(s.demotedAt ? { demotedAt: s.demotedAt } : {}),
  };
}
