/**
 * Attack: a user is deleted and an account of the same e-mail is created again (by mistake, or by
 * someone who may create users but not grant roles): it used to inherit every binding of the
 * deleted user, and a token of the deleted user issued in the same second as the re-creation was
 * accepted. Users have unique ids; bindings and tokens are bound to them.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";

const PROJECT = "/v1/projects/demo-project";

describe("a re-created user inherits neither the bindings nor the tokens of the deleted one", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  async function createUser(email: string): Promise<string> {
    const r = await h.call("POST", "/warrant/v1/users", { body: { email } });
    assert.equal(r.status, 200, r.text);
    return r.body.uniqueId;
  }
  const deleteUser = async (email: string) =>
    assert.equal((await h.call("DELETE", `/warrant/v1/users/${email}`)).status, 200);

  async function tokenOf(email: string): Promise<string> {
    const cred = await h.call("POST", `/warrant/v1/users/${email}:issueCredential`, { body: {} });
    assert.equal(cred.status, 200, cred.text);
    const res = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        client_id: cred.body.client_id,
        client_secret: cred.body.client_secret,
        refresh_token: cred.body.refresh_token,
      }),
    });
    const body = (await res.json()) as { access_token?: string };
    assert.ok(body.access_token, JSON.stringify(body));
    return body.access_token;
  }

  async function grantViewer(member: string) {
    const p = await h.call("POST", `${PROJECT}:getIamPolicy`, { body: {} });
    const bindings = [...p.body.bindings, { role: "roles/viewer", members: [member] }];
    const r = await h.call("POST", `${PROJECT}:setIamPolicy`, {
      body: { policy: { bindings, etag: p.body.etag } },
    });
    assert.equal(r.status, 200, r.text);
    return r.body;
  }

  const viewers = async () =>
    (await h.call("POST", `${PROJECT}:getIamPolicy`, { body: {} })).body.bindings.find(
      (b: { role: string }) => b.role === "roles/viewer",
    )?.members ?? [];
  const read = async (token: string) => (await h.call("GET", PROJECT, { token })).status;

  test("delete and re-create: the new user gets 403, the old token 401", async () => {
    const oldUid = await createUser("quinn@example.com");
    await grantViewer("user:quinn@example.com");
    const oldToken = await tokenOf("quinn@example.com");
    assert.equal(await read(oldToken), 200);

    // Re-created at once: the old token's second may well be the new user's creation second.
    await deleteUser("quinn@example.com");
    const newUid = await createUser("quinn@example.com");
    assert.equal(await read(await tokenOf("quinn@example.com")), 403, "the new user inherits no binding");
    assert.equal(await read(oldToken), 401, "a token of the deleted user never acts for the new one");
    assert.match(oldUid, /^\d{21}$/);
    assert.notEqual(newUid, oldUid);
    const members = await viewers();
    assert.ok(members.includes(`deleted:user:quinn@example.com?uid=${oldUid}`), JSON.stringify(members));
    assert.ok(!members.includes("user:quinn@example.com"), JSON.stringify(members));
  });

  test("a binding written before the user existed is the first user's, not a later one's", async () => {
    const policy = await grantViewer("user:pat@example.com");
    const shown = policy.bindings.find((b: { role: string }) => b.role === "roles/viewer").members;
    assert.ok(shown.includes("user:pat@example.com"), "a pending member is shown as written");
    const patUid = await createUser("pat@example.com");
    assert.equal(await read(await tokenOf("pat@example.com")), 200, "the first pat holds the binding");

    await deleteUser("pat@example.com");
    await createUser("pat@example.com");
    assert.equal(await read(await tokenOf("pat@example.com")), 403, "a later pat does not");
    assert.ok((await viewers()).includes(`deleted:user:pat@example.com?uid=${patUid}`));
  });
});
