/**
 * The console's session store (idle and absolute expiry, one-use sign-ins, the cap) and the pieces
 * of its back end that need no browser: the router's `{path=**}`, `next` after sign-in, the
 * rewriting of absolute API links, and Secure cookies only where a browser keeps them.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  rewriteLocation,
  safeNext,
  secureCookies,
  sessionCookieName,
} from "../../src/server/console/console.js";
import { SessionStore } from "../../src/server/console/sessions.js";
import { Router } from "../../src/server/http/router.js";

const user = {
  principal: "user:a@example.com",
  email: "a@example.com",
  accessToken: "at",
  accessExpiresAt: 0,
  refreshToken: "rt",
};

describe("console sessions", () => {
  it("ids are 256-bit, opaque, and stored only as digests", () => {
    const s = new SessionStore();
    const id = s.create(user);
    assert.match(id, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(id, "base64url").length, 32);
    const keys = [...(s as unknown as { sessions: Map<string, unknown> }).sessions.keys()];
    assert.deepEqual(keys, [createHash("sha256").update(id).digest("hex")]);
    assert.equal(s.get(id)?.email, "a@example.com");
    assert.equal(s.get(id.replace(/.$/, id.endsWith("A") ? "B" : "A")), undefined);
    assert.equal(s.get("not-an-id"), undefined);
  });

  it("end after the idle period without use, and at the absolute deadline despite use", () => {
    let now = 1_000_000;
    const s = new SessionStore({ idleSeconds: 60, absoluteSeconds: 300 }, () => now);
    const idle = s.create(user);
    const busy = s.create(user);
    now += 50_000;
    assert.ok(s.get(busy));
    now += 20_000; // 70 s since idle was last used
    assert.equal(s.get(idle), undefined, "idle for 70 s > 60 s");
    // Used every 50 s, the other lives on, until 300 s after it began.
    while (now + 50_000 < 1_300_000) {
      assert.ok(s.get(busy), `in use at +${now - 1_000_000} ms`);
      now += 50_000;
    }
    assert.ok(s.get(busy));
    now = 1_300_000;
    assert.equal(s.get(busy), undefined, "past the absolute deadline");
  });

  it("a sign-in in progress is taken once, and expires", () => {
    let now = 0;
    const s = new SessionStore({ loginSeconds: 10 }, () => now);
    const p = { stateDigest: Buffer.alloc(32), codeVerifier: "v", next: "/console/", redirectUri: "r" };
    const a = s.beginLogin(p);
    assert.equal(s.takeLogin(a)?.codeVerifier, "v");
    assert.equal(s.takeLogin(a), undefined, "one use");
    const b = s.beginLogin(p);
    now = 10_000;
    assert.equal(s.takeLogin(b), undefined, "expired");
  });

  it("keeps at most maxSessions, dropping the least recently used", () => {
    const s = new SessionStore({ maxSessions: 2 });
    const a = s.create(user);
    const b = s.create(user);
    s.get(a);
    const c = s.create(user);
    assert.ok(s.get(a));
    assert.equal(s.get(b), undefined);
    assert.ok(s.get(c));
    assert.equal(s.size, 2);
  });

  it("deleting ends it", () => {
    const s = new SessionStore();
    const a = s.create(user);
    assert.ok(s.delete(a));
    assert.equal(s.get(a), undefined);
  });
});

describe("console back end helpers", () => {
  it("{path=**} matches the rest of the path, slashes and colons included, and only at the end", () => {
    const r = new Router();
    r.add("GET", "/console/api/{path=**}", async () => undefined, "none");
    const m = r.match("GET", "/console/api/v1/projects/p:getIamPolicy/x%2Fy");
    assert.ok(m && "route" in m);
    assert.equal(m.params.path, "v1/projects/p:getIamPolicy/x/y");
    assert.equal(r.match("GET", "/console/apix"), null);
    assert.throws(() =>
      new Router().add("GET", "/console/{path=**}/x" as string, async () => undefined, "none"),
    );
  });

  it("returns after sign-in only to a console path", () => {
    assert.equal(safeNext("/console/iam?project=p"), "/console/iam?project=p");
    assert.equal(safeNext("/console"), "/console");
    for (const bad of [
      null,
      "",
      "https://evil.example/",
      "//evil.example/console/",
      "/consolex",
      "/console\\@evil",
      "/x",
    ])
      assert.equal(safeNext(bad), "/console/", String(bad));
  });

  it("rewrites the API's absolute links (upload sessions) to go through the console", () => {
    assert.equal(
      rewriteLocation(
        "http://127.0.0.1:8080/upload/storage/v1/b/b/o?uploadType=resumable&upload_id=x",
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080",
      ),
      "http://127.0.0.1:8080/console/api/upload/storage/v1/b/b/o?uploadType=resumable&upload_id=x",
    );
    assert.equal(
      rewriteLocation("https://elsewhere.example/x", "http://127.0.0.1:8080", "http://127.0.0.1:8080"),
      "https://elsewhere.example/x",
    );
  });

  it("makes cookies Secure (and __Host-) over HTTPS and on loopback, not over plain HTTP elsewhere", () => {
    assert.equal(secureCookies("https://warrant.example"), true);
    assert.equal(secureCookies("http://127.0.0.1:8080"), true);
    assert.equal(secureCookies("http://localhost:8080"), true);
    assert.equal(secureCookies("http://[::1]:8080"), true);
    assert.equal(secureCookies("http://warrant.internal:8080"), false);
    assert.equal(sessionCookieName(true), "__Host-warrant_console");
    assert.equal(sessionCookieName(false), "warrant_console");
  });
});
