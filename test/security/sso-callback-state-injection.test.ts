/**
 * Attack: login CSRF / code injection through the SSO callback (RFC 9700 §4.7.1). The attacker
 * starts a sign-in at the upstream as themself and sends the victim a link to Warrant's callback
 * with their code and state, hoping the victim's browser gets signed in as the attacker; or replays
 * a callback. The state is one-time and must match a cookie this browser received when it started
 * the sign-in.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { type Harness, startHarness } from "../support/harness.js";
import { authorizeQuery, getPage, hidden, Jar, pkcePair, submit } from "../support/signin.js";
import { startUpstreamIdp, type UpstreamIdp } from "../support/upstream-idp.js";

describe("the SSO callback takes only answers to this browser's own sign-in", () => {
  let idp: UpstreamIdp;
  let h: Harness;
  before(async () => {
    idp = await startUpstreamIdp();
    h = await startHarness({
      sso: {
        issuer: idp.issuer,
        clientId: "warrant-sso",
        clientSecret: "s3cret",
        allowedDomains: ["corp.example"],
      },
    });
    idp.register({
      clientId: "warrant-sso",
      clientSecret: "s3cret",
      redirectUri: `${h.url}/o/oauth2/sso/callback`,
    });
  });
  after(async () => {
    await h.close();
    await idp.close();
  });

  /** Starts an SSO sign-in in `jar`'s browser; returns the state Warrant sent upstream. */
  async function begin(jar: Jar) {
    const q = authorizeQuery({
      client_id: WARRANT_CLI_CLIENT_ID,
      redirect_uri: "http://127.0.0.1:40010/",
      state: "s",
      code_challenge: pkcePair().challenge,
      code_challenge_method: "S256",
    });
    const page = await getPage(h, q, jar);
    assert.match(page.html, /Sign in with 127\.0\.0\.1/);
    const r = await submit(h, jar, {
      csrf: hidden(page.html, "csrf")!,
      request: hidden(page.html, "request")!,
      action: "sso",
    });
    assert.equal(r.res.status, 303);
    const upstream = new URL(r.res.headers.get("location")!);
    assert.equal(upstream.origin, idp.issuer);
    assert.equal(upstream.searchParams.get("code_challenge_method"), "S256");
    assert.ok(upstream.searchParams.get("nonce"));
    return upstream.searchParams.get("state")!;
  }

  const callback = (jar: Jar, params: Record<string, string>) =>
    fetch(`${h.url}/o/oauth2/sso/callback?${new URLSearchParams(params)}`, {
      redirect: "manual",
      headers: jar.cookies.size ? { cookie: jar.header() } : {},
    });

  test("the attacker's state in the victim's browser: refused, nobody signed in", async () => {
    const attackerState = await begin(new Jar());
    const victim = new Jar();
    await begin(victim); // the victim has a sign-in of their own in progress, with its own cookie
    for (const jar of [victim, new Jar()]) {
      const res = await callback(jar, { state: attackerState, code: "attackers-code" });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get("location"), null);
      assert.match(await res.text(), /does not belong to a sign-in started in this browser/);
    }
    assert.equal(victim.cookies.get("__Host-warrant_signin"), undefined);
  });

  test("a callback is one-time", async () => {
    const jar = new Jar();
    const state = await begin(jar);
    // The first use consumes the state (the made-up code then fails at the upstream).
    const first = await callback(jar, { state, code: "made-up" });
    assert.equal(first.status, 502);
    jar.cookies.set("__Host-warrant_sso_state", state); // even if the browser still sends the cookie
    const second = await callback(jar, { state, code: "made-up" });
    assert.equal(second.status, 400);
    assert.match(await second.text(), /expired|already used/);
  });
});
