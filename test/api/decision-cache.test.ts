/**
 * The decision cache's own rules: bounded (oldest out first), emptied by a new policy generation,
 * and never keyed for principals whose identity it cannot name in full (federated ones).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Decision } from "../../src/domain/iam/authorize.js";
import { serviceAccountPrincipal, userPrincipal } from "../../src/domain/iam/principal.js";
import { DecisionCache } from "../../src/server/iam/decision-cache.js";

const decision = (allowed: boolean): Decision => ({
  allowed,
  principal: "user:a@example.com",
  permission: "p",
  resource: "projects/p",
  grantedBy: [],
  conditionalSkipped: [],
  bindingsConsidered: 0,
  rolesGranting: [],
  reason: "",
});
const ref = { chain: ["projects/p", "organizations/1"] };

describe("DecisionCache", () => {
  test("a new generation forgets every decision", () => {
    const cache = new DecisionCache();
    const key = DecisionCache.key(userPrincipal("a@example.com"), "p", ref)!;
    cache.set(key, decision(true), 1);
    assert.equal(cache.get(key, 1)?.allowed, true);
    assert.equal(cache.get(key, 2), undefined, "asked in a later generation");
    cache.set("other", decision(false), 2);
    assert.equal(cache.get(key, 2), undefined, "the older generation's entries are gone");
    assert.equal(cache.size, 1);
  });

  test("is bounded: the oldest entry leaves first", () => {
    const cache = new DecisionCache(2);
    for (const k of ["a", "b", "c"]) cache.set(k, decision(true), 0);
    assert.equal(cache.size, 2);
    assert.equal(cache.get("a", 0), undefined);
    assert.ok(cache.get("c", 0));
  });

  test("keys name the whole principal, the permission and the whole chain", () => {
    const k = (p: Parameters<typeof DecisionCache.key>[0], perm = "p", chain = ref.chain) =>
      DecisionCache.key(p, perm, { chain });
    const user = userPrincipal("a@example.com", [], "1");
    assert.notEqual(k(user), k(userPrincipal("a@example.com", [], "2")), "another account of that e-mail");
    assert.notEqual(k(user), k(userPrincipal("a@example.com", ["g@example.com"], "1")), "other groups");
    assert.notEqual(k(user), k(user, "q"));
    assert.notEqual(k(user), k(user, "p", ["projects/p", "organizations/2"]), "other ancestors");
    assert.notEqual(
      k(serviceAccountPrincipal("s@p.iam.gserviceaccount.com", "1", "u")),
      k(serviceAccountPrincipal("s@p.iam.gserviceaccount.com", "2", "u")),
      "another project number",
    );
    const federated = {
      kind: "federated" as const,
      pool: "projects/1/locations/global/workloadIdentityPools/p",
      subject: "s",
      poolGroups: [],
      attributes: { team: "a" },
      groups: [],
    };
    assert.equal(k(federated), undefined, "federated principals are not remembered");
  });
});
