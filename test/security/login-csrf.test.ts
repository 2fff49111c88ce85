/**
 * Attack: login CSRF (RFC 6749 §10.12). A page on another site posts the sign-in form with the
 * attacker's own e-mail and password, so the victim's browser ends up signed in as the attacker
 * (and the victim's later work lands in the attacker's account). The form must carry a token that
 * matches a cookie only this server's page set in this browser.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { type Harness, startHarness } from "../support/harness.js";
import {
  authorizeQuery,
  createUserWithPassword,
  getPage,
  hidden,
  Jar,
  pkcePair,
  submit,
} from "../support/signin.js";

describe("the sign-in form cannot be posted from elsewhere", () => {
  let h: Harness;
  let request: string;
  before(async () => {
    h = await startHarness();
    await createUserWithPassword(h, "mallory@example.com", "mallory's password");
    request = authorizeQuery({
      client_id: WARRANT_CLI_CLIENT_ID,
      redirect_uri: "http://127.0.0.1:40006/",
      state: "s",
      code_challenge: pkcePair().challenge,
      code_challenge_method: "S256",
    });
  });
  after(() => h.close());

  const post = (jar: Jar, csrf?: string) =>
    submit(h, jar, {
      ...(csrf !== undefined ? { csrf } : {}),
      request,
      action: "password",
      email: "mallory@example.com",
      password: "mallory's password",
    });

  test("no token, no cookie, or the attacker's own token: refused, no session", async () => {
    // The attacker can load the page in their own browser and copy its token, but not the victim's cookie.
    const attacker = await getPage(h, request);
    const attackersToken = hidden(attacker.html, "csrf")!;
    const victim = new Jar();
    await getPage(h, request, victim); // the victim once saw a sign-in page: they hold a cookie of their own
    for (const csrf of [undefined, "", attackersToken]) {
      const r = await post(victim, csrf);
      assert.equal(r.res.status, 403, String(csrf));
      assert.equal(r.res.headers.get("location"), null);
      assert.equal(victim.cookies.get("__Host-warrant_signin"), undefined, "no session was started");
    }
    const noCookie = await post(new Jar(), attackersToken);
    assert.equal(noCookie.res.status, 403);
  });

  test("the browser's own page and cookie: accepted", async () => {
    const jar = new Jar();
    const page = await getPage(h, request, jar);
    const r = await post(jar, hidden(page.html, "csrf"));
    assert.equal(r.res.status, 303);
    assert.ok(jar.cookies.get("__Host-warrant_signin"));
  });
});
