/**
 * The generator of `npm run bench:scale` (bench/scale-gen.ts), at a tiny scale: the state it writes
 * through the datastore is state `warrant serve` serves (accounts, instances, objects, policies at the
 * member limit, custom roles), and `--external-agents` starts no metadata server for its instances.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FLEET_ZONE, type Fleet, generateFleet, projectIdOf } from "../../bench/scale-gen.js";
import { openDatastore } from "../../src/datastore/open.js";
import { repositories } from "../../src/datastore/repositories.js";
import { serviceAccountPrincipal } from "../../src/domain/iam/principal.js";
import { childOf, projectRef } from "../../src/domain/resources.js";
import { bucketResource } from "../../src/domain/storage/bucket.js";
import { AccessControl } from "../../src/server/iam/access-control.js";
import { adminToken } from "../support/cluster.js";
import { type ServeProcess, spawnServe } from "../support/serve-process.js";

const SCALE = {
  projects: 3,
  serviceAccounts: 40,
  instances: 10,
  membersPerPolicy: 25,
  customRoles: 2,
  objects: 5,
};

describe("bench:scale's fleet generator, at a tiny scale", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "warrant-fleet-gen-"));
  let serve: ServeProcess | undefined;
  let fleet: Fleet;
  let url: string;
  let token: string;
  let orgId: string;

  before(async () => {
    const first = spawnServe(stateDir, ["--external-agents"]);
    await first.ready();
    first.kill();
    await first.exited;
    const store = await openDatastore(join(stateDir, "warrant.db"));
    try {
      orgId = (await repositories(store).meta.get("installation"))!.organizationId;
      fleet = await generateFleet(store, SCALE);
      // The caller's grant comes through the big project's custom role, at the end of its policy.
      const access = new AccessControl(store, orgId);
      const project = await repositories(store).projects.get(fleet.bigProject);
      const caller = serviceAccountPrincipal(
        fleet.caller.email,
        project!.projectNumber,
        fleet.caller.uniqueId,
      );
      const bucket = childOf(projectRef(orgId, fleet.bigProject), bucketResource(fleet.bigBucket));
      const d = await access.decide(caller, "storage.objects.list", bucket);
      assert.equal(d.allowed, true, d.reason);
      assert.match(d.grantedBy[0]!.role, /^projects\/fleet-0000\/roles\/fleetReader$/);
      const other = await access.decide(caller, "compute.instances.list", projectRef(orgId, projectIdOf(2)));
      assert.equal(other.allowed, false, "no grant on another project");
    } finally {
      await store.close();
    }
    serve = spawnServe(stateDir, ["--external-agents"]);
    const info = await serve.ready();
    url = info.url as string;
    assert.deepEqual(info.metadataServers, {}, "--external-agents: no in-process metadata server");
    token = await adminToken(stateDir, url);
  });

  after(async () => {
    serve?.kill();
    await serve?.exited;
    rmSync(stateDir, { recursive: true, force: true });
  });

  const get = async (path: string) => {
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  test("the big project's accounts, page by page", async () => {
    const emails: string[] = [];
    let pageToken = "";
    do {
      const r = await get(
        `/v1/projects/${fleet.bigProject}/serviceAccounts?pageSize=3${pageToken ? `&pageToken=${pageToken}` : ""}`,
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      emails.push(...(r.body.accounts as { email: string }[]).map((a) => a.email));
      pageToken = (r.body.nextPageToken as string | undefined) ?? "";
    } while (pageToken);
    assert.equal(fleet.bigProjectAccounts, 4, "a tenth of 40");
    assert.deepEqual(
      emails,
      [0, 1, 2, 3].map((i) => `sa-00000${i}@fleet-0000.iam.gserviceaccount.com`),
    );
    // The rest are spread over the other projects.
    const r = await get(`/v1/projects/${projectIdOf(1)}/serviceAccounts?pageSize=100`);
    assert.equal((r.body.accounts as unknown[]).length, 18);
  });

  test("instances, page by page (keyset pages), each with an enrolled agent record", async () => {
    const names: string[] = [];
    let pageToken = "";
    do {
      const r = await get(
        `/compute/v1/projects/${projectIdOf(1)}/zones/${FLEET_ZONE}/instances?maxResults=2${pageToken ? `&pageToken=${pageToken}` : ""}`,
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      names.push(...(r.body.items as { name: string }[]).map((i) => i.name));
      pageToken = (r.body.nextPageToken as string | undefined) ?? "";
    } while (pageToken);
    assert.deepEqual(names, ["vm-00000", "vm-00001", "vm-00002", "vm-00003", "vm-00004"]);
    const agg = await get(`/compute/v1/projects/${projectIdOf(1)}/aggregated/instances?maxResults=2`);
    assert.equal(agg.status, 200);
    assert.equal(
      (agg.body.items as Record<string, { instances: unknown[] }>)[`zones/${FLEET_ZONE}`]!.instances.length,
      2,
    );
    // A page token of another project's listing is refused, not served as a page of this one.
    const other = await get(
      `/compute/v1/projects/${projectIdOf(2)}/zones/${FLEET_ZONE}/instances?maxResults=1`,
    );
    const stolen = other.body.nextPageToken as string;
    assert.ok(stolen);
    const refused = await get(
      `/compute/v1/projects/${projectIdOf(1)}/zones/${FLEET_ZONE}/instances?maxResults=1&pageToken=${stolen}`,
    );
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    const store = await openDatastore(join(stateDir, "warrant.db"));
    try {
      const r = repositories(store);
      for (const i of await r.instances.list(projectIdOf(1)))
        assert.equal((await r.agents.ofInstance(i.id)).length, 1, `${i.name} has its agent record`);
    } finally {
      await store.close();
    }
  });

  test("the bucket's objects and the policies at the member limit", async () => {
    const objects = await get(`/storage/v1/b/${fleet.bigBucket}/o`);
    assert.equal(objects.status, 200, JSON.stringify(objects.body));
    assert.equal((objects.body.items as unknown[]).length, SCALE.objects);
    for (const n of [0, 1, 2]) {
      const p = await fetch(`${url}/v1/projects/${projectIdOf(n)}:getIamPolicy`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: "{}",
      });
      const policy = (await p.json()) as { bindings: { role: string; members: string[] }[] };
      assert.equal(p.status, 200, JSON.stringify(policy));
      // The generated members plus the administrator's owner binding.
      assert.equal(policy.bindings.flatMap((b) => b.members).length, SCALE.membersPerPolicy);
      assert.equal(
        policy.bindings.some((b) => b.role === `projects/${projectIdOf(n)}/roles/fleetReader`),
        n < SCALE.customRoles,
      );
    }
  });
});
