import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { authorize, type PolicyLink } from "../../src/domain/iam/authorize.js";
import type { Policy } from "../../src/domain/iam/policy.js";
import { candidatePositions, indexPolicy } from "../../src/domain/iam/policy-index.js";
import { serviceAccountPrincipal, userPrincipal } from "../../src/domain/iam/principal.js";
import { roleResolver } from "../../src/domain/iam/roles.js";

const PROJ = "projects/p1";
const ctx = { roles: roleResolver([]) };
const sa = (n: number) => `w${n}@p1.iam.gserviceaccount.com`;
const pol = (...bindings: Policy["bindings"]): Policy => ({ version: 1, etag: "x", bindings });
const chain = (policy: Policy): PolicyLink[] => [{ resource: PROJ, policy }];

describe("policy index: a policy compiled once per object, members found by lookup", () => {
  const members = Array.from({ length: 1500 }, (_, i) => `serviceAccount:${sa(i)}?uid=${1000 + i}`);
  const big = pol({ role: "roles/viewer", members });

  test("the last of 1,500 members is found, and named as the caller", () => {
    const d = authorize(
      serviceAccountPrincipal(sa(1499), undefined, "2499"),
      "compute.instances.list",
      chain(big),
      ctx,
    );
    assert.equal(d.allowed, true, d.reason);
    assert.deepEqual(
      d.grantedBy.map((g) => g.member),
      [`serviceAccount:${sa(1499)}`],
    );
  });

  test("a member bound to another unique id does not match (a new account of the same e-mail)", () => {
    const d = authorize(
      serviceAccountPrincipal(sa(7), undefined, "999999"),
      "compute.instances.list",
      chain(big),
      ctx,
    );
    assert.equal(d.allowed, false);
  });

  test("an e-mail in other case matches, as before (members are compared lower-case)", () => {
    const p = pol({ role: "roles/viewer", members: ["user:Alice@Example.com"] });
    assert.equal(
      authorize(userPrincipal("alice@example.com"), "compute.instances.list", chain(p), ctx).allowed,
      true,
    );
  });

  test("the first matching member in policy order is the one reported (group before the direct member)", () => {
    const p = pol({
      role: "roles/viewer",
      members: ["allAuthenticatedUsers", "group:team@example.com", `user:bob@example.com`],
    });
    const bob = userPrincipal("bob@example.com", ["team@example.com"]);
    assert.equal(
      authorize(bob, "compute.instances.list", chain(p), ctx).grantedBy[0]!.member,
      "allAuthenticatedUsers",
    );
    const q = pol({ role: "roles/viewer", members: ["group:team@example.com", "user:bob@example.com"] });
    assert.equal(
      authorize(bob, "compute.instances.list", chain(q), ctx).grantedBy[0]!.member,
      "group:team@example.com",
    );
    const r = pol({ role: "roles/viewer", members: ["user:bob@example.com", "group:team@example.com"] });
    assert.equal(
      authorize(bob, "compute.instances.list", chain(r), ctx).grantedBy[0]!.member,
      "user:bob@example.com",
    );
  });

  test("the index is per policy object: a replaced policy is compiled afresh (no stale grant)", () => {
    const before = pol({ role: "roles/viewer", members: ["user:carol@example.com"] });
    const carol = userPrincipal("carol@example.com");
    assert.equal(authorize(carol, "compute.instances.list", chain(before), ctx).allowed, true);
    const after = pol({ role: "roles/viewer", members: ["user:dave@example.com"] });
    assert.equal(authorize(carol, "compute.instances.list", chain(after), ctx).allowed, false);
    assert.notEqual(indexPolicy(before), indexPolicy(after));
    assert.equal(indexPolicy(before), indexPolicy(before), "compiled once per object");
  });

  test("only the caller's own members, its groups' and rule-based members are candidates", () => {
    const p = pol({
      role: "roles/viewer",
      members: [
        "user:x@example.com",
        "domain:example.com",
        "deleted:user:y@example.com?uid=1",
        "group:g@example.com",
        "user:z@example.com",
        "projectViewer:p1",
      ],
    });
    const b = indexPolicy(p).bindings[0]!;
    assert.deepEqual(candidatePositions(b, userPrincipal("z@example.com", ["g@example.com"])), [1, 3, 4, 5]);
    assert.deepEqual(indexPolicy(p).convenienceProjects, ["p1"]);
  });
});
