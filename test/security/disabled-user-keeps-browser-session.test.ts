/**
 * Attack: a user is disabled (or deleted, or their password is reset because it leaked), but the
 * browser that signed in before keeps getting codes from its sign-in session — or the leaked
 * password still works. The session is checked against the user's state on every use, a new
 * password ends every session, and a deleted user's password is gone with them.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { type Harness, startHarness } from "../support/harness.js";
import { authorizeQuery, createUserWithPassword, getPage, Jar, pkcePair, signIn } from "../support/signin.js";

const query = () =>
  authorizeQuery({
    client_id: WARRANT_CLI_CLIENT_ID,
    redirect_uri: "http://127.0.0.1:40009/",
    state: "s",
    code_challenge: pkcePair().challenge,
    code_challenge_method: "S256",
  });

describe("a browser session ends with the user's access", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  /** A signed-in browser: its next authorization request is answered with a code at once. */
  async function signedInJar(email: string, password: string) {
    await createUserWithPassword(h, email, password);
    const jar = new Jar();
    const r = await signIn(h, query(), email, password, jar);
    assert.equal(r.res.status, 303);
    assert.equal((await getPage(h, query(), jar)).res.status, 302, "the session answers silently");
    return jar;
  }

  test("disabled: the session gives no code, and the password does not sign in", async () => {
    const jar = await signedInJar("dan@example.com", "dan's password!");
    assert.equal(
      (await h.call("POST", "/warrant/v1/users/dan@example.com:disable", { body: {} })).status,
      200,
    );
    const again = await getPage(h, query(), jar);
    assert.equal(again.res.status, 200, "the sign-in page, not a code");
    assert.doesNotMatch(again.html, /Continue as/);
    assert.equal((await signIn(h, query(), "dan@example.com", "dan's password!")).res.status, 401);
  });

  test("deleted and re-created: neither the session nor the old password carries over", async () => {
    const jar = await signedInJar("del@example.com", "del's password!");
    assert.equal((await h.call("DELETE", "/warrant/v1/users/del@example.com")).status, 200);
    assert.equal(
      (await h.call("POST", "/warrant/v1/users", { body: { email: "del@example.com" } })).status,
      200,
    );
    assert.equal((await getPage(h, query(), jar)).res.status, 200);
    assert.equal((await signIn(h, query(), "del@example.com", "del's password!")).res.status, 401);
  });

  test("a new password ends the sessions signed in with the old one", async () => {
    const jar = await signedInJar("pwd@example.com", "leaked password");
    const set = await h.call("POST", "/warrant/v1/users/pwd@example.com:setPassword", {
      body: { password: "fresh password" },
    });
    assert.equal(set.status, 200);
    assert.equal((await getPage(h, query(), jar)).res.status, 200);
    assert.equal((await signIn(h, query(), "pwd@example.com", "leaked password")).res.status, 401);
    assert.equal((await signIn(h, query(), "pwd@example.com", "fresh password")).res.status, 303);
  });
});
