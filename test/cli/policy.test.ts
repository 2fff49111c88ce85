import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiError } from "../../src/cli/errors.js";
import {
  addBinding,
  checkMember,
  checkRole,
  type Policy,
  parseCondition,
  readModifyWrite,
  removeBinding,
} from "../../src/cli/policy.js";

const base: Policy = {
  version: 1,
  etag: "e1",
  bindings: [{ role: "roles/owner", members: ["user:admin@example.com"] }],
};

describe("binding add/remove", () => {
  it("adds a new binding, then appends to it, idempotently, without mutating the input", () => {
    const p1 = addBinding(base, "user:a@example.com", "roles/viewer");
    assert.deepEqual(p1.bindings?.[1], { role: "roles/viewer", members: ["user:a@example.com"] });
    assert.equal(p1.etag, "e1");
    assert.equal(base.bindings?.length, 1);
    const p2 = addBinding(p1, "user:b@example.com", "roles/viewer");
    assert.deepEqual(p2.bindings?.[1]?.members, ["user:a@example.com", "user:b@example.com"]);
    assert.deepEqual(addBinding(p2, "user:b@example.com", "roles/viewer"), p2);
    assert.equal(p2.version, 1);
  });

  it("handles an empty policy", () => {
    assert.deepEqual(addBinding({ etag: "x" }, "user:a@example.com", "roles/viewer"), {
      etag: "x",
      bindings: [{ role: "roles/viewer", members: ["user:a@example.com"] }],
    });
  });

  it("keeps conditional bindings separate and sets version 3", () => {
    const cond = { expression: "request.time < timestamp('2030-01-01T00:00:00Z')", title: "until 2030" };
    const p = addBinding(base, "user:a@example.com", "roles/owner", cond);
    assert.equal(p.bindings?.length, 2);
    assert.equal(p.version, 3);
    assert.deepEqual(p.bindings?.[1], {
      role: "roles/owner",
      members: ["user:a@example.com"],
      condition: cond,
    });
    assert.throws(() => removeBinding(p, "user:a@example.com", "roles/owner"), /not found/);
    assert.equal(removeBinding(p, "user:a@example.com", "roles/owner", cond).bindings?.length, 1);
    assert.equal(removeBinding(p, "user:a@example.com", "roles/owner", "all").bindings?.length, 1);
  });

  it("removes a member, drops empty bindings, and errors when the binding is absent", () => {
    const p = addBinding(
      addBinding(base, "user:a@example.com", "roles/viewer"),
      "user:b@example.com",
      "roles/viewer",
    );
    const r1 = removeBinding(p, "user:a@example.com", "roles/viewer");
    assert.deepEqual(r1.bindings?.[1]?.members, ["user:b@example.com"]);
    const r2 = removeBinding(r1, "user:b@example.com", "roles/viewer");
    assert.deepEqual(r2.bindings, base.bindings);
    assert.throws(
      () => removeBinding(r2, "user:b@example.com", "roles/viewer"),
      /^Error: Policy binding with the specified principal, role, and condition not found!$|not found!/,
    );
  });

  it("validates members, roles and conditions", () => {
    assert.equal(
      checkMember("serviceAccount:a@p.iam.gserviceaccount.com"),
      "serviceAccount:a@p.iam.gserviceaccount.com",
    );
    assert.equal(checkMember("allUsers"), "allUsers");
    assert.throws(() => checkMember("alice@example.com"), /type prefix.*user:alice@example.com/);
    assert.throws(() => checkMember("user:"), /type prefix/);
    assert.equal(checkRole("roles/viewer"), "roles/viewer");
    assert.equal(checkRole("projects/p/roles/custom"), "projects/p/roles/custom");
    assert.throws(
      () => checkRole("viewer"),
      (e: unknown) => (e as { hint?: string }).hint === "Did you mean roles/viewer?",
    );
    assert.equal(parseCondition("None"), undefined);
    assert.deepEqual(parseCondition("expression=a == 'x,y',title=T,description=D"), {
      expression: "a == 'x,y'",
      title: "T",
      description: "D",
    });
    assert.throws(() => parseCondition("title=T"), /expression/);
    assert.throws(() => parseCondition("foo"), /Invalid --condition/);
  });
});

describe("read-modify-write", () => {
  const conflict = () => new ApiError(409, "There were concurrent policy changes.", "ABORTED");

  it("retries the whole cycle on 409 and uses the fresh policy each time", async () => {
    let stored: Policy = { etag: "0", bindings: [] };
    let gets = 0;
    let failures = 2;
    const sleeps: number[] = [];
    const result = await readModifyWrite(
      async () => {
        gets++;
        return stored;
      },
      (p) => addBinding(p, `user:u${gets}@example.com`, "roles/viewer"),
      async (p) => {
        if (failures-- > 0) {
          stored = { ...stored, etag: String(Number(stored.etag) + 1) };
          throw conflict();
        }
        stored = { ...p, etag: "final" };
        return stored;
      },
      { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 },
    );
    assert.equal(gets, 3);
    assert.equal(sleeps.length, 2);
    assert.ok(sleeps[1]! > sleeps[0]!, "backoff grows");
    assert.deepEqual(result.bindings?.[0]?.members, ["user:u3@example.com"]);
  });

  it("gives up after maxAttempts and does not retry other errors", async () => {
    let sets = 0;
    await assert.rejects(
      readModifyWrite(
        async () => ({}),
        (p) => p,
        async () => {
          sets++;
          throw conflict();
        },
        { maxAttempts: 4, sleep: async () => {} },
      ),
      ApiError,
    );
    assert.equal(sets, 4);
    sets = 0;
    await assert.rejects(
      readModifyWrite(
        async () => ({}),
        (p) => p,
        async () => {
          sets++;
          throw new ApiError(403, "denied", "PERMISSION_DENIED");
        },
        { sleep: async () => {} },
      ),
      /denied/,
    );
    assert.equal(sets, 1);
  });
});
