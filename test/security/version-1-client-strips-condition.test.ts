/**
 * Attack: turn a conditional grant into an unconditional one through a client that speaks policy
 * version 1 — read the policy without asking for version 3 (so the condition is not shown) and
 * write it back, or name `ROLE_withcond_HASH` as a role. The read shows the opaque role; a guarded
 * write of the view is refused; a blind write keeps the condition; a forged hash grants nothing.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const P = "/v1/projects/demo-project";
const INSTANCES = "/compute/v1/projects/demo-project/zones/us-central1-a/instances";

describe("attack: a version-1 client strips a binding's condition", () => {
  let h: Harness;
  let eve: string;
  before(async () => {
    h = await startHarness({ agents: false });
    const p = (
      await h.call("POST", `${P}:getIamPolicy`, { body: { options: { requestedPolicyVersion: 3 } } })
    ).body;
    p.version = 3;
    p.bindings.push({
      role: "roles/compute.viewer",
      members: ["user:eve@example.com"],
      condition: { title: "expired", expression: "request.time < timestamp('2001-01-01T00:00:00Z')" },
    });
    assert.equal((await h.call("POST", `${P}:setIamPolicy`, { body: { policy: p } })).status, 200);
    eve = await tokenAs(h, "user:eve@example.com");
  });
  after(() => h.close());

  const eveCanList = async () => (await h.call("GET", INSTANCES, { token: eve })).status === 200;

  test("the version-1 view hides the condition behind an opaque role; writing it back never grants", async () => {
    assert.equal(await eveCanList(), false);
    const v1 = (await h.call("POST", `${P}:getIamPolicy`, { body: {} })).body;
    const opaque = v1.bindings.find((b: { role: string }) =>
      b.role.startsWith("roles/compute.viewer_withcond_"),
    );
    assert.ok(opaque, JSON.stringify(v1.bindings));
    assert.equal(opaque.condition, undefined);

    // Guarded write of the view: refused.
    const guarded = await h.call("POST", `${P}:setIamPolicy`, { body: { policy: v1 } });
    assert.equal(guarded.status, 400);
    assert.equal(await eveCanList(), false);

    // Blind write: the opaque role maps back to the conditional binding.
    const { etag: _e, ...blind } = v1;
    assert.equal((await h.call("POST", `${P}:setIamPolicy`, { body: { policy: blind } })).status, 200);
    assert.equal(await eveCanList(), false);

    // The opaque role renamed to the plain role: that is a new, unconditional grant made by an
    // administrator on purpose — but a forged hash is no role at all.
    const forged = {
      ...blind,
      bindings: [
        ...blind.bindings,
        { role: "roles/compute.viewer_withcond_00000000000000000000", members: ["user:eve@example.com"] },
      ],
    };
    const r = await h.call("POST", `${P}:setIamPolicy`, { body: { policy: forged } });
    assert.equal(r.status, 400);
    assert.equal(await eveCanList(), false);
  });
});
