/**
 * The group directory (Google's groups live in Cloud Identity; Warrant keeps its own): a group is
 * an e-mail address with members — users, service accounts and other groups. A `group:EMAIL`
 * policy member matches every principal that belongs to the group directly or through nested
 * groups. Cycles are refused when a member is added. Pure.
 */
import { parseMember } from "./members.js";
import type { Principal } from "./principal.js";

export interface Group {
  email: string;
  displayName?: string;
  description?: string;
  /** `user:EMAIL`, `serviceAccount:EMAIL` or `group:EMAIL`, sorted, lower-case. */
  members: string[];
  createTime: string;
}

export const MAX_GROUP_MEMBERS = 10_000;
const EMAIL = /^[^\s@:?]+@[^\s@:?]+\.[^\s@:?]+$/;

export function groupEmailProblem(email: unknown): string | undefined {
  if (typeof email !== "string" || !EMAIL.test(email) || email.length > 254)
    return `Invalid group e-mail ${JSON.stringify(email)}: expected an address such as sre@example.com.`;
  return undefined;
}

/** Validates a member to add to a group and returns it normalized (`TYPE:email`). */
export function groupMember(member: unknown): string {
  const parsed = parseMember(member);
  if (typeof parsed === "string") throw new GroupError(parsed);
  if (parsed.type !== "user" && parsed.type !== "serviceAccount" && parsed.type !== "group")
    throw new GroupError(
      `A group's members are user:EMAIL, serviceAccount:EMAIL or group:EMAIL; '${String(member)}' is none of them.`,
    );
  if (parsed.uid !== undefined) throw new GroupError(`A group member names an e-mail, without '?uid='.`);
  return `${parsed.type}:${parsed.email}`;
}

export class GroupError extends Error {}

/**
 * Whether adding `group:child` to `parent` would make a group contain itself: true when `parent`
 * is `child` or is reachable from `child` through its nested groups.
 */
export function wouldCycle(
  groups: ReadonlyMap<string, Group>,
  parent: string,
  child: string,
): string[] | null {
  // Path from child down to parent, if any.
  const seen = new Set<string>();
  const walk = (g: string, path: string[]): string[] | null => {
    if (g === parent) return [...path, g];
    if (seen.has(g)) return null;
    seen.add(g);
    for (const m of groups.get(g)?.members ?? [])
      if (m.startsWith("group:")) {
        const found = walk(m.slice(6), [...path, g]);
        if (found) return found;
      }
    return null;
  };
  return walk(child, []);
}

/**
 * The groups a principal belongs to, each with the path that makes it a member: from the group
 * that lists the principal directly, outwards to that group (e.g. `["oncall@x", "sre@x"]` when
 * oncall@x lists the principal and sre@x lists `group:oncall@x`). Shortest paths, breadth first.
 */
export class GroupIndex {
  /** member string → groups that list it directly. */
  private readonly parents = new Map<string, string[]>();
  readonly size: number;

  constructor(groups: Iterable<Group>) {
    let n = 0;
    for (const g of groups) {
      n++;
      for (const m of g.members) {
        const list = this.parents.get(m) ?? [];
        list.push(g.email);
        this.parents.set(m, list);
      }
    }
    this.size = n;
  }

  membership(principal: Principal): Map<string, string[]> {
    const out = new Map<string, string[]>();
    // Federated identities are in no directory group (their pool's groups are another namespace).
    if (principal.kind === "anonymous" || principal.kind === "federated" || this.size === 0) return out;
    let frontier: [string, string[]][] = (this.parents.get(`${principal.kind}:${principal.email}`) ?? []).map(
      (g) => [g, [g]],
    );
    while (frontier.length > 0) {
      const next: [string, string[]][] = [];
      for (const [g, path] of frontier) {
        if (out.has(g)) continue;
        out.set(g, path);
        for (const parent of this.parents.get(`group:${g}`) ?? [])
          if (!out.has(parent)) next.push([parent, [...path, parent]]);
      }
      frontier = next;
    }
    return out;
  }
}
