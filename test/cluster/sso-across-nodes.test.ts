/**
 * Single sign-on with two nodes on one PostgreSQL database, as behind a load balancer without
 * sticky sessions: the browser starts the sign-in at node A, and the upstream's callback reaches
 * node B. The pending sign-in (state, nonce, sealed PKCE verifier) is in the datastore, so B
 * finishes what A started, once; a replay of the callback at A finds nothing. A real
 * oidc-provider upstream, driven over HTTP as a browser would (its login form, cookies, redirects).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { createTestDatabase, dropTestDatabase, postgresUnavailable } from "../datastore/pg-fixture.js";
import { type Harness, startHarness } from "../support/harness.js";
import { authorizeQuery, exchange, getPage, hidden, Jar, pkcePair, submit } from "../support/signin.js";
import { startUpstreamIdp, type UpstreamIdp } from "../support/upstream-idp.js";

const why = await postgresUnavailable();
const dbName = `warrant_sso_${process.pid}_${randomBytes(4).toString("hex")}`;
const masterKey = randomBytes(32).toString("base64");
const CALLBACK = "/o/oauth2/sso/callback";

describe("an SSO sign-in started at one node finishes at another", {
  skip: why || false,
  timeout: 120_000,
}, () => {
  let idp: UpstreamIdp;
  let a: Harness;
  let b: Harness;
  let loopback: Server;
  let loopbackUrl: string;

  before(async () => {
    idp = await startUpstreamIdp();
    const url = await createTestDatabase(dbName);
    const sso = {
      issuer: idp.issuer,
      clientId: "warrant-sso",
      clientSecret: "upstream-client-secret",
      allowedDomains: ["corp.example"],
      name: "Corp SSO",
    };
    const start = () => startHarness({ datastore: url, masterKey, agents: false, sso, log: () => {} });
    a = await start();
    b = await start();
    idp.register({
      clientId: "warrant-sso",
      clientSecret: "upstream-client-secret",
      redirectUri: `${a.url}${CALLBACK}`,
    });
    // The client's loopback redirect (never reached: the test reads the Location).
    loopback = createServer((_req, res) => res.writeHead(200).end());
    await new Promise<void>((ok) => loopback.listen(0, "127.0.0.1", ok));
    loopbackUrl = `http://127.0.0.1:${(loopback.address() as AddressInfo).port}/`;
  });
  after(async () => {
    loopback?.close();
    await Promise.allSettled([a?.close(), b?.close()]);
    await idp?.close();
    await dropTestDatabase(dbName);
  });

  /**
   * Follows redirects by hand with `jar` (cookies are per host, as a browser keeps them: node A and
   * node B share 127.0.0.1) until a response is not a redirect or its Location starts with `stopAt`.
   */
  async function follow(url: string, jar: Jar, stopAt: string, init: RequestInit = {}) {
    let res = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: { ...init.headers, cookie: jar.header() },
    });
    jar.take(res);
    for (let hops = 0; hops < 10; hops++) {
      const to = res.headers.get("location");
      if (!to || res.status < 300 || res.status >= 400) return { res, at: url };
      url = new URL(to, url).href;
      if (url.startsWith(stopAt)) return { res, at: url };
      res = await fetch(url, { redirect: "manual", headers: { cookie: jar.header() } });
      jar.take(res);
    }
    throw new Error(`too many redirects at ${url}`);
  }

  test("node B redeems the callback of a sign-in node A started; node A then refuses its replay", async () => {
    const { verifier, challenge } = pkcePair();
    const jar = new Jar();
    const query = authorizeQuery({
      client_id: WARRANT_CLI_CLIENT_ID,
      redirect_uri: loopbackUrl,
      state: "across-nodes",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    // At node A: the sign-in page, then "Sign in with Corp SSO".
    const page = await getPage(a, query, jar);
    assert.match(page.html, /Sign in with Corp SSO/);
    const started = await submit(a, jar, {
      csrf: hidden(page.html, "csrf")!,
      request: hidden(page.html, "request")!,
      action: "sso",
    });
    assert.equal(started.res.status, 303);
    // At the upstream: its development login form, answered as tess@corp.example.
    const form = await follow(started.res.headers.get("location")!, jar, `${a.url}${CALLBACK}`);
    const html = await form.res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    assert.ok(action, `the upstream's login form: ${html.slice(0, 300)}`);
    const fields = Object.fromEntries(
      [...html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [
        m[1]!,
        m[2]!,
      ]),
    );
    const back = await follow(new URL(action, form.at).href, jar, `${a.url}${CALLBACK}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ ...fields, login: "tess@corp.example", password: "anything" }).toString(),
    });
    assert.ok(
      back.at.startsWith(`${a.url}${CALLBACK}`),
      `the upstream sends the browser to A's callback: ${back.at}`,
    );
    const callbackQuery = new URL(back.at).search;

    // The load balancer hands that callback to node B, with the browser's cookies.
    const atB = await fetch(`${b.url}${CALLBACK}${callbackQuery}`, {
      redirect: "manual",
      headers: { cookie: jar.header() },
    });
    const location = atB.headers.get("location") ?? "";
    assert.equal(atB.status, 302, `node B's answer: ${atB.status} ${(await atB.text()).slice(0, 300)}`);
    assert.ok(location.startsWith(loopbackUrl), location);
    const q = new URL(location).searchParams;
    assert.equal(q.get("state"), "across-nodes");

    // The code node B issued works at node A: the user is signed in.
    const t = await exchange(a, {
      client_id: WARRANT_CLI_CLIENT_ID,
      code: q.get("code")!,
      redirect_uri: loopbackUrl,
      code_verifier: verifier,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal((await a.call("GET", "/warrant/v1/users/tess@corp.example")).status, 200);

    // The same callback replayed at node A: already taken.
    const replay = await fetch(`${a.url}${CALLBACK}${callbackQuery}`, {
      redirect: "manual",
      headers: { cookie: jar.header() },
    });
    assert.equal(replay.status, 400);
    assert.match(await replay.text(), /already used|took too long/);
  });
});
