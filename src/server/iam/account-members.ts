/**
 * Members that name accounts (`user:`, `serviceAccount:`) are stored bound to the unique id of the
 * account they named when the binding was written (`serviceAccount:E?uid=U`), as Google keys
 * bindings by unique id. Evaluation matches on the id (`memberMatches`), so a deleted account's
 * bindings never apply to a new account of the same e-mail; they are shown as
 * `deleted:serviceAccount:E?uid=U` until the account is undeleted, when they apply again.
 *
 * Invariant kept here: a stored account member without a uid names no account that exists (a
 * user bound before being created). Creating that user binds such members to it (`claimPending`),
 * so no later account of the address can inherit them.
 */
import type { DocumentStore } from "../../datastore/datastore.js";
import { type Repositories, repositories } from "../../datastore/repositories.js";
import { InvalidArgument } from "../../domain/errors.js";
import { boundMember, displayMember, parseMember } from "../../domain/iam/members.js";
import type { Binding, Policy } from "../../domain/iam/policy.js";

type AccountType = "user" | "serviceAccount";

/** The unique id of the live account of that type and e-mail, if there is one. */
export async function liveUid(repos: Repositories, type: AccountType, email: string) {
  const account =
    type === "serviceAccount" ? await repos.serviceAccounts.get(email) : await repos.users.get(email);
  return account?.uniqueId;
}

/** How each stored member is shown to clients (`deleted:…` for accounts that are gone), with a cache. */
export function memberDisplayer(repos: Repositories): (member: string) => Promise<string> {
  const cache = new Map<string, Promise<string | undefined>>();
  const live = (type: AccountType, email: string) => {
    const key = `${type}:${email}`;
    let uid = cache.get(key);
    if (!uid) {
      uid = liveUid(repos, type, email);
      cache.set(key, uid);
    }
    return uid;
  };
  return async (m) => {
    const parsed = parseMember(m);
    if (typeof parsed === "string" || (parsed.type !== "user" && parsed.type !== "serviceAccount")) return m;
    if (parsed.uid === undefined) return m;
    return displayMember(m, await live(parsed.type, parsed.email));
  };
}

/** A policy as clients see it: bound members of accounts that are gone shown as `deleted:…`. */
export async function displayPolicy<P extends Omit<Policy, "etag">>(
  policy: P,
  repos: Repositories,
  display = memberDisplayer(repos),
): Promise<P> {
  const bindings: Binding[] = [];
  for (const b of policy.bindings) {
    const members = await Promise.all(b.members.map(display));
    bindings.push({ ...b, members: members.sort() });
  }
  return { ...policy, bindings };
}

/**
 * Turns a validated client policy into its stored form: each `serviceAccount:`/`user:` member is
 * bound to its live account's unique id. A service account that does not exist is refused, as
 * Google refuses it; a user that does not exist yet is kept unbound (Warrant's directory lets an
 * administrator grant before creating the user). A `deleted:` member is accepted only as a write-back
 * of one the current policy holds (gcloud's read-modify-write sends them back); naming a deleted
 * account anew is refused.
 */
export async function bindPolicyMembers<P extends Omit<Policy, "etag">>(
  policy: P,
  current: Policy | undefined,
  repos: Repositories,
): Promise<P> {
  const held = new Set((current?.bindings ?? []).flatMap((b) => b.members));
  const bindings: Binding[] = [];
  for (const b of policy.bindings) {
    const members = new Set<string>();
    for (const m of b.members) members.add(await bindMember(m, held, repos));
    bindings.push({ ...b, members: [...members].sort() });
  }
  return { ...policy, bindings };
}

async function bindMember(member: string, held: Set<string>, repos: Repositories): Promise<string> {
  const parsed = parseMember(member);
  if (typeof parsed === "string") throw new InvalidArgument(parsed);
  if (parsed.type === "deleted") {
    const p = parsed.principal;
    if (!p)
      throw new InvalidArgument(`Invalid member '${member}': expected deleted:TYPE:EMAIL?uid=UNIQUE_ID.`);
    const stored = boundMember(p.type, p.email, p.uid);
    if (!held.has(stored))
      throw new InvalidArgument(
        `Member '${member}' names a deleted principal that the policy does not hold; deleted principals cannot be added to a policy.`,
      );
    return stored;
  }
  if (parsed.type !== "user" && parsed.type !== "serviceAccount") {
    if ("uid" in parsed && parsed.uid !== undefined)
      throw new InvalidArgument(`Invalid member '${member}': ?uid= is only valid in deleted: members.`);
    return member;
  }
  if (parsed.uid !== undefined)
    throw new InvalidArgument(`Invalid member '${member}': ?uid= is only valid in deleted: members.`);
  const uid = await liveUid(repos, parsed.type, parsed.email);
  if (uid !== undefined) return boundMember(parsed.type, parsed.email, uid);
  if (parsed.type === "serviceAccount")
    throw new InvalidArgument(`Service account ${parsed.email} does not exist.`);
  return member;
}

/**
 * A user created just now takes over the bindings written for its address while no such user
 * existed. Returns the policies it changed (resource → new policy) for the caller's cache.
 */
export async function claimPendingMembers(
  tx: DocumentStore,
  type: AccountType,
  email: string,
  uid: string,
): Promise<Map<string, Policy>> {
  const r = repositories(tx);
  const pending = `${type}:${email.toLowerCase()}`;
  const changed = new Map<string, Policy>();
  for (const { key, value } of await tx.list("policy")) {
    if (!value.bindings.some((b) => b.members.includes(pending))) continue;
    const next: Policy = {
      ...value,
      bindings: value.bindings.map((b) => ({
        ...b,
        members: [
          ...new Set(b.members.map((m) => (m === pending ? boundMember(type, email, uid) : m))),
        ].sort(),
      })),
    };
    await r.policies.put(key, next);
    changed.set(key, next);
  }
  return changed;
}

/**
 * State written before members were bound to unique ids: bind every account member to the live
 * account of its e-mail. A service-account member naming no account is dropped (it named a deleted
 * account, whose id is unknown, and would otherwise pass to a new account of that e-mail); a user
 * member naming no user stays pending, as a new write would leave it.
 */
export async function bindLegacyMembers(tx: DocumentStore): Promise<number> {
  const r = repositories(tx);
  let rewritten = 0;
  for (const { key, value } of await tx.list("policy")) {
    let touched = false;
    const bindings: Binding[] = [];
    for (const b of value.bindings) {
      const members = new Set<string>();
      for (const m of b.members) {
        const parsed = parseMember(m);
        if (
          typeof parsed === "string" ||
          (parsed.type !== "user" && parsed.type !== "serviceAccount") ||
          parsed.uid
        ) {
          members.add(m);
          continue;
        }
        const uid = await liveUid(r, parsed.type, parsed.email);
        if (uid !== undefined) members.add(boundMember(parsed.type, parsed.email, uid));
        else if (parsed.type === "user") members.add(m);
        if (uid !== undefined || parsed.type === "serviceAccount") touched = true;
      }
      if (members.size > 0) bindings.push({ ...b, members: [...members].sort() });
    }
    if (!touched) continue;
    await r.policies.put(key, { ...value, bindings });
    rewritten++;
  }
  return rewritten;
}
