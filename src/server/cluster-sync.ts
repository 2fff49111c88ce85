/**
 * Keeps this node's caches true when other nodes share its datastore (docs/deployment.md). The
 * datastore's change feed (PostgreSQL LISTEN/NOTIFY) names every document a committed transaction
 * of any node wrote; each is dropped from the cache that holds it, so the next read sees the
 * committed value, typically within milliseconds. As a safety net (a notice lost with a
 * connection is reported as "everything may have changed", but belt and braces), every cache is
 * also dropped and the key ring re-read on a timer.
 */
import type { Datastore, StoreChange } from "../datastore/datastore.js";
import type { ChangeFeed } from "./agents/change-feed.js";
import type { ProjectDirectory } from "./auth/project-directory.js";
import type { ServiceAccountDirectory } from "./auth/service-account-directory.js";
import type { UserDirectory } from "./auth/user-directory.js";
import type { WorkloadIdentityDirectory } from "./auth/workload-identity-directory.js";
import type { AccessControl } from "./iam/access-control.js";
import type { KeyRing } from "./tokens/key-ring.js";

/** How often every cache is dropped and re-read anyway (the safety net). */
export const CLUSTER_RESYNC_MS = 30_000;

export interface SyncedCaches {
  access: AccessControl;
  directory: ServiceAccountDirectory;
  users: UserDirectory;
  /** Projects, cached for the routes that load theirs on every call. */
  projects?: ProjectDirectory;
  keyRing: KeyRing;
  /** Agents long-poll it: bumped when an instance, project or service account changed anywhere. */
  changes: ChangeFeed;
  /** Whether workload identity pools are active (their federated tokens stop when one is not). */
  workloadIdentity?: WorkloadIdentityDirectory;
}

export class ClusterSync {
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout | undefined;
  /** A key-ring reload in flight, and whether another was asked for meanwhile. */
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private closed = false;
  /** Notices applied so far (tests and metrics read it). */
  applied = 0;

  constructor(
    store: Datastore,
    private readonly caches: SyncedCaches,
    private readonly log: (line: string) => void,
    resyncMs = CLUSTER_RESYNC_MS,
  ) {
    // A store without a change feed (SQLite) has no other writer: nothing to follow or re-read.
    this.unsubscribe = store.watch ? store.watch((changes) => this.apply(changes)) : () => {};
    this.timer = store.watch ? setInterval(() => this.apply(null), resyncMs) : undefined;
    this.timer?.unref();
  }

  /** Drops what `changes` touched from the caches (`null`: everything). */
  apply(changes: readonly StoreChange[] | null): void {
    if (this.closed) return;
    const c = this.caches;
    if (changes === null) {
      c.access.forgetAll();
      c.directory.invalidateAll();
      c.users.invalidateAll();
      c.projects?.invalidateAll();
      c.changes.bump();
      c.workloadIdentity?.forgetAllPools();
      this.reloadKeyRing();
      return;
    }
    let bump = false;
    for (const { kind, key } of changes) {
      this.applied++;
      switch (kind) {
        case "policy":
          c.access.forgetPolicy(key);
          break;
        case "custom-role":
          c.access.customRolesChanged();
          break;
        case "service-account":
          c.directory.invalidate(key);
          bump = true;
          break;
        case "service-account-key":
          c.directory.invalidateKey(key);
          break;
        case "user":
          c.users.invalidateUser(key);
          break;
        case "oauth-client":
          c.users.invalidateClient(key);
          break;
        case "refresh-token":
          c.users.invalidateRefreshToken(key);
          break;
        case "signing-key":
          this.reloadKeyRing();
          break;
        case "project":
          c.projects?.invalidate(key);
          bump = true;
          break;
        case "instance":
          bump = true;
          break;
        case "group":
          c.access.groupsChanged();
          break;
        case "workload-identity-pool":
          c.workloadIdentity?.poolChanged(key);
          break;
        case "deny-policy":
          // Keyed by attachment point and id; attachment points hold slashes, so drop them all.
          c.access.allDenyPoliciesChanged();
          break;
      }
    }
    if (bump) c.changes.bump();
  }

  /** One reload at a time; changes that arrive during one get another after it. */
  private reloadKeyRing(): void {
    if (this.reloading) {
      this.reloadAgain = true;
      return;
    }
    this.reloading = this.caches.keyRing
      .reload()
      .catch((err) => this.log(`key ring: reload after a change elsewhere failed: ${(err as Error).message}`))
      .finally(() => {
        this.reloading = undefined;
        if (this.reloadAgain && !this.closed) {
          this.reloadAgain = false;
          this.reloadKeyRing();
        }
      });
  }

  /** Stops listening; resolves once a reload in flight has finished (before the datastore closes). */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    clearInterval(this.timer);
    await this.reloading;
  }
}
