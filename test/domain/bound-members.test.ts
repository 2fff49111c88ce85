import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { authorize } from "../../src/domain/iam/authorize.js";
import { boundMember, displayMember, memberMatches, parseMember } from "../../src/domain/iam/members.js";
import {
  principalFromMember,
  serviceAccountPrincipal,
  userPrincipal,
} from "../../src/domain/iam/principal.js";
import { roleResolver } from "../../src/domain/iam/roles.js";

const SA = "deploy-sa@p1.iam.gserviceaccount.com";

describe("members bound to unique ids", () => {
  test("parsing: ?uid= on e-mail members, deleted: members name their principal", () => {
    assert.deepEqual(parseMember(`serviceAccount:${SA}?uid=42`), {
      type: "serviceAccount",
      email: SA,
      uid: "42",
    });
    assert.deepEqual(parseMember("deleted:user:Old@Example.com?uid=7"), {
      type: "deleted",
      inner: "user:Old@Example.com?uid=7",
      principal: { type: "user", email: "old@example.com", uid: "7" },
    });
    assert.equal(typeof parseMember("user:a@b.com?uid="), "string");
    assert.equal(typeof parseMember("user:a@b.com?x=1?uid=2"), "string");
    assert.equal((parseMember("deleted:whatever") as { principal?: unknown }).principal, undefined);
  });

  test("a bound member matches only the account with that unique id", () => {
    const member = parseMember(boundMember("serviceAccount", SA, "42"));
    assert.ok(typeof member !== "string");
    assert.ok(memberMatches(member, serviceAccountPrincipal(SA, undefined, "42")));
    assert.ok(!memberMatches(member, serviceAccountPrincipal(SA, undefined, "43")), "a newer account");
    assert.ok(!memberMatches(member, serviceAccountPrincipal(SA)), "a caller without a unique id");
    const deleted = parseMember(`deleted:serviceAccount:${SA}?uid=42`);
    assert.ok(typeof deleted !== "string");
    assert.ok(
      !memberMatches(deleted, serviceAccountPrincipal(SA, undefined, "42")),
      "deleted: never matches",
    );
  });

  test("display: plain while the account is live, deleted: once it is gone or replaced", () => {
    const stored = boundMember("user", "Ann@Example.com", "9");
    assert.equal(stored, "user:ann@example.com?uid=9");
    assert.equal(displayMember(stored, "9"), "user:ann@example.com");
    assert.equal(displayMember(stored, undefined), "deleted:user:ann@example.com?uid=9");
    assert.equal(displayMember(stored, "10"), "deleted:user:ann@example.com?uid=9");
    assert.equal(displayMember("group:g@example.com", undefined), "group:g@example.com");
    assert.deepEqual(principalFromMember(stored), userPrincipal("ann@example.com", [], "9"));
  });

  test("authorize() names the granting member as the caller, without its binding", () => {
    const policy = {
      version: 1,
      etag: "x",
      bindings: [{ role: "roles/viewer", members: [boundMember("user", "a@b.com", "5")] }],
    };
    const chain = [{ resource: "projects/p1", policy }];
    const ctx = { roles: roleResolver([]) };
    const yes = authorize(userPrincipal("a@b.com", [], "5"), "resourcemanager.projects.get", chain, ctx);
    assert.equal(yes.allowed, true);
    assert.equal(yes.grantedBy[0]!.member, "user:a@b.com");
    assert.equal(
      authorize(userPrincipal("a@b.com", [], "6"), "resourcemanager.projects.get", chain, ctx).allowed,
      false,
    );
  });
});
