/**
 * A policy compiled for evaluation: each binding's members parsed once and indexed by the principal
 * they name, so that finding the member that grants a binding to a caller is a few map lookups
 * instead of parsing and comparing every member (a policy holds up to 1,500). Pure.
 *
 * Compiled forms are kept per policy object (a `WeakMap`): policies are values, replaced rather than
 * changed in place by every write, so a new policy object is compiled afresh on first use and the
 * old form goes with the old object. Role permissions are not folded in (the role resolver is
 * consulted per binding, a set lookup), so a custom-role change needs no recompilation.
 */
import { type ParsedMember, parseMember } from "./members.js";
import type { Binding, Policy } from "./policy.js";
import type { Principal } from "./principal.js";

export interface IndexedBinding {
  binding: Binding;
  /** `user:EMAIL`, `serviceAccount:EMAIL`, `group:EMAIL` → positions in `binding.members`, ascending. */
  readonly byKey: ReadonlyMap<string, readonly number[]>;
  /**
   * Positions of the members not found by key that may match some principal (allUsers,
   * allAuthenticatedUsers, domain:, projectOwner:… and other convenience members, principalSet://
   * and principal://), ascending. Invalid and `deleted:` members match nobody and are left out.
   */
  readonly others: readonly number[];
  /** The parsed member at each position (invalid members as their error message). */
  readonly parsed: readonly (ParsedMember | string)[];
}

export interface IndexedPolicy {
  bindings: readonly IndexedBinding[];
  /** Project ids named by Cloud Storage's convenience members (`projectViewer:P`, …), in order of appearance. */
  convenienceProjects: readonly string[];
}

const compiled = new WeakMap<Policy, IndexedPolicy>();

/** The compiled form of `policy`, built on first use. */
export function indexPolicy(policy: Policy): IndexedPolicy {
  let c = compiled.get(policy);
  if (!c) {
    c = compile(policy);
    compiled.set(policy, c);
  }
  return c;
}

function compile(policy: Policy): IndexedPolicy {
  const convenience = new Set<string>();
  const bindings = policy.bindings.map((binding): IndexedBinding => {
    const byKey = new Map<string, number[]>();
    const others: number[] = [];
    const parsed = binding.members.map((m, i) => {
      const p = parseMember(m);
      if (typeof p === "string") return p;
      switch (p.type) {
        case "user":
        case "serviceAccount":
        case "group": {
          const key = `${p.type}:${p.email}`;
          const at = byKey.get(key);
          if (at) at.push(i);
          else byKey.set(key, [i]);
          break;
        }
        case "deleted":
          break;
        case "convenience":
          convenience.add(p.projectId);
          others.push(i);
          break;
        default:
          others.push(i);
      }
      return p;
    });
    return { binding, byKey, others, parsed };
  });
  return { bindings, convenienceProjects: [...convenience] };
}

/**
 * Positions in the binding of the members that could name `principal` (by its own member key or
 * one of its groups), plus the members found by rule rather than key, ascending. The caller
 * confirms each with the full matching rule (unique ids, conditions of convenience members).
 */
export function candidatePositions(b: IndexedBinding, principal: Principal): number[] {
  let out: number[] | undefined;
  const add = (xs: readonly number[] | undefined) => {
    if (!xs || xs.length === 0) return;
    out = out ? out.concat(xs) : [...xs];
  };
  if (principal.kind === "user" || principal.kind === "serviceAccount") {
    add(b.byKey.get(`${principal.kind}:${principal.email}`));
    for (const g of principal.groups) add(b.byKey.get(`group:${g}`));
  }
  add(b.others);
  if (!out) return [];
  if (out.length > 1) out.sort((x, y) => x - y);
  return out;
}
