/**
 * The project cache of the API hot path: served from memory while fresh, dropped when this process
 * or the change feed (ClusterSync) says the project was written, never caching a read that raced a
 * write, bounded, and what it serves cannot be changed by a handler.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { repositories } from "../../src/datastore/repositories.js";
import { SqliteDatastore } from "../../src/datastore/sqlite/sqlite-datastore.js";
import type { Project } from "../../src/domain/project.js";
import { ChangeFeed } from "../../src/server/agents/change-feed.js";
import { ProjectDirectory } from "../../src/server/auth/project-directory.js";
import { ServiceAccountDirectory } from "../../src/server/auth/service-account-directory.js";
import { UserDirectory } from "../../src/server/auth/user-directory.js";
import { ClusterSync } from "../../src/server/cluster-sync.js";
import { AccessControl } from "../../src/server/iam/access-control.js";
import { KeyRing } from "../../src/server/tokens/key-ring.js";
import { type Harness, startHarness } from "../support/harness.js";

const project = (projectId: string, name = projectId): Project => ({
  projectId,
  projectNumber: "123456789012",
  name,
  lifecycleState: "ACTIVE",
  createTime: new Date(0).toISOString(),
  labels: { env: "test" },
  parent: { type: "organization", id: "1" },
});

describe("ProjectDirectory over SQLite", () => {
  let dir: string;
  let store: SqliteDatastore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "warrant-projdir-"));
    store = new SqliteDatastore(join(dir, "db.sqlite"));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // A write made behind the cache's back, as another node's would be.
  const write = (p: Project) => store.transaction((tx) => repositories(tx).projects.put(p));

  test("serves a cached answer (even 'none') until invalidated, then reads the datastore again", async () => {
    const projects = new ProjectDirectory(repositories(store), 60_000);
    assert.equal(await projects.get("p-one"), undefined);
    await write(project("p-one"));
    assert.equal(await projects.get("p-one"), undefined, "cached 'none' until told");
    projects.invalidate("p-one");
    assert.equal((await projects.get("p-one"))?.name, "p-one");
    await write(project("p-one", "renamed"));
    assert.equal((await projects.get("p-one"))?.name, "p-one", "cached until told");
    projects.invalidateAll();
    assert.equal((await projects.get("p-one"))?.name, "renamed");
  });

  test("an entry older than the TTL is read again", async () => {
    const projects = new ProjectDirectory(repositories(store), 30);
    await write(project("p-ttl"));
    assert.equal((await projects.get("p-ttl"))?.name, "p-ttl");
    await write(project("p-ttl", "later"));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await projects.get("p-ttl"))?.name, "later");
  });

  test("a read that raced an invalidation is not cached", async () => {
    const projects = new ProjectDirectory(repositories(store), 60_000);
    await write(project("p-race", "old"));
    const reading = projects.get("p-race");
    // The invalidation lands while the read is in flight (after it was issued, before it returned).
    projects.invalidate("p-race");
    await write(project("p-race", "new"));
    await reading;
    assert.equal((await projects.get("p-race"))?.name, "new");
  });

  test("a change-feed notice of a project written by another node drops it (ClusterSync.apply)", async () => {
    const repos = repositories(store);
    const projects = new ProjectDirectory(repos, 60_000);
    const changes = new ChangeFeed();
    const sync = new ClusterSync(
      store,
      {
        access: new AccessControl(store, "1"),
        directory: new ServiceAccountDirectory(repos),
        users: new UserDirectory(repos),
        projects,
        keyRing: await KeyRing.open(store, randomBytes(32)),
        changes,
      },
      () => {},
    );
    try {
      assert.equal(await projects.get("p-feed"), undefined);
      await write(project("p-feed"));
      assert.equal(await projects.get("p-feed"), undefined, "cached 'none'");
      // What the datastore's change feed reports for another node's commit.
      const before = changes.version;
      sync.apply([{ kind: "project", key: "p-feed" }]);
      assert.equal((await projects.get("p-feed"))?.name, "p-feed");
      assert.ok(changes.version > before, "agents are woken too");
      // "Everything may have changed" (a lost notice, or the periodic re-read) drops it as well.
      await write(project("p-feed", "renamed"));
      sync.apply(null);
      assert.equal((await projects.get("p-feed"))?.name, "renamed");
    } finally {
      await sync.close();
    }
  });

  test("is bounded, and its projects are frozen", async () => {
    const projects = new ProjectDirectory(repositories(store), 60_000, 2);
    await write(project("p-frozen"));
    for (const id of ["a-1", "a-2", "p-frozen"]) await projects.get(id);
    assert.equal(projects.size, 2);
    const p = (await projects.get("p-frozen"))!;
    assert.throws(() => {
      (p as { name: string }).name = "x";
    }, TypeError);
    assert.throws(() => {
      p.labels!.env = "x";
    }, TypeError);
  });
});

describe("GET /v1/projects/{project} with the project cache", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("a project created through the API is served at once, though it was asked for (and missing) before", async () => {
    assert.equal((await h.call("GET", "/v1/projects/cached-later")).status, 404);
    const created = await h.call("POST", "/v1/projects", { body: { projectId: "cached-later" } });
    assert.equal(created.status, 200, created.text);
    const r = await h.call("GET", "/v1/projects/cached-later");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.projectId, "cached-later");
  });
});
