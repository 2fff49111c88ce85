/**
 * The PostgreSQL datastore's list queries walk an index in key order and stop at their LIMIT,
 * whether or not the table has statistics: the planner cannot see that a kind and its keys are
 * correlated (all of a bucket's objects start with its name), underestimates a key range and would
 * otherwise pick a bitmap scan that reads the whole range and sorts it for every page.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { PostgresDatastore } from "../../src/datastore/postgres/postgres-datastore.js";
import type { StoredObject } from "../../src/domain/storage/object.js";
import { createTestDatabase, dropTestDatabase, postgresUnavailable, withDatabase } from "./pg-fixture.js";

const why = await postgresUnavailable();
const dbName = `warrant_plans_${process.pid}_${randomBytes(4).toString("hex")}`;

const object = (bucket: string, name: string) =>
  ({ bucket, name, generation: "1", metageneration: "1", size: "0" }) as StoredObject;

describe("PostgreSQL list plans", { skip: why ?? false, timeout: 60_000 }, () => {
  let url: string;
  let store: PostgresDatastore;
  before(async () => {
    url = await createTestDatabase(dbName);
    // Random reads priced high, as on slow disks: the planner's costs then favour a bitmap scan of
    // a range it expects to be small, as they did on the fleet's 132,000 documents at default costs.
    await withDatabase(url, (c) => c.query(`ALTER DATABASE ${dbName} SET random_page_cost = 40`));
    store = await PostgresDatastore.open(url);
    // A big bucket beside other kinds, as in a fleet (bench/scale-gen.ts).
    await store.putMany(
      "object",
      Array.from({ length: 10_000 }, (_, i) => {
        const o = object("big", `logs/${String(i).padStart(7, "0")}.json`);
        return { key: `big/${o.name}`, parent: "big", value: o };
      }),
    );
    await store.putMany(
      "project",
      // In no particular key order: the table's key order is not the storage order, as in a store
      // written over time.
      Array.from({ length: 100_000 }, (_, i) => ({
        key: `p-${randomBytes(8).toString("hex")}`,
        parent: null,
        value: {
          projectId: `p-${i}`,
          projectNumber: "1",
          name: "p".repeat(250),
          lifecycleState: "ACTIVE",
          createTime: "",
        },
      })),
    );
  });
  after(async () => {
    await store?.close();
    await dropTestDatabase(dbName);
  });

  const pages = [
    { prefix: "big/", limit: 101 },
    { prefix: "big/", after: "big/logs/0009000.json", limit: 101 },
    { prefix: "big/logs/", from: "big/logs/0005000.json", limit: 101 },
    { parent: "big", prefix: "big/", after: "big/logs/0000100.json", limit: 101 },
  ];

  for (const analyzed of [false, true])
    it(`a page of a big bucket is an ordered index scan, ${analyzed ? "with" : "without"} statistics`, async () => {
      // VACUUM records the table's size (as autovacuum does after a bulk load) but no column
      // statistics: the planner then expects a few rows per range, where bitmap scans look cheapest.
      await withDatabase(url, (c) => c.query(analyzed ? "ANALYZE documents" : "VACUUM documents"));
      for (const page of pages) {
        const plan = await store.explainList("object", page);
        assert.match(
          plan,
          /^Limit.*\n\s*->\s+Index Scan using documents_(pkey|by_parent) on documents/,
          plan,
        );
        assert.doesNotMatch(plan, /Sort|Bitmap/, plan);
      }
      // And the page is the right one.
      const rows = await store.listText("object", pages[1]!);
      assert.equal(rows.length, 101);
      assert.equal(rows[0]!.key, "big/logs/0009001.json");
    });
});
