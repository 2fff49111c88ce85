/**
 * The console's forwarder over HTTP, signed in through the real sign-in: calls reach the public
 * API as the user (IAM checks the user, the audit log names the user); a resumable upload of
 * several MiB streams through it, its session URI rewritten to go through the console; an access
 * token about to expire is refreshed with the session's refresh token; nothing the browser gets
 * carries a token.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sessionCookieName } from "../../src/server/console/console.js";
import { type Harness, startHarness } from "../support/harness.js";
import { eventually } from "../support/poll.js";
import { ADMIN, CookieJar, consoleSignIn, userWithPassword } from "./support.js";

const P = "demo-project";
const BUCKET = "console-forwarding-1";
const PW = "a password long enough";

describe("console: forwarding to the public API", { timeout: 120_000 }, () => {
  let h: Harness;
  let origin: string;
  const jar = new CookieJar();
  const bob = new CookieJar();
  const call = (
    j: CookieJar,
    method: string,
    path: string,
    body?: BodyInit,
    headers: Record<string, string> = {},
  ) =>
    fetch(`${h.url}/console/api${path}`, {
      method,
      redirect: "manual",
      headers: {
        cookie: j.header(),
        ...(method === "GET" ? {} : { origin, "x-warrant-console": "1" }),
        ...headers,
      },
      ...(body !== undefined ? { body } : {}),
    });

  before(async () => {
    // Access tokens of 70 s: with the one-minute margin, the session refreshes after 10 s.
    h = await startHarness({ agents: false, accessTokenLifetimeSeconds: 70 });
    origin = new URL(h.url).origin;
    await userWithPassword(h, ADMIN, PW);
    await userWithPassword(h, "bob@example.com", PW);
    await consoleSignIn(h, ADMIN, PW, jar);
    await consoleSignIn(h, "bob@example.com", PW, bob);
    const b = await h.call("POST", `/storage/v1/b?project=${P}`, { body: { name: BUCKET } });
    assert.equal(b.status, 200, b.text);
  });
  after(async () => h?.close());

  it("calls the API as the signed-in user: IAM checks that user, and the audit log names them", async () => {
    const mine = await call(jar, "GET", `/v1/projects/${P}`);
    assert.equal(mine.status, 200);
    const denied = await call(bob, "GET", `/v1/projects/${P}`);
    assert.equal(denied.status, 403);
    const body = (await denied.json()) as {
      error: { explanation?: { principal: string }; details: { requestId: string }[] };
    };
    assert.equal(
      body.error.explanation?.principal,
      "user:bob@example.com",
      "explained, as X-Warrant-Explain asks",
    );
    const id = denied.headers.get("x-request-id");
    assert.equal(body.error.details[0]?.requestId, id);
    const lines = await eventually(
      "both audit entries of the call",
      () =>
        readFileSync(join(h.stateDir, "audit.log"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l))
          .filter((e) => e.requestId === id),
      (l) => l.length >= 2,
    );
    assert.deepEqual(lines.map((e) => [e.principal, e.path, e.status]).sort(), [
      ["user:bob@example.com", `/console/api/v1/projects/${P}`, 403],
      ["user:bob@example.com", `/v1/projects/${P}`, 403],
    ]);
  });

  it("streams a resumable upload through the console, its session URI rewritten to the console", async () => {
    const bytes = randomBytes(5 * 1024 * 1024 + 123);
    const start = await call(
      jar,
      "POST",
      `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=big.bin`,
      JSON.stringify({ name: "big.bin" }),
      { "content-type": "application/json", "x-upload-content-length": String(bytes.length) },
    );
    assert.equal(start.status, 200, await start.text());
    const session = new URL(start.headers.get("location")!);
    assert.equal(session.origin, origin);
    assert.match(session.pathname, /^\/console\/api\/upload\/storage\/v1\/b\//);
    // Two chunks, as a browser's uploader sends them.
    const half = 4 * 1024 * 1024;
    const first = await fetch(session, {
      method: "PUT",
      headers: {
        cookie: jar.header(),
        origin,
        "x-warrant-console": "1",
        "content-range": `bytes 0-${half - 1}/${bytes.length}`,
      },
      body: bytes.subarray(0, half),
    });
    assert.equal(first.status, 308, await first.text());
    const last = await fetch(session, {
      method: "PUT",
      headers: {
        cookie: jar.header(),
        origin,
        "x-warrant-console": "1",
        "content-range": `bytes ${half}-${bytes.length - 1}/${bytes.length}`,
      },
      body: bytes.subarray(half),
    });
    assert.equal(last.status, 200, await last.text());
    const back = await call(jar, "GET", `/storage/v1/b/${BUCKET}/o/big.bin?alt=media`);
    assert.equal(back.status, 200);
    // Whatever an object holds, the console's origin never renders it as a page.
    assert.match(back.headers.get("content-security-policy") ?? "", /sandbox/);
    assert.ok(Buffer.from(await back.arrayBuffer()).equals(bytes));
  });

  it("refreshes an access token about to expire with the session's refresh token", async () => {
    const id = jar.cookies.get(sessionCookieName(true))!;
    const before = (await h.server.console.sessions.get(id))!.accessToken;
    await new Promise((r) => setTimeout(r, 10_500));
    const r = await call(jar, "GET", `/v1/projects/${P}`);
    assert.equal(r.status, 200, await r.text());
    const session = (await h.server.console.sessions.get(id))!;
    assert.notEqual(session.accessToken, before, "a new access token");
    assert.ok(session.accessExpiresAt - Date.now() > 60_000);
  });

  it("forwards only to the API: not to another authority, not back into the console", async () => {
    for (const path of ["//evil.example/v1/projects", "/console/auth/session", "/console/api/v1/projects"]) {
      const r = await call(jar, "GET", path);
      assert.equal(r.status, 404, path);
    }
  });

  it("ends the session when the API stops taking the user's token (the user was disabled)", async () => {
    const disabled = await h.call("POST", "/warrant/v1/users/bob@example.com:disable", { body: {} });
    assert.equal(disabled.status, 200, disabled.text);
    const r = await call(bob, "GET", "/v1/projects");
    assert.equal(r.status, 401);
    const s = await fetch(`${h.url}/console/auth/session`, { headers: { cookie: bob.header() } });
    assert.deepEqual(await s.json(), { signedIn: false });
  });

  it("gives the browser no token: not in answers, not in a readable cookie", async () => {
    const s = await fetch(`${h.url}/console/auth/session`, { headers: { cookie: jar.header() } });
    const text = await s.text();
    assert.match(text, /admin@warrant\.local/);
    assert.doesNotMatch(text, /eyJ|ya29|token/i);
    for (const c of jar.raw) assert.match(c, /HttpOnly/);
  });
});
