/**
 * Attack: an authorization code leaks (a log, a browser history, a proxy) after the client used it,
 * and the attacker redeems it again. RFC 6749 §4.1.2/§10.5: the second redemption is refused, and
 * everything the first one produced is revoked — its refresh token and its access tokens.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { type Harness, startHarness } from "../support/harness.js";
import { authorizeQuery, createUserWithPassword, exchange, pkcePair, signIn } from "../support/signin.js";

const REDIRECT = "http://127.0.0.1:40001/";

describe("a replayed authorization code is refused and revokes what it produced", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await createUserWithPassword(h, "rita@example.com", "rita's password");
  });
  after(() => h.close());

  test("second redemption: invalid_grant; the first one's tokens stop working", async () => {
    const { verifier, challenge } = pkcePair();
    const r = await signIn(
      h,
      authorizeQuery({
        client_id: WARRANT_CLI_CLIENT_ID,
        redirect_uri: REDIRECT,
        state: "x",
        code_challenge: challenge,
        code_challenge_method: "S256",
        access_type: "offline",
      }),
      "rita@example.com",
      "rita's password",
    );
    const code = new URL(r.location!).searchParams.get("code")!;
    const fields = {
      client_id: WARRANT_CLI_CLIENT_ID,
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    };
    const first = await exchange(h, fields);
    assert.equal(first.status, 200);
    const { access_token, refresh_token } = first.body;
    assert.equal((await h.call("GET", "/v1/projects", { token: access_token })).status, 200);

    const replay = await exchange(h, fields);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, "invalid_grant");
    assert.equal(replay.body.access_token, undefined);

    const refreshed = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        client_id: WARRANT_CLI_CLIENT_ID,
        refresh_token,
      }),
    });
    assert.equal(refreshed.status, 400);
    assert.equal(((await refreshed.json()) as { error: string }).error, "invalid_grant");
    assert.equal((await h.call("GET", "/v1/projects", { token: access_token })).status, 401);
  });

  test("two concurrent redemptions: exactly one wins", async () => {
    const { verifier, challenge } = pkcePair();
    const r = await signIn(
      h,
      authorizeQuery({
        client_id: WARRANT_CLI_CLIENT_ID,
        redirect_uri: REDIRECT,
        state: "y",
        code_challenge: challenge,
        code_challenge_method: "S256",
      }),
      "rita@example.com",
      "rita's password",
    );
    const code = new URL(r.location!).searchParams.get("code")!;
    const fields = {
      client_id: WARRANT_CLI_CLIENT_ID,
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    };
    const results = await Promise.all([exchange(h, fields), exchange(h, fields), exchange(h, fields)]);
    assert.deepEqual(results.map((x) => x.status).sort(), [200, 400, 400]);
  });
});
