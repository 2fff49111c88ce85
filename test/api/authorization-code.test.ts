/**
 * The authorization endpoint and the authorization_code grant against a real server: password
 * sign-in through the HTML form, the code's bindings (client, redirect URI, PKCE verifier),
 * state, expiry, the browser session, first-party clients and the token response's shape.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import {
  CONSOLE_CLIENT_ID,
  consoleClient,
  GCLOUD_ADC_CLIENT_ID,
  GCLOUD_CLIENT_ID,
  WARRANT_CLI_CLIENT_ID,
} from "../../src/domain/oauth/first-party-clients.js";
import { type Harness, startHarness } from "../support/harness.js";
import {
  authorizeQuery,
  CLOUD_PLATFORM,
  claimsOf,
  createUserWithPassword,
  exchange,
  getPage,
  hidden,
  Jar,
  pkcePair,
  signIn,
  submit,
} from "../support/signin.js";

const USER = "pat@example.com";
const PASSWORD = "correct horse battery";
const GCLOUD_SECRET = "ZmssLNjJy2998hD4CTg2ejr2";
const LOOPBACK = "http://127.0.0.1:43117/";

describe("authorization endpoint and authorization_code grant", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await createUserWithPassword(h, USER, PASSWORD);
    const p = await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
    const bindings = [...p.body.bindings, { role: "roles/viewer", members: [`user:${USER}`] }];
    const s = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", {
      body: { policy: { bindings, etag: p.body.etag } },
    });
    assert.equal(s.status, 200, s.text);
  });
  after(() => h.close());

  /** Signs in as USER for the Warrant CLI and returns the code with what it is bound to. */
  async function codeFor(extra: Partial<Parameters<typeof authorizeQuery>[0]> = {}, jar?: Jar) {
    const { verifier, challenge } = pkcePair();
    const query = authorizeQuery({
      client_id: WARRANT_CLI_CLIENT_ID,
      redirect_uri: LOOPBACK,
      state: "st-123",
      code_challenge: challenge,
      code_challenge_method: "S256",
      access_type: "offline",
      ...extra,
    });
    const r = await signIn(h, query, USER, PASSWORD, jar);
    assert.equal(r.res.status, 303, r.html);
    const loc = new URL(r.location!);
    return { code: loc.searchParams.get("code")!, loc, verifier, jar: r.jar };
  }

  test("the sign-in page: accessible HTML, no framing, no referrer, no cache", async () => {
    const { challenge } = pkcePair();
    const { res, html, jar } = await getPage(
      h,
      authorizeQuery({
        client_id: WARRANT_CLI_CLIENT_ID,
        redirect_uri: LOOPBACK,
        state: "s",
        code_challenge: challenge,
        code_challenge_method: "S256",
      }),
    );
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/html/);
    assert.match(res.headers.get("content-security-policy")!, /frame-ancestors 'none'/);
    assert.match(res.headers.get("content-security-policy")!, /default-src 'none'/);
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.match(html, /<html lang="en">/);
    assert.match(html, /<label for="email">/);
    assert.match(html, /<input id="email"/);
    assert.match(html, /<label for="password">/);
    assert.match(html, /name="viewport"/);
    assert.match(html, /:focus-visible/);
    assert.ok(hidden(html, "csrf"), "the form carries a CSRF token");
    assert.ok(jar.cookies.get("__Host-warrant_signin_csrf"), "and the browser its cookie");
    const setCookie = res.headers.getSetCookie().join("\n");
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Lax/);
  });

  test("password sign-in → code on the loopback redirect → tokens that work", async () => {
    const { code, loc, verifier } = await codeFor();
    assert.equal(loc.origin + loc.pathname, LOOPBACK);
    assert.equal(loc.searchParams.get("state"), "st-123");
    assert.equal(loc.searchParams.get("scope"), `openid ${CLOUD_PLATFORM}`);
    assert.ok(code.length >= 40, "a code of at least 128 bits");
    const t = await exchange(h, {
      client_id: WARRANT_CLI_CLIENT_ID,
      code,
      redirect_uri: LOOPBACK,
      code_verifier: verifier,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.match(t.headers.get("cache-control")!, /no-store/);
    assert.deepEqual(Object.keys(t.body).sort(), [
      "access_token",
      "expires_in",
      "id_token",
      "refresh_token",
      "scope",
      "token_type",
    ]);
    assert.equal(t.body.scope, `openid ${CLOUD_PLATFORM}`);
    assert.equal(t.body.token_type, "Bearer");
    assert.equal(typeof t.body.expires_in, "number");
    const id = claimsOf(t.body.id_token);
    assert.equal(id.iss, "https://accounts.google.com");
    assert.equal(id.aud, WARRANT_CLI_CLIENT_ID);
    assert.equal(id.azp, WARRANT_CLI_CLIENT_ID);
    assert.equal(id.email, USER);
    assert.equal(id.email_verified, true);
    assert.match(String(id.sub), /^\d+$/);
    assert.ok(typeof id.iat === "number" && typeof id.exp === "number");
    assert.equal(JSON.parse(Buffer.from(t.body.id_token.split(".")[0], "base64url").toString()).alg, "RS256");
    // The access token acts as the user, with the user's roles.
    const list = await h.call("GET", "/v1/projects/demo-project/serviceAccounts", {
      token: t.body.access_token,
    });
    assert.equal(list.status, 200, list.text);
    const denied = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      token: t.body.access_token,
      body: { accountId: "nope-sa" },
    });
    assert.equal(denied.status, 403);
    assert.match(denied.text, new RegExp(`user:${USER}`));
    // The refresh token works with the public client (no secret), and answers an ID token.
    const r = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        client_id: WARRANT_CLI_CLIENT_ID,
        refresh_token: t.body.refresh_token,
      }),
    });
    const rb = (await r.json()) as Record<string, string>;
    assert.equal(r.status, 200, JSON.stringify(rb));
    assert.ok(rb.access_token && rb.id_token);
    // ...but not with another first-party client.
    const other = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        client_id: GCLOUD_CLIENT_ID,
        client_secret: GCLOUD_SECRET,
        refresh_token: t.body.refresh_token,
      }),
    });
    assert.equal(other.status, 400);
    assert.equal(((await other.json()) as { error: string }).error, "invalid_grant");
  });

  test("the code is bound to its client, redirect URI and PKCE verifier", async () => {
    const { code, verifier } = await codeFor();
    const base = { client_id: WARRANT_CLI_CLIENT_ID, code, redirect_uri: LOOPBACK, code_verifier: verifier };
    const wrongClient = await exchange(h, {
      ...base,
      client_id: GCLOUD_CLIENT_ID,
      client_secret: GCLOUD_SECRET,
    });
    assert.equal(wrongClient.status, 400);
    assert.equal(wrongClient.body.error, "invalid_grant");
    const wrongRedirect = await exchange(h, { ...base, redirect_uri: "http://127.0.0.1:43118/" });
    assert.equal(wrongRedirect.body.error, "invalid_grant");
    assert.match(wrongRedirect.body.error_description, /redirect_uri/);
    const wrongVerifier = await exchange(h, { ...base, code_verifier: pkcePair().verifier });
    assert.equal(wrongVerifier.body.error, "invalid_grant");
    const noVerifier = await exchange(h, { ...base, code_verifier: "" });
    assert.equal(noVerifier.body.error, "invalid_grant");
    const unknownClient = await exchange(h, { ...base, client_id: "nobody.apps.example" });
    assert.equal(unknownClient.status, 401);
    assert.equal(unknownClient.body.error, "invalid_client");
    // None of those consumed it: the rightful exchange still works.
    assert.equal((await exchange(h, base)).status, 200);
  });

  test("an expired code is refused", async () => {
    const { code, verifier } = await codeFor();
    const db = new Database(join(h.stateDir, "warrant.db"));
    try {
      const rows = db.prepare("SELECT key, value FROM documents WHERE kind = 'authorization-code'").all() as {
        key: string;
        value: string;
      }[];
      for (const row of rows) {
        const v = JSON.parse(row.value);
        if (v.redeemedBy) continue;
        v.expireTime = new Date(Date.now() - 1000).toISOString();
        db.prepare("UPDATE documents SET value = ? WHERE kind = 'authorization-code' AND key = ?").run(
          JSON.stringify(v),
          row.key,
        );
      }
    } finally {
      db.close();
    }
    const t = await exchange(h, {
      client_id: WARRANT_CLI_CLIENT_ID,
      code,
      redirect_uri: LOOPBACK,
      code_verifier: verifier,
    });
    assert.equal(t.status, 400);
    assert.equal(t.body.error, "invalid_grant");
    assert.match(t.body.error_description, /expired/);
  });

  test("state is required; problems after the redirect URI is trusted go back to it", async () => {
    const { challenge } = pkcePair();
    const { res } = await getPage(
      h,
      authorizeQuery({
        client_id: WARRANT_CLI_CLIENT_ID,
        redirect_uri: LOOPBACK,
        code_challenge: challenge,
        code_challenge_method: "S256",
      }),
    );
    assert.equal(res.status, 302);
    const loc = new URL(res.headers.get("location")!);
    assert.equal(loc.origin + loc.pathname, LOOPBACK);
    assert.equal(loc.searchParams.get("error"), "invalid_request");
    assert.match(loc.searchParams.get("error_description")!, /state/);
    assert.equal(loc.searchParams.get("code"), null);
  });

  test("an unknown client or unregistered redirect URI is a page, never a redirect", async () => {
    const { challenge } = pkcePair();
    for (const [client_id, redirect_uri] of [
      ["nobody.apps.example", LOOPBACK],
      [WARRANT_CLI_CLIENT_ID, "https://evil.example/cb"],
      [WARRANT_CLI_CLIENT_ID, "http://localhost:43117/"], // the CLI's client takes IP literals only
      [WARRANT_CLI_CLIENT_ID, "http://127.0.0.1:43117/x"],
      [CONSOLE_CLIENT_ID, "http://127.0.0.1:1/console/auth/callback"],
    ] as const) {
      const { res, html } = await getPage(
        h,
        authorizeQuery({
          client_id,
          redirect_uri,
          state: "s",
          code_challenge: challenge,
          code_challenge_method: "S256",
        }),
      );
      assert.equal(res.status, 400, `${client_id} ${redirect_uri}`);
      assert.equal(res.headers.get("location"), null);
      assert.match(html, /role="alert"/);
    }
  });

  test("a signed-in browser is not asked again, unless the client asks for the prompt", async () => {
    const jar = new Jar();
    await codeFor({}, jar);
    assert.ok(jar.cookies.get("__Host-warrant_signin"), "the session cookie is set");
    const { challenge } = pkcePair();
    const q = {
      client_id: GCLOUD_CLIENT_ID,
      redirect_uri: "http://localhost:8085/",
      state: "again",
      code_challenge: challenge,
      code_challenge_method: "S256",
    };
    const again = await getPage(h, authorizeQuery(q), jar);
    assert.equal(again.res.status, 302);
    const loc = new URL(again.res.headers.get("location")!);
    assert.equal(loc.searchParams.get("state"), "again");
    assert.ok(loc.searchParams.get("code"));
    // prompt=consent (gcloud --no-launch-browser): the page, offering to continue as the user.
    const prompted = await getPage(h, authorizeQuery({ ...q, prompt: "consent" }), jar);
    assert.equal(prompted.res.status, 200);
    assert.match(prompted.html, new RegExp(`Continue as ${USER}`));
    const cont = await submit(h, jar, {
      csrf: hidden(prompted.html, "csrf")!,
      request: hidden(prompted.html, "request")!,
      action: "continue",
    });
    assert.equal(cont.res.status, 303);
    assert.ok(new URL(cont.res.headers.get("location")!).searchParams.get("code"));
    // A fresh browser is asked.
    assert.equal((await getPage(h, authorizeQuery(q))).res.status, 200);
  });

  test("gcloud's paste-the-code redirect shows the code on Warrant's page", async () => {
    const { verifier, challenge } = pkcePair();
    const redirect_uri = "https://sdk.cloud.google.com/authcode.html";
    const r = await signIn(
      h,
      authorizeQuery({
        client_id: GCLOUD_CLIENT_ID,
        redirect_uri,
        state: "paste",
        code_challenge: challenge,
        code_challenge_method: "S256",
        access_type: "offline",
        prompt: "consent",
      }),
      USER,
      PASSWORD,
    );
    assert.equal(r.res.status, 200);
    assert.equal(r.res.headers.get("location"), null);
    const code = /id="code"[^>]*>([^<]+)</.exec(r.html)?.[1]?.replace(/&#39;/g, "'");
    assert.ok(code, r.html);
    const t = await exchange(h, {
      client_id: GCLOUD_CLIENT_ID,
      client_secret: GCLOUD_SECRET,
      code,
      redirect_uri,
      code_verifier: verifier,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    // gcloud's client must present its (published) secret.
    const { code: code2, verifier: v2 } = await (async () => {
      const p = pkcePair();
      const s = await signIn(
        h,
        authorizeQuery({
          client_id: GCLOUD_ADC_CLIENT_ID,
          redirect_uri: "http://localhost:8085/",
          state: "adc",
          code_challenge: p.challenge,
          code_challenge_method: "S256",
        }),
        USER,
        PASSWORD,
      );
      return { code: new URL(s.location!).searchParams.get("code")!, verifier: p.verifier };
    })();
    const noSecret = await exchange(h, {
      client_id: GCLOUD_ADC_CLIENT_ID,
      code: code2,
      redirect_uri: "http://localhost:8085/",
      code_verifier: v2,
    });
    assert.equal(noSecret.status, 401);
    assert.equal(noSecret.body.error, "invalid_client");
  });

  test("the console client redirects to the server's own callback, and HTTP Basic client auth works", async () => {
    const console = consoleClient([h.url]);
    assert.equal(console.clientId, CONSOLE_CLIENT_ID);
    assert.deepEqual(console.redirectUris, [`${h.url}/console/auth/callback`]);
    const { verifier, challenge } = pkcePair();
    const redirect_uri = `${h.url}/console/auth/callback`;
    const r = await signIn(
      h,
      authorizeQuery({
        client_id: CONSOLE_CLIENT_ID,
        redirect_uri,
        state: "c",
        code_challenge: challenge,
        code_challenge_method: "S256",
      }),
      USER,
      PASSWORD,
    );
    assert.equal(r.res.status, 303, r.html);
    const code = new URL(r.location!).searchParams.get("code")!;
    const res = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${CONSOLE_CLIENT_ID}:`).toString("base64")}`,
      },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri,
        code_verifier: verifier,
      }),
    });
    const body = (await res.json()) as Record<string, string>;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.refresh_token, undefined, "no access_type=offline, no refresh token");
  });

  test("the discovery document names the authorization endpoint, the code grant and S256", async () => {
    const d = (await (await fetch(`${h.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(d.authorization_endpoint, `${h.url}/o/oauth2/v2/auth`);
    assert.deepEqual(d.code_challenge_methods_supported, ["S256"]);
    assert.ok((d.grant_types_supported as string[]).includes("authorization_code"));
    assert.equal((await getPage(h, "", new Jar(), "/o/oauth2/v2/auth")).res.status, 400);
  });

  test("wrong password, unknown user and disabled user all get the same answer", async () => {
    const { challenge } = pkcePair();
    const query = authorizeQuery({
      client_id: WARRANT_CLI_CLIENT_ID,
      redirect_uri: LOOPBACK,
      state: "s",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    await createUserWithPassword(h, "dora@example.com", "dora's password");
    assert.equal(
      (await h.call("POST", "/warrant/v1/users/dora@example.com:disable", { body: {} })).status,
      200,
    );
    const answers = [];
    for (const [email, pw] of [
      [USER, "wrong password!"],
      ["nobody@example.com", "wrong password!"],
      ["dora@example.com", "dora's password"],
    ] as const) {
      const r = await signIn(h, query, email, pw);
      answers.push([r.res.status, /role="alert"[^>]*>([^<]*)</.exec(r.html)?.[1]]);
    }
    assert.deepEqual(answers, Array(3).fill([401, "Wrong email or password."]));
  });

  test("set-password: validated, authorized like the other user admin methods", async () => {
    const short = await h.call("POST", `/warrant/v1/users/${USER}:setPassword`, {
      body: { password: "short" },
    });
    assert.equal(short.status, 400);
    const missing = await h.call("POST", "/warrant/v1/users/ghost@example.com:setPassword", {
      body: { password: "long enough password" },
    });
    assert.equal(missing.status, 404);
    const { verifier, code } = await codeFor();
    const t = await exchange(h, {
      client_id: WARRANT_CLI_CLIENT_ID,
      code,
      redirect_uri: LOOPBACK,
      code_verifier: verifier,
    });
    const asUser = await h.call("POST", `/warrant/v1/users/${USER}:setPassword`, {
      token: t.body.access_token,
      body: { password: "my own new password" },
    });
    assert.equal(asUser.status, 403);
    // The user record the directory API returns never carries the hash.
    const u = await h.call("GET", `/warrant/v1/users/${USER}`);
    assert.doesNotMatch(u.text, /scrypt|hash|password/i);
  });
});
