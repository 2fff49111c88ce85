/**
 * A project's instances read a page at a time (`repositories.instances.page` / `pageText`): the key
 * prefix alone selects the project and zone, so neighbours whose keys sort right beside them (a
 * project whose id extends this one's, another zone with the same start, the same zone of another
 * project) never appear, and a page token from elsewhere is refused.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Datastore } from "../../src/datastore/datastore.js";
import { openDatastore } from "../../src/datastore/open.js";
import { repositories } from "../../src/datastore/repositories.js";
import type { Instance } from "../../src/domain/compute/instance.js";

const vm = (projectId: string, zone: string, name: string) =>
  ({ id: `${projectId}.${zone}.${name}`, projectId, zone, name, status: "RUNNING" }) as Instance;

describe("instance pages", () => {
  let store: Datastore;
  before(async () => {
    store = await openDatastore(":memory:");
    const r = repositories(store);
    for (let i = 0; i < 25; i++)
      await r.instances.insert(vm("fleet", "us-east1-b", `vm-${String(i).padStart(2, "0")}`));
    for (const [p, z] of [
      ["fleet-1", "us-east1-b"],
      ["flee", "us-east1-b"],
      ["fleet", "us-east1-c"],
      ["fleet", "us-east1"],
      ["fleetx", "us-east1-b"],
    ] as const)
      await r.instances.insert(vm(p, z, "vm-00"));
  });
  after(() => store.close());

  it("walks one zone of one project, a page at a time, and nothing else", async () => {
    const r = repositories(store);
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await r.instances.pageText("fleet", "us-east1-b", {
        pageSize: 10,
        ...(token ? { pageToken: token } : {}),
      });
      assert.ok(page, "a token of this listing is accepted");
      for (const e of page.items) {
        const i = JSON.parse(e.text) as Instance;
        assert.equal(e.key, `fleet/us-east1-b/${i.name}`);
        assert.deepEqual([i.projectId, i.zone], ["fleet", "us-east1-b"]);
        names.push(i.name);
      }
      token = page.nextPageToken;
    } while (token);
    assert.deepEqual(
      names,
      Array.from({ length: 25 }, (_, i) => `vm-${String(i).padStart(2, "0")}`),
    );
    // All zones of the project: its 27 instances, none of the other projects'.
    const all = await r.instances.page("fleet", undefined, { pageSize: 100 });
    assert.equal(all?.items.length, 27);
    assert.ok(all?.items.every((i) => i.projectId === "fleet"));
  });

  it("refuses a page token of another zone or project", async () => {
    const r = repositories(store);
    const first = await r.instances.pageText("fleet", "us-east1-c", { pageSize: 1 });
    assert.equal(first?.nextPageToken, undefined, "one instance in that zone");
    const token = (await r.instances.pageText("fleet", "us-east1-b", { pageSize: 1 }))!.nextPageToken!;
    assert.equal(
      await r.instances.pageText("fleet", "us-east1-c", { pageSize: 10, pageToken: token }),
      undefined,
    );
    assert.equal(
      await r.instances.pageText("fleet-1", "us-east1-b", { pageSize: 10, pageToken: token }),
      undefined,
    );
    assert.equal(await r.instances.page("fleetx", undefined, { pageSize: 10, pageToken: token }), undefined);
  });
});
