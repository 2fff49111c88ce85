/**
 * The datastore conformance suite against PostgreSQL (127.0.0.1:5432, user postgres, or
 * WARRANT_TEST_POSTGRES_URL). The run gets its own database, created here and dropped at the end;
 * each store in it is a schema of its own. In CI PostgreSQL must be there; elsewhere, without
 * it, the suite skips and says why.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { datastoreConformance } from "./conformance.js";
import { adminUrl, postgresUnavailable, withDatabase } from "./pg-fixture.js";

const database = `warrant_test_${process.pid}_${randomBytes(4).toString("hex")}`;
let created = false;
let n = 0;

const urlFor = (schema: string) => {
  const u = new URL(adminUrl());
  u.pathname = `/${database}`;
  u.searchParams.set("options", `-c search_path=${schema}`);
  return u.toString();
};
const schemaOf = (spec: string) =>
  /search_path=(\w+)/.exec(new URL(spec).searchParams.get("options") ?? "")![1]!;

async function inStore<T>(spec: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: spec });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

datastoreConformance({
  name: "postgres",
  unavailable: postgresUnavailable,
  async fresh() {
    if (!created) {
      await withDatabase(adminUrl(), (c) => c.query(`CREATE DATABASE ${database}`));
      created = true;
    }
    const schema = `store_${++n}`;
    await withDatabase(urlFor("public"), (c) => c.query(`CREATE SCHEMA ${schema}`));
    return urlFor(schema);
  },
  async createAtVersion(spec, version) {
    const { migratePostgres } = await import("../../src/datastore/postgres/postgres-datastore.js");
    await inStore(spec, (c) => migratePostgres(c, schemaOf(spec), version));
  },
  insertRaw: (spec, kind, key, value, parent) =>
    inStore(spec, async (c) => {
      await c.query(
        "INSERT INTO documents (kind, key, parent, value, updated_at) VALUES ($1, $2, $3, $4, $5)",
        [kind, key, parent ?? null, JSON.stringify(value), Date.now()],
      );
    }),
  readVersion: (spec) =>
    inStore(
      spec,
      async (c) =>
        (await c.query<{ version: number }>("SELECT version FROM schema_version")).rows[0]!.version,
    ),
  setVersion: (spec, version) =>
    inStore(spec, async (c) => {
      await c.query("UPDATE schema_version SET version = $1", [version]);
    }),
  sharedByInstances: true,
  async teardown() {
    if (created)
      await withDatabase(adminUrl(), (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  },
});
