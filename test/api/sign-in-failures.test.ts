/**
 * The sign-in failure counters (src/server/auth/sign-in.ts) on a real SQLite datastore: a fixed
 * window per key, refused at the limit until the window ends, cleared by a success, swept when old,
 * and stored as digests (neither the e-mail nor the address is in the datastore). Also the sweep of
 * ended authorization codes and browser sessions, page by page.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Datastore } from "../../src/datastore/datastore.js";
import { openDatastore } from "../../src/datastore/open.js";
import { repositories } from "../../src/datastore/repositories.js";
import { CODE_LIFETIME_S } from "../../src/domain/oauth/authorization.js";
import { FailureLimiter, sweepSignInRecords } from "../../src/server/auth/sign-in.js";

describe("sign-in failure counters", () => {
  let dir: string;
  let store: Datastore;
  let now = Date.parse("2026-12-05T12:00:00Z");
  const clock = () => now;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "warrant-signin-failures-"));
    store = await openDatastore(join(dir, "warrant.db"));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("limited at the limit until the window ends; a new window starts afresh", async () => {
    const limiter = new FailureLimiter(store, 3, 60_000, clock);
    for (let i = 0; i < 3; i++) {
      assert.equal(await limiter.blockedFor("u:eve@example.com"), 0, `attempt ${i}`);
      await limiter.fail("u:eve@example.com");
    }
    assert.equal(await limiter.blockedFor("u:eve@example.com"), 60_000);
    assert.equal(await limiter.blockedFor("u:other@example.com"), 0, "other keys are not limited");
    now += 45_000;
    assert.equal(await limiter.blockedFor("u:eve@example.com"), 15_000);
    now += 15_000;
    assert.equal(await limiter.blockedFor("u:eve@example.com"), 0, "the window ended");
    await limiter.fail("u:eve@example.com");
    assert.equal(await limiter.blockedFor("u:eve@example.com"), 0, "one failure in the new window");
  });

  test("a success clears the key; old windows are swept; keys are stored as digests", async () => {
    const limiter = new FailureLimiter(store, 2, 60_000, clock);
    await limiter.fail("u:finn@example.com");
    await limiter.fail("u:finn@example.com");
    assert.ok((await limiter.blockedFor("u:finn@example.com")) > 0);
    await limiter.clear("u:finn@example.com");
    assert.equal(await limiter.blockedFor("u:finn@example.com"), 0);
    await limiter.fail("a:192.0.2.7");
    const stored = (await repositories(store).signInFailures.page(undefined, 100)).map((e) => e.value);
    assert.ok(stored.length >= 2);
    for (const r of stored) assert.match(r.keySha256, /^[0-9a-f]{64}$/);
    // The database and its write-ahead log, where fresh writes are.
    const bytes = readdirSync(dir)
      .map((f) => readFileSync(join(dir, f)).toString("latin1"))
      .join("");
    assert.ok(bytes.includes(stored[0]!.keySha256), "the digests are found where the rows are written");
    assert.ok(
      !bytes.includes("finn@example.com") && !bytes.includes("192.0.2.7"),
      "no e-mail or address stored",
    );
    now += 61_000;
    assert.ok((await limiter.sweep(1)) >= 2, "ended windows are deleted, page by page");
    assert.deepEqual(await repositories(store).signInFailures.page(undefined, 100), []);
  });
});

describe("sweep of authorization codes and sign-in sessions", () => {
  let dir: string;
  let store: Datastore;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "warrant-signin-sweep-"));
    store = await openDatastore(join(dir, "warrant.db"));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("ended ones are deleted over several pages; live ones stay", async () => {
    const now = Date.parse("2026-12-06T12:00:00Z");
    const at = (offsetMs: number) => new Date(now + offsetMs).toISOString();
    const r = repositories(store);
    // Codes stay redeemable (to detect replays) for CODE_LIFETIME_S past their expiry.
    const codeEnded = -(CODE_LIFETIME_S * 1000 + 1000);
    for (const [id, expires] of [
      ["c1", codeEnded],
      ["c2", codeEnded],
      ["c3", codeEnded],
      ["c4", -1000],
      ["c5", 60_000],
    ] as const)
      await r.authorizationCodes.put({
        codeSha256: id,
        clientId: "client",
        redirectUri: "http://127.0.0.1/cb",
        subject: "user:ada@example.com",
        uid: "1",
        email: "ada@example.com",
        scopes: ["openid"],
        offline: false,
        authTime: at(-120_000),
        createTime: at(-120_000),
        expireTime: at(expires),
      });
    for (const [id, expires] of [
      ["s1", -1],
      ["s2", -60_000],
      ["s3", -1000],
      ["s4", 60_000],
    ] as const)
      await r.signInSessions.put({
        sessionSha256: id,
        email: "ada@example.com",
        uid: "1",
        method: "password",
        authTime: at(-120_000),
        expireTime: at(expires),
      });
    assert.equal(await sweepSignInRecords(store, now, 2), 6);
    assert.deepEqual(
      (await r.authorizationCodes.page(undefined, 100)).map((e) => e.key),
      ["c4", "c5"],
    );
    assert.deepEqual(
      (await r.signInSessions.page(undefined, 100)).map((e) => e.key),
      ["s4"],
    );
    assert.equal(await sweepSignInRecords(store, now, 2), 0, "nothing left to sweep");
  });
});
