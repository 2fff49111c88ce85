/**
 * Attack: reading credentials out of the audit log. A browser sign-in handles a password, a CSRF
 * token, a session cookie, an authorization code, a PKCE verifier and the tokens the code buys;
 * none of them may reach audit.log, while the sign-in's outcome must.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { type Harness, startHarness } from "../support/harness.js";
import { authorizeQuery, createUserWithPassword, exchange, pkcePair, signIn } from "../support/signin.js";

describe("a browser sign-in leaves no secret in the audit log", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("password, CSRF token, session, code, verifier and tokens are absent; outcomes are present", async () => {
    const password = "Unmistakable-Password-7781";
    await createUserWithPassword(h, "lou@example.com", password);
    const { verifier, challenge } = pkcePair();
    const redirect_uri = "http://127.0.0.1:40011/";
    const wrong = await signIn(
      h,
      authorizeQuery({
        client_id: WARRANT_CLI_CLIENT_ID,
        redirect_uri,
        state: "s",
        code_challenge: challenge,
        code_challenge_method: "S256",
      }),
      "lou@example.com",
      "Wrong-Password-Guess-9123",
    );
    assert.equal(wrong.res.status, 401);
    const r = await signIn(
      h,
      authorizeQuery({
        client_id: WARRANT_CLI_CLIENT_ID,
        redirect_uri,
        state: "s",
        code_challenge: challenge,
        code_challenge_method: "S256",
        access_type: "offline",
      }),
      "lou@example.com",
      password,
    );
    const code = new URL(r.location!).searchParams.get("code")!;
    const t = await exchange(h, {
      client_id: WARRANT_CLI_CLIENT_ID,
      code,
      redirect_uri,
      code_verifier: verifier,
    });
    assert.equal(t.status, 200);
    await new Promise((ok) => setTimeout(ok, 200));
    const audit = readFileSync(join(h.stateDir, "audit.log"), "utf8");
    const secrets = {
      password,
      wrongPassword: "Wrong-Password-Guess-9123",
      code,
      verifier,
      session: r.jar.cookies.get("__Host-warrant_signin")!,
      csrf: r.jar.cookies.get("__Host-warrant_signin_csrf")!,
      access: t.body.access_token,
      refresh: t.body.refresh_token,
      id: t.body.id_token,
    };
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(value, name);
      assert.ok(!audit.includes(value), `${name} is in audit.log`);
    }
    assert.match(audit, /"kind":"signin".*"outcome":"code-issued"/);
    assert.match(audit, /"error":"invalid-credentials"/);
    assert.match(audit, /"grant":"authorization_code".*"outcome":"issued"/);
  });
});
