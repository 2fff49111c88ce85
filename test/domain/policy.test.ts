import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseMember } from "../../src/domain/iam/members.js";
import { addBinding, emptyPolicy, sameEtag, validatePolicy } from "../../src/domain/iam/policy.js";
import {
  listPredefinedRoles,
  predefinedPermissions,
  rolesGranting,
  validateCustomRole,
} from "../../src/domain/iam/roles.js";
import { accountIdProblem, projectIdProblem } from "../../src/domain/ids.js";

const known = (r: string) => r.startsWith("roles/");

describe("policy validation", () => {
  test("merges duplicate roles, de-duplicates and sorts members, sorts bindings", () => {
    const v = validatePolicy(
      {
        version: 3,
        bindings: [
          { role: "roles/viewer", members: ["user:b@x.com", "user:a@x.com"] },
          { role: "roles/editor", members: ["user:c@x.com"] },
          { role: "roles/viewer", members: ["user:a@x.com"] },
        ],
      },
      known,
    );
    assert.ok(typeof v !== "string");
    assert.deepEqual(v.policy.bindings, [
      { role: "roles/editor", members: ["user:c@x.com"] },
      { role: "roles/viewer", members: ["user:a@x.com", "user:b@x.com"] },
    ]);
    assert.equal(v.policy.version, 1, "a policy without conditions is stored as version 1");
  });

  test("missing bindings means an empty policy (gcloud omits the key)", () => {
    const v = validatePolicy({ etag: "BwYBmJ2Qp5E=", version: 3 }, known);
    assert.ok(typeof v !== "string");
    assert.deepEqual(v.policy.bindings, []);
    assert.equal(v.etag, "BwYBmJ2Qp5E=");
  });

  for (const [name, input, message] of [
    ["bad version", { version: 2 }, /version/],
    ["bindings not a list", { bindings: {} }, /bindings must be a list/],
    ["missing role", { bindings: [{ members: ["user:a@x.com"] }] }, /role is required/],
    [
      "unknown role",
      { bindings: [{ role: "nope", members: ["user:a@x.com"] }] },
      /Role nope is not supported/,
    ],
    ["bad member", { bindings: [{ role: "roles/viewer", members: ["alice"] }] }, /Invalid member 'alice'/],
    ["bad email", { bindings: [{ role: "roles/viewer", members: ["user:alice"] }] }, /not an email/],
    [
      "unknown member type",
      { bindings: [{ role: "roles/viewer", members: ["robot:a@b.c"] }] },
      /unknown member type 'robot'/,
    ],
    [
      "condition needs version 3",
      {
        version: 1,
        bindings: [{ role: "roles/viewer", members: ["user:a@x.com"], condition: { expression: "true" } }],
      },
      /version 3/,
    ],
    [
      "condition needs an expression",
      {
        version: 3,
        bindings: [{ role: "roles/viewer", members: ["user:a@x.com"], condition: { title: "t" } }],
      },
      /expression is required/,
    ],
    ["not an object", [], /must be an object/],
  ] as const) {
    test(`rejects ${name}`, () => {
      const v = validatePolicy(input, known);
      assert.equal(typeof v, "string");
      assert.match(v as string, message);
    });
  }

  test("keeps conditional bindings apart from unconditional ones of the same role", () => {
    const v = validatePolicy(
      {
        version: 3,
        bindings: [
          { role: "roles/compute.viewer", members: ["user:a@x.com"] },
          {
            role: "roles/compute.viewer",
            members: ["user:a@x.com"],
            condition: { title: "t", expression: "true" },
          },
        ],
      },
      known,
    );
    assert.ok(typeof v !== "string");
    assert.equal(v.policy.bindings.length, 2);
    assert.equal(v.policy.version, 3);
  });

  test("addBinding adds to an existing unconditional binding once", () => {
    let p = addBinding(emptyPolicy(), "roles/viewer", "user:a@x.com");
    p = addBinding(p, "roles/viewer", "user:a@x.com");
    p = addBinding(p, "roles/viewer", "user:b@x.com");
    assert.deepEqual(p.bindings, [{ role: "roles/viewer", members: ["user:a@x.com", "user:b@x.com"] }]);
  });
});

describe("etags", () => {
  test("standard and URL-safe base64 of the same bytes match; other bytes do not", () => {
    assert.ok(sameEtag("sEXdxf0CP+8=", "sEXdxf0CP-8="));
    assert.ok(sameEtag("ab/c", "ab_c"));
    assert.ok(!sameEtag("sEXdxf0CP+8=", "sEXdxf0CQ+8="));
    assert.ok(!sameEtag("", "ACAB"));
  });
});

describe("members", () => {
  test("parses every supported form", () => {
    assert.deepEqual(parseMember("allUsers"), { type: "allUsers" });
    assert.deepEqual(parseMember("user:A@Example.com"), { type: "user", email: "a@example.com" });
    assert.deepEqual(parseMember("projectEditor:p1"), {
      type: "convenience",
      kind: "projectEditor",
      projectId: "p1",
    });
    assert.deepEqual(parseMember("domain:example.com"), { type: "domain", domain: "example.com" });
    assert.equal(typeof parseMember("domain:not a domain"), "string");
  });
});

describe("role catalog", () => {
  test("is generated from Google's data and keeps the documented gotchas", () => {
    assert.ok(listPredefinedRoles().length >= 100);
    assert.ok(predefinedPermissions("roles/iam.serviceAccountUser")!.has("iam.serviceAccounts.actAs"));
    assert.ok(!predefinedPermissions("roles/owner")!.has("storage.objects.get"));
    assert.ok(!predefinedPermissions("roles/storage.legacyBucketReader")!.has("storage.objects.get"));
    assert.ok(predefinedPermissions("roles/viewer")!.has("storage.buckets.list"));
    assert.ok(!predefinedPermissions("roles/viewer")!.has("storage.buckets.get"));
  });

  test("rolesGranting lists the narrowest roles first", () => {
    const roles = rolesGranting("iam.serviceAccounts.actAs");
    assert.ok(roles.includes("roles/iam.serviceAccountUser"));
    assert.ok(roles.indexOf("roles/iam.serviceAccountUser") < roles.indexOf("roles/owner"));
  });

  test("custom roles: validated against known permissions", () => {
    const ok = validateCustomRole("p1", "myRole", {
      title: "T",
      includedPermissions: ["compute.instances.list", "compute.instances.list"],
    });
    assert.ok(typeof ok !== "string");
    assert.equal(ok.name, "projects/p1/roles/myRole");
    assert.deepEqual(ok.includedPermissions, ["compute.instances.list"]);
    assert.match(
      validateCustomRole("p1", "myRole", { includedPermissions: ["made.up.permission"] }) as string,
      /made\.up\.permission is not valid/,
    );
    assert.match(validateCustomRole("p1", "x", {}) as string, /role ID 'x' is invalid/);
    assert.match(validateCustomRole("p1", "okRole", { stage: "SOON" }) as string, /stage/);
  });
});

describe("identifier rules", () => {
  for (const id of ["my-project", "abcdef", "a12345678901234567890123456789"])
    test(`project id '${id}' is valid`, () => assert.equal(projectIdProblem(id), null));
  for (const id of [
    "short",
    "Upper-case",
    "1starts-with-digit",
    "ends-with-",
    "has_underscore",
    "my-google-project",
    "a123456789012345678901234567890",
  ])
    test(`project id '${id}' is rejected`, () => assert.notEqual(projectIdProblem(id), null));
  test("service account ids: 6 to 30 chars, lowercase", () => {
    assert.equal(accountIdProblem("my-sa1"), null);
    assert.match(accountIdProblem("sa") as string, /between 6 and 30/);
    assert.match(accountIdProblem("My-Service") as string, /must match/);
  });
});
