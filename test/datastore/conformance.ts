/**
 * The datastore conformance suite: the contract of `src/datastore/datastore.ts`, run against every
 * backend (SQLite in sqlite.test.ts, PostgreSQL in postgres.test.ts). A backend is conformant when
 * it passes all of it; a test here never looks at which backend it has.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type Datastore, type DocumentStore, UniqueViolation } from "../../src/datastore/datastore.js";
import { openDatastore } from "../../src/datastore/open.js";
import { repositories } from "../../src/datastore/repositories.js";
import { Aborted } from "../../src/domain/errors.js";
import { newEtag, type Policy } from "../../src/domain/iam/policy.js";
import type { Project } from "../../src/domain/project.js";
import type { ServiceAccount } from "../../src/domain/service-account.js";

export interface BackendUnderTest {
  name: string;
  /** Why this backend cannot run here (the suite then skips, saying so); undefined when it can. */
  unavailable(): Promise<string | undefined>;
  /** A spec (`--datastore` value) naming a new, empty location. */
  fresh(): Promise<string>;
  /** Lays down the schema only up to `version`, as an older Warrant left it. */
  createAtVersion(spec: string, version: number): Promise<void>;
  /** Writes a document row directly, in the columns schema 1 had. */
  insertRaw(spec: string, kind: string, key: string, value: unknown, parent?: string): Promise<void>;
  /** The schema version recorded in the store, and a way to pretend a newer Warrant wrote it. */
  readVersion(spec: string): Promise<number>;
  setVersion(spec: string, version: number): Promise<void>;
  /** Several datastore instances (processes) may share one location. */
  sharedByInstances: boolean;
  teardown(): Promise<void>;
}

export const CURRENT_SCHEMA = 2;

const project = (id: string, name = id): Project => ({
  projectId: id,
  projectNumber: "1",
  name,
  lifecycleState: "ACTIVE",
  createTime: "2026-01-01T00:00:00Z",
});

const account = (projectId: string, id: string, uniqueId: string): ServiceAccount => ({
  name: `projects/${projectId}/serviceAccounts/${id}@${projectId}.iam.gserviceaccount.com`,
  projectId,
  uniqueId,
  email: `${id}@${projectId}.iam.gserviceaccount.com`,
  etag: "x",
  oauth2ClientId: uniqueId,
});

/** Binary (UTF-8 byte) order: the order every backend must list keys in. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** One Aborted-or-write step of a client's `setIamPolicy(etag)`: the etag check and write are atomic. */
async function setPolicyIf(
  tx: DocumentStore,
  resource: string,
  etag: string,
  member: string,
): Promise<Policy> {
  const current = (await tx.get("policy", resource)) ?? { version: 1, bindings: [], etag: "ACAB" };
  if (current.etag !== etag) throw new Aborted("There were concurrent policy changes.");
  await new Promise((r) => setTimeout(r, 2));
  const next: Policy = {
    ...current,
    bindings: [{ role: "roles/viewer", members: [...(current.bindings[0]?.members ?? []), member] }],
    etag: newEtag(),
  };
  await tx.put("policy", resource, next);
  return next;
}

const here = dirname(fileURLToPath(import.meta.url));

export function datastoreConformance(b: BackendUnderTest): void {
  describe(`datastore conformance: ${b.name}`, async () => {
    const why = await b.unavailable();
    const opened: Datastore[] = [];
    const open = async (spec?: string) => {
      const s = await openDatastore(spec ?? (await b.fresh()));
      opened.push(s);
      return s;
    };
    const opts = why ? { skip: why } : {};
    after(async () => {
      for (const s of opened) await s.close();
      if (!why) await b.teardown();
    });

    describe("documents", opts, () => {
      let s: Datastore;
      before(async () => {
        s = await open();
      });

      it("creates, reads, replaces and deletes a document", async () => {
        assert.equal(await s.get("project", "p1"), undefined);
        assert.equal(await s.insert("project", "p1", project("p1", "one")), true);
        assert.deepEqual(await s.get("project", "p1"), project("p1", "one"));
        assert.equal(await s.insert("project", "p1", project("p1", "again")), false, "insert never replaces");
        assert.equal((await s.get("project", "p1"))?.name, "one");
        await s.put("project", "p1", project("p1", "two"));
        assert.equal((await s.get("project", "p1"))?.name, "two");
        assert.equal(await s.get("user", "p1"), undefined, "kinds are separate namespaces");
        assert.equal(await s.delete("project", "p1"), true);
        assert.equal(await s.delete("project", "p1"), false);
        assert.equal(await s.get("project", "p1"), undefined);
      });

      it("round-trips values exactly (key order, unicode, escapes, nesting)", async () => {
        const p = { ...project("round"), name: 'é ☃ 𝄞 "q" \\ \u0001 \u0000', labels: { z: "1", a: "2" } };
        await s.put("project", "round", p);
        const back = await s.get("project", "round");
        assert.deepEqual(back, p);
        assert.deepEqual(Object.keys(back!.labels!), ["z", "a"]);
      });

      it("lists in byte order with keyset paging, prefix, from and parent", async () => {
        const keys = ["a", "B", "a/b", "a%", "a_", "a\u0001x", "é", "z", "𝄞", "\uffee", "a/c", "ab"];
        for (const k of keys)
          await s.put("project", `pg:${k}`, project(k), k.startsWith("a") ? "A" : "other");
        const all = (await s.list("project", { prefix: "pg:" })).map((e) => e.key.slice(3));
        assert.deepEqual(all, [...keys].sort(byteOrder));
        // Pages of 5 by keyset: nothing lost, nothing repeated.
        const seen: string[] = [];
        let afterKey: string | undefined;
        for (;;) {
          const page = await s.list("project", {
            prefix: "pg:",
            limit: 5,
            ...(afterKey !== undefined ? { after: afterKey } : {}),
          });
          seen.push(...page.map((e) => e.key.slice(3)));
          if (page.length < 5) break;
          afterKey = page.at(-1)!.key;
        }
        assert.deepEqual(seen, all);
        // LIKE metacharacters are literal in a prefix.
        assert.deepEqual(
          (await s.list("project", { prefix: "pg:a%" })).map((e) => e.key),
          ["pg:a%"],
        );
        assert.deepEqual(
          (await s.list("project", { prefix: "pg:a/" })).map((e) => e.key),
          ["pg:a/b", "pg:a/c"],
        );
        assert.deepEqual(
          (await s.list("project", { prefix: "pg:", from: "pg:z" })).map((e) => e.key.slice(3)),
          all.filter((k) => byteOrder(k, "z") >= 0),
        );
        // Several lower bounds at once: the tightest in byte order holds, whichever option gave it
        // (U+FFEE sorts before 𝄞 in UTF-8 bytes, after it in UTF-16 code units).
        const keysOf = async (o: object) => (await s.list("project", o)).map((e) => e.key.slice(3));
        assert.deepEqual(await keysOf({ prefix: "pg:", from: "pg:\uffee", after: "pg:𝄞" }), []);
        assert.deepEqual(await keysOf({ prefix: "pg:", from: "pg:𝄞", after: "pg:\uffee" }), ["𝄞"]);
        assert.deepEqual(await keysOf({ prefix: "pg:", from: "pg:z", after: "pg:z" }), ["é", "\uffee", "𝄞"]);
        assert.deepEqual(
          await keysOf({ prefix: "pg:a", after: "pg:" }),
          all.filter((k) => k.startsWith("a")),
        );
        assert.deepEqual(await keysOf({ prefix: "pg:a", from: "pg:", after: "pg:a/b", limit: 2 }), [
          "a/c",
          "a_",
        ]);
        const underA = (await s.list("project", { parent: "A" })).map((e) => e.key.slice(3));
        assert.deepEqual(underA, keys.filter((k) => k.startsWith("a")).sort(byteOrder));
        // A put moves a document to its new parent.
        await s.put("project", "pg:z", project("z"), "A");
        assert.ok((await s.list("project", { parent: "A" })).some((e) => e.key === "pg:z"));
        assert.equal((await s.list("project", { parent: "nobody" })).length, 0);
        // listText: the same rows, each as the stored JSON text of the value list parses.
        for (const o of [{ prefix: "pg:" }, { parent: "A" }, { prefix: "pg:", after: "pg:a", limit: 4 }]) {
          const listed = await s.list("project", o);
          const texts = await s.listText("project", o);
          assert.deepEqual(
            texts.map((t) => t.key),
            listed.map((e) => e.key),
          );
          assert.deepEqual(
            texts.map((t) => JSON.parse(t.text)),
            listed.map((e) => e.value),
          );
        }
      });

      it("finds a document by its unique secondary value and refuses a duplicate", async () => {
        const sa = account("p", "one", "100000000000000000001");
        await s.put("service-account", sa.email, sa, sa.projectId);
        assert.deepEqual(await s.getUnique("service-account", "100000000000000000001"), sa);
        assert.equal(await s.getUnique("service-account", "100000000000000000002"), undefined);
        const twin = account("p", "two", "100000000000000000001");
        await assert.rejects(s.put("service-account", twin.email, twin, twin.projectId), UniqueViolation);
        await assert.rejects(
          s.transaction(async (tx) => {
            await tx.put("project", "uv-partial", project("uv-partial"));
            await tx.insert("service-account", twin.email, twin, twin.projectId);
          }),
          UniqueViolation,
        );
        assert.equal(await s.get("service-account", twin.email), undefined);
        assert.equal(await s.get("project", "uv-partial"), undefined, "the failed transaction wrote nothing");
        // Replacing the document itself (same key) with its own value is no violation; deleting frees it.
        await s.put("service-account", sa.email, { ...sa, displayName: "renamed" }, sa.projectId);
        assert.equal((await s.getUnique("service-account", sa.uniqueId))?.displayName, "renamed");
        await s.delete("service-account", sa.email);
        await s.put("service-account", twin.email, twin, twin.projectId);
        assert.equal((await s.getUnique("service-account", sa.uniqueId))?.email, twin.email);
        assert.equal(
          (await repositories(s).serviceAccounts.getByUniqueId("p", sa.uniqueId))?.email,
          twin.email,
        );
        assert.equal(await repositories(s).serviceAccounts.getByUniqueId("other", sa.uniqueId), undefined);
      });
      it("writes many documents as puts in turn (putMany), across statement-sized batches", async () => {
        await s.put("project", "many:00001", project("many:00001", "before"), "old");
        // More rows than one PostgreSQL statement takes (5,000), a key given twice (the last row
        // wins), a replaced document moved to another parent, values that need escaping.
        const rows = Array.from({ length: 5_100 }, (_, i) => {
          const key = `many:${String(i).padStart(5, "0")}`;
          return { key, parent: i % 2 ? "odd" : null, value: project(key, `n${i} é 𝄞 "q" \\ \u0001 {,}`) };
        });
        rows.push({ key: "many:00007", parent: "odd", value: project("many:00007", "seven, again") });
        await s.putMany("project", rows);
        const listed = await s.list("project", { prefix: "many:" });
        assert.equal(listed.length, 5_100);
        assert.deepEqual(listed[3]!.value, rows[3]!.value);
        assert.equal(listed[7]!.value.name, "seven, again");
        assert.equal(listed[1]!.value.name, rows[1]!.value.name, "replaced");
        assert.deepEqual(await s.get("project", "many:05099"), rows[5_099]!.value);
        const odd = await s.list("project", { parent: "odd" });
        assert.equal(odd.length, 2_550);
        assert.equal(odd[0]!.key, "many:00001", "moved to its new parent");
        assert.equal((await s.list("project", { parent: "old" })).length, 0);
        // A duplicate unique value (within the rows, or with a stored document) writes none of them.
        const a = account("pm", "a", "200000000000000000001");
        const b = account("pm", "b", "200000000000000000002");
        const twin = account("pm", "twin", "200000000000000000001");
        const duplicate = await s
          .putMany(
            "service-account",
            [a, b, twin].map((v) => ({ key: v.email, parent: v.projectId, value: v })),
          )
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        assert.ok(duplicate instanceof UniqueViolation, String(duplicate));
        assert.equal(duplicate.value, "200000000000000000001");
        assert.equal(
          await s.get("service-account", a.email),
          undefined,
          "nothing of the failed call was written",
        );
        await s.putMany(
          "service-account",
          [a, b].map((v) => ({ key: v.email, parent: v.projectId, value: v })),
        );
        assert.equal((await s.getUnique("service-account", b.uniqueId))?.email, b.email);
        await assert.rejects(
          s.putMany("service-account", [{ key: twin.email, parent: twin.projectId, value: twin }]),
          UniqueViolation,
        );
        // Inside a transaction that fails, nothing is written either.
        await assert.rejects(
          s.transaction(async (tx) => {
            await tx.putMany("project", [{ key: "many:rolled-back", parent: null, value: project("rb") }]);
            throw new Error("refused");
          }),
        );
        assert.equal(await s.get("project", "many:rolled-back"), undefined);
        await s.putMany("project", []);
      });
    });

    describe("transactions", opts, () => {
      let s: Datastore;
      before(async () => {
        s = await open();
      });

      it("commits every write together or none (a throw rolls back)", async () => {
        await assert.rejects(
          s.transaction(async (tx) => {
            await tx.put("project", "rb1", project("rb1"));
            await tx.insert("project", "rb2", project("rb2"));
            throw new Error("boom");
          }),
          /boom/,
        );
        assert.equal(await s.get("project", "rb1"), undefined);
        assert.equal(await s.get("project", "rb2"), undefined);
        const r = await s.transaction(async (tx) => {
          await tx.put("project", "c1", project("c1"));
          await tx.put("project", "c2", project("c2"));
          return (await tx.get("project", "c1"))?.projectId;
        });
        assert.equal(r, "c1", "a transaction reads its own writes");
        assert.ok(await s.get("project", "c2"));
      });

      it("reads outside a transaction see only committed data", async () => {
        let release!: () => void;
        const gate = new Promise<void>((r) => {
          release = r;
        });
        let written!: () => void;
        const wrote = new Promise<void>((r) => {
          written = r;
        });
        const tx = s.transaction(async (t) => {
          await t.put("project", "uncommitted", project("uncommitted"));
          written();
          await gate;
        });
        await wrote;
        assert.equal(await s.get("project", "uncommitted"), undefined);
        assert.equal((await s.list("project", { prefix: "uncommitted" })).length, 0);
        release();
        await tx;
        assert.ok(await s.get("project", "uncommitted"));
      });

      it("serializes read-modify-write: concurrent increments are never lost", async () => {
        await s.put("policy", "counter", { version: 1, bindings: [], etag: "0" });
        await Promise.all(
          Array.from({ length: 25 }, (_, i) =>
            s.transaction(async (tx) => {
              const p = (await tx.get("policy", "counter"))!;
              await new Promise((r) => setTimeout(r, i % 3));
              await tx.put("policy", "counter", { ...p, etag: String(Number(p.etag) + 1) });
            }),
          ),
        );
        assert.equal((await s.get("policy", "counter"))?.etag, "25");
      });

      it("etag-conditional writes: of concurrent writers with one etag exactly one wins, the rest get 409", async () => {
        const resource = "projects/etag-race";
        const first = await s.transaction((tx) => setPolicyIf(tx, resource, "ACAB", "user:first@x"));
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) =>
            s.transaction((tx) => setPolicyIf(tx, resource, first.etag, `user:w${i}@x`)),
          ),
        );
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        assert.equal(won.length, 1);
        assert.equal(lost.length, 5);
        for (const l of lost) {
          assert.ok(l.reason instanceof Aborted);
          assert.equal(l.reason.code, 409);
        }
        const final = (await s.get("policy", resource))!;
        assert.equal(final.bindings[0]!.members.length, 2, "the winner's write built on the first one");
      });

      it("uniqueness under concurrency: of concurrent inserts of one key exactly one succeeds", async () => {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            s.transaction((tx) => tx.insert("project", "only-one", project("only-one", `n${i}`))),
          ),
        );
        assert.equal(results.filter(Boolean).length, 1);
        const winner = results.indexOf(true);
        assert.equal((await s.get("project", "only-one"))?.name, `n${winner}`);
      });
    });

    describe("concurrent writers", opts, () => {
      it("instances sharing one store lose no update", {
        skip: !b.sharedByInstances && "one instance per store (the state-directory lock)",
      }, async () => {
        const spec = await b.fresh();
        const one = await open(spec);
        const two = await open(spec);
        await one.put("policy", "shared", { version: 1, bindings: [], etag: "0" });
        const bump = (s: Datastore) =>
          s.transaction(async (tx) => {
            const p = (await tx.get("policy", "shared"))!;
            await new Promise((r) => setTimeout(r, 1));
            await tx.put("policy", "shared", { ...p, etag: String(Number(p.etag) + 1) });
          });
        await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 ? one : two)));
        assert.equal((await two.get("policy", "shared"))?.etag, "20");
        const inserted = await Promise.all(
          Array.from({ length: 8 }, (_, i) => (i % 2 ? one : two).insert("project", "race", project("race"))),
        );
        assert.equal(inserted.filter(Boolean).length, 1);
      });
    });

    describe("migrations", opts, () => {
      it("brings an empty store to the current schema", async () => {
        const spec = await b.fresh();
        const s = await open(spec);
        assert.equal(await b.readVersion(spec), CURRENT_SCHEMA);
        await s.put("project", "p", project("p"));
        await s.close();
        const again = await open(spec);
        assert.equal(await b.readVersion(spec), CURRENT_SCHEMA, "reopening migrates nothing twice");
        assert.ok(await again.get("project", "p"));
      });

      it("servers starting at once on an empty store migrate it once, all opening", async () => {
        const spec = await b.fresh();
        const stores = await Promise.all(Array.from({ length: 4 }, () => open(spec)));
        assert.equal(await b.readVersion(spec), CURRENT_SCHEMA);
        await stores[0]!.put("project", "seen", project("seen"));
        for (const s of stores) assert.ok(await s.get("project", "seen"));
        for (const s of stores) await s.close();
      });

      it("migrates forward from schema 1, keeping documents and indexing them", async () => {
        const spec = await b.fresh();
        await b.createAtVersion(spec, 1);
        const sa = account("old", "legacy", "100000000000000000077");
        await b.insertRaw(spec, "service-account", sa.email, sa, sa.projectId);
        await b.insertRaw(spec, "project", "old", project("old"));
        const s = await open(spec);
        assert.equal(await b.readVersion(spec), CURRENT_SCHEMA);
        assert.deepEqual(await s.get("project", "old"), project("old"));
        assert.deepEqual(await s.getUnique("service-account", sa.uniqueId), sa);
        const twin = account("old", "twin", sa.uniqueId);
        await assert.rejects(s.put("service-account", twin.email, twin, "old"), UniqueViolation);
      });

      it("refuses a store written by a newer Warrant, saying so", async () => {
        const spec = await b.fresh();
        await (await open(spec)).close();
        await b.setVersion(spec, CURRENT_SCHEMA + 7);
        await assert.rejects(openDatastore(spec), (err: Error) => {
          assert.match(err.message, /newer Warrant/);
          assert.match(err.message, new RegExp(`schema ${CURRENT_SCHEMA + 7}`));
          return true;
        });
      });
    });

    describe("crash safety", opts, () => {
      it("a process killed inside a transaction leaves nothing of it; what it committed survives", async () => {
        const spec = await b.fresh();
        await (await open(spec)).close();
        const child = spawn(process.execPath, [join(here, "crash-child.js"), spec], {
          stdio: ["ignore", "pipe", "inherit"],
        });
        let out = "";
        await new Promise<void>((ok, fail) => {
          child.stdout.on("data", (d: Buffer) => {
            out += d.toString();
            if (out.includes("mid-transaction")) ok();
          });
          child.once("exit", (code) => fail(new Error(`crash child exited early (${code}): ${out}`)));
        });
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGKILL");
        await exited;
        const s = await open(spec);
        assert.ok(await s.get("project", "committed-before-crash"), "a committed transaction survives");
        const torn = await s.list("project", { prefix: "torn-" });
        assert.deepEqual(torn, [], "no write of the interrupted transaction is visible");
        // And the store still takes writes (no lock left behind).
        await s.transaction((tx) => tx.put("project", "after-crash", project("after-crash")));
        assert.ok(await s.get("project", "after-crash"));
      });
    });
  });
}
