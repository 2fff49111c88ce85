/**
 * The console's session store over a real datastore (sealed tokens, idle and absolute expiry,
 * one-use sign-ins bound to their state, shared by nodes, swept) and the pieces
 * of its back end that need no browser: the router's `{path=**}`, `next` after sign-in, the
 * rewriting of absolute API links, and Secure cookies only where a browser keeps them.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SqliteDatastore } from "../../src/datastore/sqlite/sqlite-datastore.js";
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
  accessToken: "at-secret-value",
  accessExpiresAt: 0,
  refreshToken: "rt-secret-value",
};

/** A session store over a real SQLite datastore in a temp dir. */
function storeWith(limits: ConstructorParameters<typeof SessionStore>[2] = {}, now?: () => number) {
  const dir = mkdtempSync(join(tmpdir(), "warrant-console-sessions-"));
  const db = new SqliteDatastore(join(dir, "warrant.db"));
  const sessions = new SessionStore(db, randomBytes(32), limits, now);
  return {
    db,
    sessions,
    async close() {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("console sessions (in the datastore)", () => {
  it("ids are 256-bit and opaque; the store keeps their digest and the tokens sealed", async () => {
    const { db, sessions: s, close } = storeWith();
    try {
      const id = await s.create(user);
      assert.match(id, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(id, "base64url").length, 32);
      const rows = await db.list("console-session");
      assert.deepEqual(
        rows.map((r) => r.key),
        [createHash("sha256").update(id).digest("hex")],
      );
      const raw = JSON.stringify(rows);
      assert.ok(!raw.includes(id) && !raw.includes("at-secret-value") && !raw.includes("rt-secret-value"));
      const got = await s.get(id);
      assert.equal(got?.email, "a@example.com");
      assert.equal(got?.accessToken, "at-secret-value");
      assert.equal(got?.refreshToken, "rt-secret-value");
      assert.equal(await s.get(id.replace(/.$/, id.endsWith("A") ? "B" : "A")), undefined);
      assert.equal(await s.get("not-an-id"), undefined);
    } finally {
      await close();
    }
  });

  it("a session sealed under another master key does not open (and is dropped)", async () => {
    const { db, sessions: s, close } = storeWith();
    try {
      const id = await s.create(user);
      const other = new SessionStore(db, randomBytes(32));
      assert.equal(await other.get(id), undefined);
      assert.equal(await s.get(id), undefined);
    } finally {
      await close();
    }
  });

  it("end after the idle period without use, and at the absolute deadline despite use", async () => {
    let now = 1_000_000;
    const { sessions: s, close } = storeWith({ idleSeconds: 60, absoluteSeconds: 300 }, () => now);
    try {
      const idle = await s.create(user);
      const busy = await s.create(user);
      now += 50_000;
      assert.ok(await s.get(busy));
      now += 20_000; // 70 s since idle was last used
      assert.equal(await s.get(idle), undefined, "idle for 70 s > 60 s");
      // Used every 50 s, the other lives on, until 300 s after it began.
      while (now + 50_000 < 1_300_000) {
        assert.ok(await s.get(busy), `in use at +${now - 1_000_000} ms`);
        now += 50_000;
      }
      assert.ok(await s.get(busy));
      now = 1_300_000;
      assert.equal(await s.get(busy), undefined, "past the absolute deadline");
    } finally {
      await close();
    }
  });

  it("a sign-in in progress is taken once, needs its own state, and expires", async () => {
    let now = 0;
    const { sessions: s, close } = storeWith({ loginSeconds: 10 }, () => now);
    try {
      const p = { state: "the-state", codeVerifier: "v".repeat(43), next: "/console/", redirectUri: "r" };
      const a = await s.beginLogin(p);
      assert.equal(
        ((await s.takeLogin(a, "the-state")) as { codeVerifier: string }).codeVerifier,
        "v".repeat(43),
      );
      assert.equal(await s.takeLogin(a, "the-state"), undefined, "one use");
      const b = await s.beginLogin(p);
      assert.equal(await s.takeLogin(b, "another-state"), "state-mismatch");
      assert.equal(await s.takeLogin(b, "the-state"), undefined, "used up by the mismatch");
      const c = await s.beginLogin(p);
      now = 10_000;
      assert.equal(await s.takeLogin(c, "the-state"), undefined, "expired");
    } finally {
      await close();
    }
  });

  it("a second node's store sees the first one's sessions and refreshed tokens", async () => {
    const { db, sessions: a, close } = storeWith();
    try {
      const key = (a as unknown as { masterKey: Buffer }).masterKey;
      const b = new SessionStore(db, key);
      const id = await a.create(user);
      const seen = (await b.get(id))!;
      seen.accessToken = "refreshed";
      await b.updateTokens(seen);
      assert.equal((await a.get(id))?.accessToken, "refreshed");
      await b.delete(id);
      assert.equal(await a.get(id), undefined);
    } finally {
      await close();
    }
  });

  it("sweeps what has ended", async () => {
    let now = 0;
    const { db, sessions: s, close } = storeWith({ idleSeconds: 60, loginSeconds: 10 }, () => now);
    try {
      await s.create(user);
      await s.beginLogin({ state: "s", codeVerifier: "v", next: "/console/", redirectUri: "r" });
      now = 120_000;
      await s.create(user); // a creation sweeps (at most once a minute)
      assert.equal((await db.list("console-session")).length, 1);
      assert.equal((await db.list("console-login")).length, 0);
      assert.equal(await s.count(), 1);
    } finally {
      await close();
    }
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
