/**
 * Attack: redirect-URI manipulation / open redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.1). An attacker
 * crafts an authorization link whose redirect_uri is theirs (or a look-alike of a registered one) to
 * receive the victim's code, or to use the sign-in page as an open redirector. Redirect URIs are
 * matched exactly (only a loopback port varies); an unregistered one — or an unknown client — is a
 * page, never a redirect, even for a signed-in browser.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CONSOLE_CLIENT_ID,
  GCLOUD_CLIENT_ID,
  WARRANT_CLI_CLIENT_ID,
} from "../../src/domain/oauth/first-party-clients.js";
import { type Harness, startHarness } from "../support/harness.js";
import {
  authorizeQuery,
  createUserWithPassword,
  exchange,
  getPage,
  Jar,
  pkcePair,
  signIn,
} from "../support/signin.js";

describe("redirect URIs match exactly: no code to an attacker, no open redirect", () => {
  let h: Harness;
  const jar = new Jar();
  before(async () => {
    h = await startHarness();
    await createUserWithPassword(h, "ola@example.com", "ola's password");
    // The victim's browser is signed in: a silent redirect would hand the code over at once.
    const { challenge } = pkcePair();
    await signIn(
      h,
      authorizeQuery({
        client_id: WARRANT_CLI_CLIENT_ID,
        redirect_uri: "http://127.0.0.1:40003/",
        state: "s",
        code_challenge: challenge,
        code_challenge_method: "S256",
      }),
      "ola@example.com",
      "ola's password",
      jar,
    );
    assert.ok(jar.cookies.get("__Host-warrant_signin"));
  });
  after(() => h.close());

  test("look-alikes of registered redirect URIs are refused with a page", async () => {
    const { challenge } = pkcePair();
    const cases: [string, string][] = [
      [WARRANT_CLI_CLIENT_ID, "https://attacker.example/"],
      [WARRANT_CLI_CLIENT_ID, "http://127.0.0.1.attacker.example:40003/"],
      [WARRANT_CLI_CLIENT_ID, "http://127.0.0.1:40003/?next=https://attacker.example/"],
      [WARRANT_CLI_CLIENT_ID, "http://127.0.0.1:40003/#frag"],
      [WARRANT_CLI_CLIENT_ID, "http://user@127.0.0.1:40003/"],
      [WARRANT_CLI_CLIENT_ID, "http://127.0.0.1:40003"],
      [WARRANT_CLI_CLIENT_ID, "https://127.0.0.1:40003/"],
      [GCLOUD_CLIENT_ID, "https://sdk.cloud.google.com/authcode.html?x=1"],
      [GCLOUD_CLIENT_ID, "https://sdk.cloud.google.com.attacker.example/authcode.html"],
      [GCLOUD_CLIENT_ID, "http://localhost:8085/../"],
      [CONSOLE_CLIENT_ID, "https://attacker.example/console/auth/callback"],
      [CONSOLE_CLIENT_ID, `${"http://127.0.0.1:1"}/console/auth/callback`],
      ["unknown-client", "http://127.0.0.1:40003/"],
    ];
    for (const [client_id, redirect_uri] of cases) {
      const { res, html } = await getPage(
        h,
        authorizeQuery({
          client_id,
          redirect_uri,
          state: "s",
          code_challenge: challenge,
          code_challenge_method: "S256",
        }),
        jar,
      );
      assert.equal(res.status, 400, `${client_id} ${redirect_uri}`);
      assert.equal(res.headers.get("location"), null, redirect_uri);
      assert.doesNotMatch(html, /code=/);
    }
  });

  test("the code is redeemable only with the exact redirect URI it was issued for", async () => {
    const { verifier, challenge } = pkcePair();
    const { res } = await getPage(
      h,
      authorizeQuery({
        client_id: WARRANT_CLI_CLIENT_ID,
        redirect_uri: "http://127.0.0.1:40004/",
        state: "s",
        code_challenge: challenge,
        code_challenge_method: "S256",
      }),
      jar,
    );
    const code = new URL(res.headers.get("location")!).searchParams.get("code")!;
    for (const redirect_uri of ["http://127.0.0.1:40005/", "http://[::1]:40004/", "http://127.0.0.1:40004"]) {
      const t = await exchange(h, {
        client_id: WARRANT_CLI_CLIENT_ID,
        code,
        redirect_uri,
        code_verifier: verifier,
      });
      assert.equal(t.body.error, "invalid_grant", redirect_uri);
    }
  });
});
