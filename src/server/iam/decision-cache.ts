/**
 * IAM decisions this node has already made, so that a caller repeating a request (the common case:
 * a workload polling the same resource) costs one map lookup instead of a walk over the policy
 * chain. A decision is remembered only when it depends on nothing but the principal, the permission,
 * the resource chain and the cached policy state: never when a condition was evaluated (it may
 * depend on `request.time`) or deny policies apply to the chain (their conditions may too), and never
 * for federated principals (their attributes are part of who they are, and they are many).
 *
 * Entries belong to one generation of `AccessControl`'s policy state: every committed policy, role,
 * group or deny change on this node, and every change another node reports through the change feed,
 * starts a new generation and so empties the cache. A policy change therefore takes effect exactly
 * as without the cache. Bounded: the oldest entry leaves first.
 */
import type { Decision } from "../../domain/iam/authorize.js";
import type { Principal } from "../../domain/iam/principal.js";
import type { ResourceRef } from "../../domain/resources.js";

export const DECISION_CACHE_ENTRIES = 20_000;

export class DecisionCache {
  private readonly entries = new Map<string, Decision>();
  private generation = -1;

  constructor(private readonly capacity = DECISION_CACHE_ENTRIES) {}

  /** The key of a decision, or undefined when decisions for this principal are not remembered. */
  static key(principal: Principal, permission: string, ref: ResourceRef): string | undefined {
    let who: string;
    switch (principal.kind) {
      case "anonymous":
        who = "a";
        break;
      case "user":
        who = `u\t${principal.email}\t${principal.uid ?? ""}\t${principal.groups.join(",")}`;
        break;
      case "serviceAccount":
        who = `s\t${principal.email}\t${principal.uid ?? ""}\t${principal.projectNumber ?? ""}\t${principal.groups.join(",")}`;
        break;
      default:
        return undefined;
    }
    // The whole chain: a bucket re-created in another project has other ancestors.
    return `${who}\n${permission}\n${ref.chain.join("\n")}`;
  }

  get(key: string, generation: number): Decision | undefined {
    if (generation !== this.generation) return undefined;
    return this.entries.get(key);
  }

  set(key: string, decision: Decision, generation: number): void {
    if (generation !== this.generation) {
      this.entries.clear();
      this.generation = generation;
    }
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, decision);
  }

  get size(): number {
    return this.entries.size;
  }
}
