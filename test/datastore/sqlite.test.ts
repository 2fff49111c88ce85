/** The datastore conformance suite against the embedded SQLite backend (a fresh file per store). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
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
