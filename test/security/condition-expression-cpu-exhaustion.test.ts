/**
 * Attack: make every authorization check expensive by setting a condition whose evaluation is
 * costly — nested comprehension macros over literal lists (millions of iterations per check), or
 * a huge chain of logical operators. Conditions are evaluated on every request a binding may grant,
 * so such an expression would slow down every caller. They are refused when set; the policy is
 * unchanged; and a legitimate condition still evaluates quickly.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { conditionError, evaluateCondition } from "../../src/domain/iam/condition.js";
import { type Harness, startHarness } from "../support/harness.js";

const list = `[${Array.from({ length: 250 }, (_, i) => i).join(",")}]`;
const NESTED = `${list}.all(x, ${list}.all(y, ${list}.all(z, x + y + z >= 0)))`;
const MANY_ORS = Array.from({ length: 40 }, (_, i) => `resource.name == "n${i}"`).join(" || ");

describe("attack: condition expressions that exhaust the CPU", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ agents: false });
  });
  after(() => h.close());

  test("the pure check refuses macros, too many logical operators and very long expressions", () => {
    assert.match(conditionError(NESTED) ?? "", /macros such as all\(\).* are not supported/);
    assert.match(conditionError(MANY_ORS) ?? "", /more than 12 logical operators/);
    assert.match(conditionError(`resource.name == "${"a".repeat(5000)}"`) ?? "", /longer than 4096/);
    // A refused expression met at evaluation (written before the limits) grants nothing, at once.
    const t0 = process.hrtime.bigint();
    const out = evaluateCondition({ expression: NESTED }, { name: "projects/_/buckets/b" }, new Date());
    assert.equal(out.value, false);
    assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 200, "refused without running it");
  });

  test("setIamPolicy refuses them with 400 and leaves the policy as it was", async () => {
    const before = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    for (const expression of [NESTED, MANY_ORS]) {
      const policy = {
        ...before,
        version: 3,
        bindings: [
          ...before.bindings,
          {
            role: "roles/compute.viewer",
            members: ["user:x@example.com"],
            condition: { title: "slow", expression },
          },
        ],
      };
      const r = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy } });
      assert.equal(r.status, 400, r.text.slice(0, 200));
      assert.equal(r.body.error.status, "INVALID_ARGUMENT");
    }
    const after = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    assert.equal(after.etag, before.etag);
  });

  test("a legitimate condition at the limit evaluates in well under a millisecond on average", () => {
    const atLimit = Array.from(
      { length: 13 },
      (_, i) => `resource.name.startsWith("projects/_/buckets/b${i}/")`,
    ).join(" || ");
    assert.equal(conditionError(atLimit), undefined);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++)
      evaluateCondition({ expression: atLimit }, { name: "projects/_/buckets/b12/objects/o" }, new Date());
    const perCall = Number(process.hrtime.bigint() - t0) / 1e6 / 1000;
    assert.ok(perCall < 1, `${perCall} ms per evaluation`);
  });
});
