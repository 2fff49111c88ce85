/**
 * Groups and domains: `group:` members match transitively through nested groups, cycles are
 * refused, a removed member loses access at the next call, and `domain:` matches the users of that
 * domain only. Denials and grants say through which group the member matched.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const VM = "/compute/v1/projects/demo-project/zones/us-central1-a/instances/demo-vm";

describe("groups and domains", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ agents: false });
  });
  after(() => h.close());

  async function setProjectBinding(role: string, member: string, add = true) {
    const p = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    if (add) p.bindings.push({ role, members: [member] });
    else p.bindings = p.bindings.filter((b: { role: string }) => b.role !== role);
    const r = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } });
    assert.equal(r.status, 200, r.text);
  }

  test("a nested member of group:sre stops an instance; removing the member revokes it at once", async () => {
    for (const email of ["sre@example.com", "oncall@example.com"]) {
      const r = await h.call("POST", "/warrant/v1/groups", { body: { email, displayName: email } });
      assert.equal(r.status, 200, r.text);
    }
    const nest = await h.call("POST", "/warrant/v1/groups/sre@example.com:addMember", {
      body: { member: "group:oncall@example.com" },
    });
    assert.equal(nest.status, 200, nest.text);
    assert.deepEqual(nest.body.members, ["group:oncall@example.com"]);
    const add = await h.call("POST", "/warrant/v1/groups/oncall@example.com:addMember", {
      body: { member: "user:nina@example.com" },
    });
    assert.equal(add.status, 200, add.text);

    const nina = await tokenAs(h, "user:nina@example.com");
    const before = await h.call("POST", `${VM}/stop`, { token: nina, body: {} });
    assert.equal(before.status, 403, "no binding yet");

    await setProjectBinding("roles/compute.instanceAdmin.v1", "group:sre@example.com");
    const stop = await h.call("POST", `${VM}/stop`, { token: nina, body: {} });
    assert.equal(stop.status, 200, stop.text);
    const start = await h.call("POST", `${VM}/start`, { token: nina, body: {} });
    assert.equal(start.status, 200, start.text);

    // Someone outside the groups is still refused.
    const other = await tokenAs(h, "user:otto@example.com");
    assert.equal((await h.call("POST", `${VM}/stop`, { token: other, body: {} })).status, 403);

    // A cycle is refused: oncall may not contain sre, which contains oncall.
    const cycle = await h.call("POST", "/warrant/v1/groups/oncall@example.com:addMember", {
      body: { member: "group:sre@example.com" },
    });
    assert.equal(cycle.status, 400, cycle.text);
    assert.equal(cycle.body.error.status, "FAILED_PRECONDITION");
    assert.match(
      cycle.body.error.message,
      /would make a cycle: group:oncall@example\.com contains group:sre@example\.com contains group:oncall@example\.com/,
    );
    const self = await h.call("POST", "/warrant/v1/groups/sre@example.com:addMember", {
      body: { member: "group:sre@example.com" },
    });
    assert.equal(self.status, 400);

    const rm = await h.call("POST", "/warrant/v1/groups/oncall@example.com:removeMember", {
      body: { member: "user:nina@example.com" },
    });
    assert.equal(rm.status, 200, rm.text);
    assert.deepEqual(rm.body.members, []);
    // The very next call is refused: no cache outlives the change.
    const after = await h.call("POST", `${VM}/stop`, { token: nina, body: {} });
    assert.equal(after.status, 403, after.text);
    await setProjectBinding("roles/compute.instanceAdmin.v1", "", false);
  });

  test("a denial through an unmet conditional group binding names the group path", async () => {
    await h.call("POST", "/warrant/v1/groups", {
      body: { email: "readers@example.com", members: ["group:interns@example.com"] },
    });
    await h.call("POST", "/warrant/v1/groups", {
      body: { email: "interns@example.com", members: ["user:ivy@example.com"] },
    });
    const p = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    p.version = 3;
    p.bindings.push({
      role: "roles/compute.viewer",
      members: ["group:readers@example.com"],
      condition: { title: "expired", expression: "request.time < timestamp('2001-01-01T00:00:00Z')" },
    });
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } })).status,
      200,
    );
    const ivy = await tokenAs(h, "user:ivy@example.com");
    const r = await h.call("GET", `${VM}?explain=true`, { token: ivy });
    assert.equal(r.status, 403);
    const skipped = r.body.error.explanation.conditionalBindingsSkipped;
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0].member, "group:readers@example.com");
    assert.deepEqual(skipped[0].via, ["interns@example.com", "readers@example.com"]);
    assert.match(r.body.error.message, /condition "expired"/);
    // Cleanup: back to an unconditional policy.
    p.bindings = p.bindings.filter((b: { condition?: unknown }) => !b.condition);
    const cur = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    p.etag = cur.etag;
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } })).status,
      200,
    );
  });

  test("a direct member of a group holds the group's role, and only that role", async () => {
    await h.call("POST", "/warrant/v1/groups", {
      body: { email: "viewers@example.com", members: ["user:vic@example.com"] },
    });
    await setProjectBinding("roles/compute.viewer", "group:viewers@example.com");
    const vic = await tokenAs(h, "user:vic@example.com");
    assert.equal((await h.call("GET", VM, { token: vic })).status, 200);
    const denied = await h.call("POST", `${VM}/stop?explain=true`, { token: vic, body: {} });
    assert.equal(denied.status, 403);
    await setProjectBinding("roles/compute.viewer", "", false);
  });

  test("domain: matches users of that domain, not other domains nor service accounts", async () => {
    await setProjectBinding("roles/compute.viewer", "domain:example.org");
    const inside = await tokenAs(h, "user:dora@example.org");
    const outside = await tokenAs(h, "user:dora@example.org.evil.com");
    const sub = await tokenAs(h, "user:dora@sub.example.org");
    assert.equal((await h.call("GET", VM, { token: inside })).status, 200);
    assert.equal((await h.call("GET", VM, { token: outside })).status, 403);
    assert.equal((await h.call("GET", VM, { token: sub })).status, 403);
    await setProjectBinding("roles/compute.viewer", "", false);
    assert.equal((await h.call("GET", VM, { token: inside })).status, 403);
  });

  test("group directory: validation, listing, deletion, and only administrators may change it", async () => {
    const bad = await h.call("POST", "/warrant/v1/groups", { body: { email: "not-an-email" } });
    assert.equal(bad.status, 400);
    const badMember = await h.call("POST", "/warrant/v1/groups/sre@example.com:addMember", {
      body: { member: "domain:example.com" },
    });
    assert.equal(badMember.status, 400);
    assert.match(badMember.body.error.message, /user:EMAIL, serviceAccount:EMAIL or group:EMAIL/);
    const dup = await h.call("POST", "/warrant/v1/groups", { body: { email: "sre@example.com" } });
    assert.equal(dup.status, 409);
    const list = await h.call("GET", "/warrant/v1/groups");
    assert.equal(list.status, 200);
    assert.ok(list.body.groups.some((g: { email: string }) => g.email === "sre@example.com"));
    const missing = await h.call("GET", "/warrant/v1/groups/nobody@example.com");
    assert.equal(missing.status, 404);

    const mallory = await tokenAs(h, "user:mallory@example.com");
    const sneak = await h.call("POST", "/warrant/v1/groups/sre@example.com:addMember", {
      token: mallory,
      body: { member: "user:mallory@example.com" },
    });
    assert.equal(sneak.status, 403);
    const g = (await h.call("GET", "/warrant/v1/groups/sre@example.com")).body;
    assert.ok(!g.members.includes("user:mallory@example.com"));

    assert.equal((await h.call("DELETE", "/warrant/v1/groups/viewers@example.com")).status, 200);
    assert.equal((await h.call("GET", "/warrant/v1/groups/viewers@example.com")).status, 404);
  });
});
