/**
 * Attack: a service account bound roles/owner is deleted; a principal holding only
 * roles/iam.serviceAccountAdmin re-creates an account of the same e-mail, makes itself its token
 * creator, takes a token for it and uses the deleted account's owner binding to make itself owner.
 * Bindings are matched on the account's unique id, so the new account inherits nothing, and the
 * old binding is shown as `deleted:serviceAccount:EMAIL?uid=UNIQUE_ID`.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const PROJECT = "/v1/projects/demo-project";
const DEPLOY = "deploy-sa@demo-project.iam.gserviceaccount.com";
const MALLORY = "user:mallory@example.com";

describe("a re-created service account does not inherit the deleted account's bindings", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  async function addProjectBinding(role: string, member: string) {
    const p = await h.call("POST", `${PROJECT}:getIamPolicy`, { body: {} });
    const bindings = [...p.body.bindings, { role, members: [member] }];
    const r = await h.call("POST", `${PROJECT}:setIamPolicy`, {
      body: { policy: { bindings, etag: p.body.etag } },
    });
    assert.equal(r.status, 200, r.text);
  }

  test("serviceAccountAdmin cannot become owner through a re-created deploy-sa", async () => {
    const created = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "deploy-sa" },
    });
    assert.equal(created.status, 200, created.text);
    const oldUid = created.body.uniqueId as string;
    await addProjectBinding("roles/owner", `serviceAccount:${DEPLOY}`);
    assert.equal((await h.call("DELETE", `/v1/projects/-/serviceAccounts/${DEPLOY}`)).status, 200);

    const mallory = await tokenAs(h, MALLORY);
    await addProjectBinding("roles/iam.serviceAccountAdmin", MALLORY);

    // The attacker's chain, every step of which is within roles/iam.serviceAccountAdmin.
    const again = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      token: mallory,
      body: { accountId: "deploy-sa" },
    });
    assert.equal(again.status, 200, again.text);
    assert.notEqual(again.body.uniqueId, oldUid);
    const grant = await h.call("POST", `/v1/projects/-/serviceAccounts/${DEPLOY}:setIamPolicy`, {
      token: mallory,
      body: { policy: { bindings: [{ role: "roles/iam.serviceAccountTokenCreator", members: [MALLORY] }] } },
    });
    assert.equal(grant.status, 200, grant.text);
    const minted = await h.call("POST", `/v1/projects/-/serviceAccounts/${DEPLOY}:generateAccessToken`, {
      token: mallory,
      body: { scope: ["https://www.googleapis.com/auth/cloud-platform"] },
    });
    assert.equal(minted.status, 200, minted.text);
    const asDeploy = minted.body.accessToken as string;

    const takeover = await h.call("POST", `${PROJECT}:setIamPolicy`, {
      token: asDeploy,
      body: { policy: { bindings: [{ role: "roles/owner", members: [MALLORY] }] } },
    });
    assert.equal(takeover.status, 403, takeover.text);
    assert.equal(
      (await h.call("GET", PROJECT, { token: asDeploy })).status,
      403,
      "the new deploy-sa holds nothing on the project",
    );

    // The owner binding is the deleted account's, shown as Google shows it.
    const policy = await h.call("POST", `${PROJECT}:getIamPolicy`, { body: {} });
    const owners = policy.body.bindings.find((b: { role: string }) => b.role === "roles/owner").members;
    assert.ok(owners.includes(`deleted:serviceAccount:${DEPLOY}?uid=${oldUid}`), JSON.stringify(owners));
    assert.ok(!owners.includes(`serviceAccount:${DEPLOY}`), JSON.stringify(owners));
    assert.ok(!owners.includes(MALLORY));
  });
});
