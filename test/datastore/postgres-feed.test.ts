/**
 * The PostgreSQL datastore's change feed: every committed write transaction of one process is
 * announced to every other process watching the store, with the documents it wrote; a rolled-back
 * one is not; a store in another schema of the same database hears nothing; a transaction too large
 * for one notice is announced as "everything"; a lost feed session comes back and says so.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { StoreChange } from "../../src/datastore/datastore.js";
import { PostgresDatastore } from "../../src/datastore/postgres/postgres-datastore.js";
import { createTestDatabase, dropTestDatabase, postgresUnavailable, withDatabase } from "./pg-fixture.js";

const why = await postgresUnavailable();
const dbName = `warrant_feed_${process.pid}_${randomBytes(4).toString("hex")}`;

/** Collects what a store's feed delivers; `next()` waits for the next delivery (or times out). */
function collector(store: PostgresDatastore) {
  const got: (readonly StoreChange[] | null)[] = [];
  let wake: (() => void) | undefined;
  store.watch((c) => {
    got.push(c);
    wake?.();
  });
  return {
    got,
    async next(timeoutMs = 2_000): Promise<readonly StoreChange[] | null | "timeout"> {
      if (!got.length)
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, timeoutMs);
        });
      return got.length ? got.shift()! : "timeout";
    },
  };
}

describe("the PostgreSQL change feed", { skip: why ?? false, timeout: 60_000 }, () => {
  let url: string;
  const stores: PostgresDatastore[] = [];
  const open = async (schema?: string) => {
    const u = new URL(url);
    if (schema) u.searchParams.set("options", `-c search_path=${schema}`);
    const logs: string[] = [];
    const s = await PostgresDatastore.open(u.toString(), { log: (l) => logs.push(l) });
    stores.push(s);
    return Object.assign(s, { logs });
  };
  before(async () => {
    url = await createTestDatabase(dbName);
    await withDatabase(url, (c) => c.query("CREATE SCHEMA other"));
  });
  after(async () => {
    for (const s of stores) await s.close();
    await dropTestDatabase(dbName);
  });

  it("announces each committed transaction's documents to the other processes, and nothing else", async () => {
    const writer = await open();
    const reader = await open();
    const elsewhere = await open("other");
    const heard = collector(reader);
    const unrelated = collector(elsewhere);
    await reader.feedReady();
    await elsewhere.feedReady();

    await writer.transaction(async (tx) => {
      await tx.put("policy", "projects/p", { version: 1, bindings: [], etag: "BwE=" });
      await tx.put("user", "a@example.com", { email: "a@example.com" } as never);
      await tx.put("policy", "projects/p", { version: 1, bindings: [], etag: "BwF=" });
    });
    assert.deepEqual(await heard.next(), [
      { kind: "policy", key: "projects/p" },
      { kind: "user", key: "a@example.com" },
    ]);
    // A bulk write announces each of its documents.
    await writer.putMany("user", [
      { key: "b@example.com", parent: null, value: { email: "b@example.com" } as never },
      { key: "c@example.com", parent: null, value: { email: "c@example.com" } as never },
    ]);
    assert.deepEqual(await heard.next(), [
      { kind: "user", key: "b@example.com" },
      { kind: "user", key: "c@example.com" },
    ]);
    // A delete of nothing and an insert that found the key are no change.
    assert.equal(await writer.delete("policy", "projects/none"), false);
    assert.equal(await writer.insert("user", "a@example.com", { email: "x" } as never), false);
    // A rolled-back transaction announces nothing.
    await assert.rejects(
      writer.transaction(async (tx) => {
        await tx.put("policy", "projects/q", { version: 1, bindings: [], etag: "BwE=" });
        throw new Error("refused");
      }),
    );
    assert.equal(await heard.next(300), "timeout");
    assert.equal(await writer.delete("user", "a@example.com"), true);
    assert.deepEqual(await heard.next(), [{ kind: "user", key: "a@example.com" }]);

    // Too many documents for one notice: "everything may have changed".
    await writer.transaction(async (tx) => {
      for (let i = 0; i < 400; i++)
        await tx.put("policy", `projects/p-${i}-${"x".repeat(20)}`, {
          version: 1,
          bindings: [],
          etag: "BwE=",
        });
    });
    assert.equal(await heard.next(), null);
    // The store in another schema heard none of it.
    assert.equal(await unrelated.next(300), "timeout");
  });

  it("a lost feed session comes back and reports that changes may have been missed", async () => {
    const writer = await open();
    const reader = await open();
    const heard = collector(reader);
    await reader.feedReady();
    await withDatabase(url, (c) =>
      c.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'warrant change feed' AND datname = current_database()",
      ),
    );
    // Every feed session of the database went: each store says "everything", once back.
    assert.equal(await heard.next(5_000), null);
    assert.ok(
      reader.logs.some((l) => /listening for changes on .* again/.test(l)),
      reader.logs.join("\n"),
    );
    await writer.put("user", "b@example.com", { email: "b@example.com" } as never);
    let next = await heard.next();
    while (next === null) next = await heard.next();
    assert.deepEqual(next, [{ kind: "user", key: "b@example.com" }]);
  });
});
