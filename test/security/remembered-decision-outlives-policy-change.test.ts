/**
 * Attack: the server remembers IAM decisions so that a repeated call costs a lookup instead of a
 * walk over the policy chain. A remembered "allow" that survived the change meant to end it would
 * keep a removed principal in: a binding removed, a custom role narrowed, a group membership ended,
 * a deny policy added, or a conditional binding whose time ran out. Each case below warms the
 * decision with several allowed calls, makes the change, and expects the very next call refused.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const PROJECT = "/v1/projects/demo-project";
const INSTANCES = "/compute/v1/projects/demo-project/zones/us-central1-a/instances";
const DENY = "/v2/policies/cloudresourcemanager.googleapis.com%252Fprojects%252Fdemo-project/denypolicies";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Binding {
  role: string;
  members: string[];
  condition?: { title: string; expression: string };
}

describe("a remembered IAM decision never outlives the change that ends it", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ agents: false });
  });
  after(() => h.close());

  async function editPolicy(edit: (bindings: Binding[]) => Binding[]) {
    const p = await h.call("POST", `${PROJECT}:getIamPolicy`, {
      body: { options: { requestedPolicyVersion: 3 } },
    });
    assert.equal(p.status, 200, p.text);
    const r = await h.call("POST", `${PROJECT}:setIamPolicy`, {
      body: { policy: { version: 3, bindings: edit(p.body.bindings), etag: p.body.etag } },
    });
    assert.equal(r.status, 200, r.text);
  }
  const grant = (binding: Binding) => editPolicy((b) => [...b, binding]);
  const revoke = (member: string) =>
    editPolicy((b) =>
      b
        .map((x) => ({ ...x, members: x.members.filter((m) => m !== member) }))
        .filter((x) => x.members.length),
    );
  const list = async (token: string) => (await h.call("GET", INSTANCES, { token })).status;
  async function warm(token: string) {
    for (let i = 0; i < 3; i++) assert.equal(await list(token), 200, "allowed before the change");
  }

  test("a removed binding stops the permission on the very next call", async () => {
    const token = await tokenAs(h, "user:rita@example.com");
    await grant({ role: "roles/compute.viewer", members: ["user:rita@example.com"] });
    await warm(token);
    await revoke("user:rita@example.com");
    assert.equal(await list(token), 403);
  });

  test("a custom role that loses the permission stops it on the very next call", async () => {
    const created = await h.call("POST", `${PROJECT}/roles`, {
      body: { roleId: "lister", role: { title: "Lister", includedPermissions: ["compute.instances.list"] } },
    });
    assert.equal(created.status, 200, created.text);
    const token = await tokenAs(h, "user:carl@example.com");
    await grant({ role: "projects/demo-project/roles/lister", members: ["user:carl@example.com"] });
    await warm(token);
    const narrowed = await h.call("PATCH", `${PROJECT}/roles/lister?updateMask=includedPermissions`, {
      body: { includedPermissions: ["compute.instances.get"] },
    });
    assert.equal(narrowed.status, 200, narrowed.text);
    assert.equal(await list(token), 403);
  });

  test("leaving a group stops what the group was granted on the very next call", async () => {
    const group = await h.call("POST", "/warrant/v1/groups", {
      body: { email: "viewers@example.com", members: ["user:gina@example.com"] },
    });
    assert.equal(group.status, 200, group.text);
    const token = await tokenAs(h, "user:gina@example.com");
    await grant({ role: "roles/compute.viewer", members: ["group:viewers@example.com"] });
    await warm(token);
    const removed = await h.call("POST", "/warrant/v1/groups/viewers@example.com:removeMember", {
      body: { member: "user:gina@example.com" },
    });
    assert.equal(removed.status, 200, removed.text);
    assert.equal(await list(token), 403);
  });

  test("a deny policy added later refuses on the very next call, and its removal restores access", async () => {
    const token = await tokenAs(h, "user:dora@example.com");
    // Owners do not hold deny permissions (as on Google): the administrator needs the deny role.
    await grant({ role: "roles/iam.denyAdmin", members: ["user:admin@warrant.local"] });
    await grant({ role: "roles/compute.viewer", members: ["user:dora@example.com"] });
    await warm(token);
    const created = await h.call("POST", `${DENY}?policyId=no-listing`, {
      body: {
        rules: [
          {
            denyRule: {
              deniedPrincipals: ["principal://goog/subject/dora@example.com"],
              deniedPermissions: ["compute.googleapis.com/instances.list"],
            },
          },
        ],
      },
    });
    assert.equal(created.status, 200, created.text);
    assert.equal(await list(token), 403);
    assert.equal(await list(token), 403, "a denial is not remembered as anything else either");
    assert.equal((await h.call("DELETE", `${DENY}/no-listing`)).status, 200);
    assert.equal(await list(token), 200);
  });

  test("a conditional binding stops when its time runs out, with no policy change", async () => {
    const token = await tokenAs(h, "user:tess@example.com");
    const until = new Date(Date.now() + 2_500).toISOString();
    await grant({
      role: "roles/compute.viewer",
      members: ["user:tess@example.com"],
      condition: { title: "briefly", expression: `request.time < timestamp('${until}')` },
    });
    await warm(token);
    await sleep(Date.parse(until) - Date.now() + 50);
    assert.equal(await list(token), 403);
  });
});
