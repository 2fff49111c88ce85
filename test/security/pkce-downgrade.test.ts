/**
 * Attack: PKCE downgrade (RFC 9700 §4.8). An attacker who can inject a stolen code strips PKCE
 * from the authorization request (no challenge, or `plain` with the challenge as its own verifier),
 * or redeems a challenged code without its verifier. Warrant requires S256 at the authorization
 * endpoint and enforces the verifier at the token endpoint, both ways.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GCLOUD_CLIENT_ID, WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { type Harness, startHarness } from "../support/harness.js";
import {
  authorizeQuery,
  createUserWithPassword,
  exchange,
  getPage,
  pkcePair,
  signIn,
} from "../support/signin.js";

const REDIRECT = "http://127.0.0.1:40002/";

describe("PKCE cannot be downgraded", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await createUserWithPassword(h, "pia@example.com", "pia's password");
  });
  after(() => h.close());

  test("no code_challenge, or method plain, is refused at the authorization endpoint", async () => {
    const { challenge } = pkcePair();
    for (const extra of [
      {},
      { code_challenge: challenge },
      { code_challenge: challenge, code_challenge_method: "plain" },
      { code_challenge: "too-short", code_challenge_method: "S256" },
    ]) {
      for (const client_id of [WARRANT_CLI_CLIENT_ID, GCLOUD_CLIENT_ID]) {
        const redirect_uri = client_id === GCLOUD_CLIENT_ID ? "http://localhost:8085/" : REDIRECT;
        const { res } = await getPage(h, authorizeQuery({ client_id, redirect_uri, state: "s", ...extra }));
        assert.equal(res.status, 302, JSON.stringify(extra));
        const loc = new URL(res.headers.get("location")!);
        assert.equal(loc.searchParams.get("error"), "invalid_request", JSON.stringify(extra));
        assert.equal(loc.searchParams.get("code"), null);
        assert.equal(loc.searchParams.get("state"), "s");
      }
    }
  });

  test("a challenged code is not redeemed without its verifier, or with the challenge as verifier", async () => {
    const { verifier, challenge } = pkcePair();
    const r = await signIn(
      h,
      authorizeQuery({
        client_id: WARRANT_CLI_CLIENT_ID,
        redirect_uri: REDIRECT,
        state: "s",
        code_challenge: challenge,
        code_challenge_method: "S256",
      }),
      "pia@example.com",
      "pia's password",
    );
    const code = new URL(r.location!).searchParams.get("code")!;
    const base = { client_id: WARRANT_CLI_CLIENT_ID, code, redirect_uri: REDIRECT };
    for (const code_verifier of [undefined, challenge, `${verifier}x`]) {
      const t = await exchange(h, { ...base, ...(code_verifier !== undefined ? { code_verifier } : {}) });
      assert.equal(t.status, 400);
      assert.equal(t.body.error, "invalid_grant");
    }
    assert.equal((await exchange(h, { ...base, code_verifier: verifier })).status, 200);
  });
});
