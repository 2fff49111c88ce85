/**
 * Attack: refresh tokens are remembered per node after their first use, so a mint needs no datastore
 * read. A remembered token that outlived its revocation would keep minting access tokens for whoever
 * stole it. Each way a refresh token ends (revoked by itself, revoked through one of its access tokens,
 * its user deleted) must stop the very next refresh on this node, after the token was remembered.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";

const FORM = { "content-type": "application/x-www-form-urlencoded" };

describe("a remembered refresh token ends with its revocation", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ agents: false });
  });
  after(() => h.close());

  async function credentialOf(email: string) {
    const created = await h.call("POST", "/warrant/v1/users", { body: { email } });
    assert.ok(created.status === 200 || created.status === 409, created.text);
    const issued = await h.call("POST", `/warrant/v1/users/${email}:issueCredential`, { body: {} });
    assert.equal(issued.status, 200, issued.text);
    return issued.body as { client_id: string; client_secret: string; refresh_token: string };
  }
  async function refresh(cred: { client_id: string; client_secret: string; refresh_token: string }) {
    const r = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: FORM,
      body: new URLSearchParams({ grant_type: "refresh_token", ...cred }),
    });
    return { status: r.status, body: (await r.json()) as { access_token?: string; error?: string } };
  }
  async function remembered(cred: Parameters<typeof refresh>[0]) {
    for (let i = 0; i < 3; i++)
      assert.equal((await refresh(cred)).status, 200, "mints before the revocation");
  }
  const revoke = (token: string) =>
    fetch(`${h.url}/revoke`, { method: "POST", headers: FORM, body: new URLSearchParams({ token }) });

  test("revoked by itself: the next refresh is invalid_grant", async () => {
    const cred = await credentialOf("ria@example.com");
    await remembered(cred);
    assert.equal((await revoke(cred.refresh_token)).status, 200);
    const after = await refresh(cred);
    assert.equal(after.status, 400);
    assert.equal(after.body.error, "invalid_grant");
  });

  test("revoked through one of its access tokens: the next refresh is invalid_grant", async () => {
    const cred = await credentialOf("rob@example.com");
    await remembered(cred);
    const access = (await refresh(cred)).body.access_token!;
    assert.equal((await revoke(access)).status, 200);
    assert.equal((await refresh(cred)).body.error, "invalid_grant");
  });

  test("its user deleted: the next refresh is invalid_grant, and a re-created user does not revive it", async () => {
    const cred = await credentialOf("rex@example.com");
    await remembered(cred);
    assert.equal((await h.call("DELETE", "/warrant/v1/users/rex@example.com")).status, 200);
    assert.equal((await refresh(cred)).body.error, "invalid_grant");
    assert.equal(
      (await h.call("POST", "/warrant/v1/users", { body: { email: "rex@example.com" } })).status,
      200,
    );
    assert.equal((await refresh(cred)).body.error, "invalid_grant");
  });
});
