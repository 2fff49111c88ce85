/**
 * Sign-in through the installation's upstream OpenID Connect provider, with a real oidc-provider on
 * 127.0.0.1 and a real Chromium: a person at an allowed domain lands as `user:EMAIL` with the roles
 * bound to that e-mail before they ever signed in (proven by an API call that needs them); one at
 * another domain gets a clear refusal page (403) and no code.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { artifactPath, launchChromium, noChromium } from "../support/browser.js";
import { type Harness, startHarness } from "../support/harness.js";
import { authorizeQuery, exchange, pkcePair } from "../support/signin.js";
import { startUpstreamIdp, type UpstreamIdp } from "../support/upstream-idp.js";

const skip = noChromium();

describe("sign-in through an upstream OpenID Connect provider", { skip }, () => {
  let idp: UpstreamIdp;
  let h: Harness;
  let browser: Browser;
  /** The client's loopback redirect: records the query of each request. */
  let loopback: Server;
  let loopbackUrl: string;
  const received: URLSearchParams[] = [];

  before(async () => {
    idp = await startUpstreamIdp();
    h = await startHarness({
      sso: {
        issuer: idp.issuer,
        clientId: "warrant-sso",
        clientSecret: "upstream-client-secret",
        allowedDomains: ["corp.example"],
        name: "Corp SSO",
      },
    });
    idp.register({
      clientId: "warrant-sso",
      clientSecret: "upstream-client-secret",
      redirectUri: `${h.url}/o/oauth2/sso/callback`,
    });
    loopback = createServer((req, res) => {
      const url = new URL(req.url!, "http://x");
      if (url.pathname === "/") received.push(url.searchParams); // not the browser's /favicon.ico
      res.writeHead(200, { "content-type": "text/plain" }).end("You may close this window.");
    });
    await new Promise<void>((ok) => loopback.listen(0, "127.0.0.1", ok));
    loopbackUrl = `http://127.0.0.1:${(loopback.address() as AddressInfo).port}/`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    loopback?.close();
    await h?.close();
    await idp?.close();
  });

  /** Opens the authorization URL in a fresh browser and signs in at the upstream as `email`. */
  async function ssoSignIn(email: string, shot: string) {
    const { verifier, challenge } = pkcePair();
    const state = `st-${received.length}-${Date.now()}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    // Warrant's pages only (the upstream's development login page loads web fonts from the network).
    page.on("console", (m) => {
      if (m.type() === "error" && m.location().url.startsWith(h.url)) errors.push(m.text());
    });
    await page.goto(
      `${h.url}/o/oauth2/auth?${authorizeQuery({
        client_id: WARRANT_CLI_CLIENT_ID,
        redirect_uri: loopbackUrl,
        state,
        code_challenge: challenge,
        code_challenge_method: "S256",
        access_type: "offline",
      })}`,
    );
    await page.getByRole("button", { name: "Sign in with Corp SSO" }).click();
    // The upstream's own (development) login form.
    await page.waitForURL((u) => u.href.startsWith(idp.issuer));
    await page.locator('input[name="login"]').fill(email);
    await page.locator('input[name="password"]').fill("anything");
    const callback = page.waitForResponse((r) => r.url().startsWith(`${h.url}/o/oauth2/sso/callback`));
    await page.locator('button[type="submit"]').click();
    const answer = await callback;
    await page.waitForLoadState();
    await page.screenshot({ path: artifactPath(shot), fullPage: true });
    const text = await page.textContent("body");
    await context.close();
    return { status: answer.status(), text: text ?? "", verifier, state, errors };
  }

  test("an allowed domain signs in as user:EMAIL, created on first sign-in, with the roles bound to it", async () => {
    const email = "sue@corp.example";
    // The administrator binds a role to the address before Sue ever signed in.
    const p = await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
    const s = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", {
      body: {
        policy: {
          bindings: [
            ...p.body.bindings,
            { role: "roles/iam.serviceAccountViewer", members: [`user:${email}`] },
          ],
          etag: p.body.etag,
        },
      },
    });
    assert.equal(s.status, 200, s.text);
    assert.equal((await h.call("GET", `/warrant/v1/users/${email}`)).status, 404);

    const before = received.length;
    const r = await ssoSignIn(email, "sso-allowed.png");
    assert.equal(r.status, 302, r.text);
    assert.equal(received.length, before + 1, "the browser reached the client's loopback redirect");
    const q = received.at(-1)!;
    assert.equal(q.get("state"), r.state);
    const t = await exchange(h, {
      client_id: WARRANT_CLI_CLIENT_ID,
      code: q.get("code")!,
      redirect_uri: loopbackUrl,
      code_verifier: r.verifier,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const info = await (
      await fetch(`${h.url}/oauth2/v3/tokeninfo`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ access_token: t.body.access_token }),
      })
    ).json();
    assert.equal((info as { email?: string }).email, email);
    // The user record exists now, and the role bound to the address is hers.
    const u = await h.call("GET", `/warrant/v1/users/${email}`);
    assert.equal(u.status, 200);
    assert.equal(u.body.state, "ACTIVE");
    const list = await h.call("GET", "/v1/projects/demo-project/serviceAccounts", {
      token: t.body.access_token,
    });
    assert.equal(list.status, 200, list.text);
    // ...and nothing more: creating an account needs a role she does not hold.
    const denied = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      token: t.body.access_token,
      body: { accountId: "sue-sa" },
    });
    assert.equal(denied.status, 403);
    assert.deepEqual(r.errors, []);
  });

  test("another domain is refused with a clear page and no code", async () => {
    const before = received.length;
    const r = await ssoSignIn("eve@elsewhere.example", "sso-refused-domain.png");
    assert.equal(r.status, 403);
    assert.match(r.text, /Account not allowed/);
    assert.match(r.text, /eve@elsewhere\.example is not allowed to sign in/);
    assert.match(r.text, /corp\.example/);
    assert.equal(received.length, before, "the client got nothing");
    assert.equal((await h.call("GET", "/warrant/v1/users/eve@elsewhere.example")).status, 404);
  });

  test("an unverified e-mail is refused", async () => {
    const r = await ssoSignIn("unverified-ann@corp.example", "sso-unverified.png");
    assert.equal(r.status, 403);
    assert.match(r.text, /has not verified the e-mail address/);
  });
});
