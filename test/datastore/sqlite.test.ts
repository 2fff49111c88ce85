/** The datastore conformance suite against the embedded SQLite backend (a fresh file per store). */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { ReadOnlyStore } from "../../src/cli/offline-store.js";
import { repositories } from "../../src/datastore/repositories.js";
import { migrateSqlite } from "../../src/datastore/sqlite/sqlite-datastore.js";
import { datastoreConformance } from "./conformance.js";

const dir = mkdtempSync(join(tmpdir(), "warrant-ds-sqlite-"));
let n = 0;

function withDb<T>(spec: string, fn: (db: Database.Database) => T): T {
  const db = new Database(spec);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

datastoreConformance({
  name: "sqlite",
  unavailable: async () => undefined,
  fresh: async () => join(dir, `store-${++n}.db`),
  createAtVersion: async (spec, version) => withDb(spec, (db) => migrateSqlite(db, spec, version)),
  insertRaw: async (spec, kind, key, value, parent) =>
    withDb(spec, (db) => {
      db.prepare("INSERT INTO documents (kind, key, parent, value, updated_at) VALUES (?, ?, ?, ?, ?)").run(
        kind,
        key,
        parent ?? null,
        JSON.stringify(value),
        Date.now(),
      );
    }),
  readVersion: async (spec) =>
    withDb(
      spec,
      (db) => db.prepare<[], { version: number }>("SELECT version FROM schema_version").get()!.version,
    ),
  setVersion: async (spec, version) =>
    withDb(spec, (db) => {
      db.prepare("UPDATE schema_version SET version = ?").run(version);
    }),
  sharedByInstances: false,
  teardown: async () => rmSync(dir, { recursive: true, force: true }),
});

test("a read-only view of a schema-1 file (offline `warrant iam explain` before a server migrated it) still finds by unique id", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "warrant-ds-v1-")), "warrant.db");
  const db = new Database(file);
  migrateSqlite(db, file, 1);
  const sa = {
    name: "projects/p/serviceAccounts/old@p.iam.gserviceaccount.com",
    projectId: "p",
    uniqueId: "100000000000000000042",
    email: "old@p.iam.gserviceaccount.com",
    etag: "e",
    oauth2ClientId: "100000000000000000042",
  };
  db.prepare("INSERT INTO documents (kind, key, parent, value, updated_at) VALUES (?, ?, ?, ?, ?)").run(
    "service-account",
    sa.email,
    "p",
    JSON.stringify(sa),
    0,
  );
  db.close();
  const view = new ReadOnlyStore(file);
  try {
    assert.deepEqual(await view.getUnique("service-account", sa.uniqueId), sa);
    assert.equal(await view.getUnique("service-account", "100000000000000000043"), undefined);
    assert.equal(await repositories(view).serviceAccounts.getByUniqueId("other", sa.uniqueId), undefined);
  } finally {
    view.close();
    rmSync(dirname(file), { recursive: true, force: true });
  }
});
