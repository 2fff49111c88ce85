/**
 * Attack: a workload asks its metadata server for tokens with ever new scope sets; every set was a
 * new cache entry kept forever (83 → 158 MB). Now the cache holds a bounded number of scope sets,
 * least recently used out, and a recently used set still hits.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startAgent } from "../../src/agent/agent.js";
import { type Harness, startHarness } from "../support/harness.js";

const ZONE = "us-central1-a";
const BASE = `/compute/v1/projects/demo-project/zones/${ZONE}/instances`;
const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const SCOPES = [
  "cloud-platform",
  "devstorage.read_only",
  "devstorage.read_write",
  "userinfo.email",
  "compute",
  "iam",
].map((s) => `https://www.googleapis.com/auth/${s}`);

let h: Harness;
before(async () => {
  h = await startHarness({ agents: false });
});
after(() => h.close());

test("many scope sets keep the metadata server's token cache bounded; hits still hit", async () => {
  const created = await h.call("POST", BASE, {
    body: {
      name: "scope-sprayer",
      machineType: `zones/${ZONE}/machineTypes/e2-small`,
      serviceAccounts: [{ email: SA, scopes: SCOPES }],
    },
  });
  assert.equal(created.status, 200, created.text);
  const issued = await h.call(
    "POST",
    `/warrant/v1/projects/demo-project/zones/${ZONE}/instances/scope-sprayer:issueEnrollmentToken`,
  );
  assert.equal(issued.status, 200, issued.text);
  const agent = await startAgent({
    controlPlaneUrl: h.url,
    enrollmentToken: issued.body.enrollmentToken,
    host: "127.0.0.1",
    port: 0,
    mintsPerSecond: 1000,
    tokenCacheEntries: 8,
  });
  try {
    const token = async (scopes: string[]) => {
      const r = await fetch(
        `${agent.url}/computeMetadata/v1/instance/service-accounts/default/token?scopes=${scopes.map(encodeURIComponent).join(",")}`,
        { headers: { "Metadata-Flavor": "Google" } },
      );
      assert.equal(r.status, 200, await r.clone().text());
      return ((await r.json()) as { access_token: string }).access_token;
    };
    // Every non-empty subset of the instance's scopes is a distinct scope set: 63 of them.
    const subsets = Array.from({ length: (1 << SCOPES.length) - 1 }, (_, i) =>
      SCOPES.filter((_, bit) => ((i + 1) >> bit) & 1),
    );
    let largest = 0;
    for (const subset of subsets) {
      await token(subset);
      largest = Math.max(largest, agent.cache.size);
    }
    assert.equal(agent.cache.mints, subsets.length, "each scope set was minted once");
    assert.ok(largest <= 8, `the cache held ${largest} scope sets, more than its bound of 8`);
    const last = subsets.at(-1)!;
    const before = agent.cache.mints;
    const again = await token(last);
    assert.equal(agent.cache.mints, before, "the most recent scope set is still a hit");
    assert.equal(again, await token(last));
  } finally {
    await agent.close();
  }
});
