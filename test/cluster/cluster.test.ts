/**
 * Several `warrant serve` nodes on one PostgreSQL database serve one installation: what one node
 * changes, every other node's caches drop within a second (the change feed), scheduled key
 * rotation happens once per installation, and concurrent policy writers spread over the nodes
 * lose no update.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { PostgresDatastore } from "../../src/datastore/postgres/postgres-datastore.js";
import { repositories } from "../../src/datastore/repositories.js";
import { KeyRing } from "../../src/server/tokens/key-ring.js";
import { runCli } from "../cli/helpers.js";
import { createTestDatabase, dropTestDatabase, postgresUnavailable } from "../datastore/pg-fixture.js";
import { type Harness, startHarness } from "../support/harness.js";
import { startIssuer } from "../support/oidc-issuer.js";
import { createFederation, exchange, wipBase } from "../support/wif.js";

const why = await postgresUnavailable();
const dbName = `warrant_cluster_${process.pid}_${randomBytes(4).toString("hex")}`;
const masterKey = randomBytes(32).toString("base64");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("three nodes on one PostgreSQL database", { skip: why ?? false, timeout: 120_000 }, () => {
  let url: string;
  let nodes: Harness[] = [];
  const logs: string[] = [];
  before(async () => {
    url = await createTestDatabase(dbName);
    const start = () =>
      startHarness({
        datastore: url,
        masterKey,
        agents: false,
        keyRotation: { publishLeadSeconds: 0 },
        log: (l) => logs.push(l),
      });
    // The first bootstraps the installation; the others join it at once.
    const a = await start();
    nodes = [a, ...(await Promise.all([start(), start()]))];
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await dropTestDatabase(dbName);
  });

  it("serves one installation from every node, each with a working admin credential of its own", async () => {
    for (const n of nodes) {
      const r = await n.call("GET", "/v1/projects/demo-project/serviceAccounts");
      assert.equal(r.status, 200, r.text);
    }
    // Each node's admin token works at every other node (one key ring, one user directory).
    const r = await nodes[2]!.call("GET", "/v1/projects/demo-project", { token: nodes[0]!.adminToken });
    assert.equal(r.status, 200, r.text);
  });

  it("a service account disabled through node A is refused at node C within 1 s", async () => {
    const [a, , c] = nodes as [Harness, Harness, Harness];
    const created = await a.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "cluster-runner" },
    });
    assert.equal(created.status, 200, created.text);
    const email = created.body.email as string;
    // Granted through node B, so A (which may have cached the account's empty policy) learns it too.
    const b = nodes[1]!;
    const granted = await b.call("POST", `/v1/projects/-/serviceAccounts/${email}:setIamPolicy`, {
      body: {
        policy: {
          bindings: [{ role: "roles/iam.serviceAccountTokenCreator", members: ["user:admin@warrant.local"] }],
        },
      },
    });
    assert.equal(granted.status, 200, granted.text);
    const mint = () =>
      a.call("POST", `/v1/projects/-/serviceAccounts/${email}:generateAccessToken`, {
        body: { scope: ["https://www.googleapis.com/auth/cloud-platform"] },
      });
    const t = Date.now();
    let minted = await mint();
    while (minted.status === 403 && Date.now() - t < 1_000) {
      await sleep(20);
      minted = await mint();
    }
    assert.equal(minted.status, 200, minted.text);
    const token = minted.body.accessToken as string;
    // C knows the account (and caches it, for 5 s without the change feed).
    const before = await c.call("GET", "/v1/projects/demo-project/serviceAccounts", { token });
    assert.notEqual(before.status, 401, before.text);

    const disabled = await a.call("POST", `/v1/projects/demo-project/serviceAccounts/${email}:disable`, {
      body: {},
    });
    assert.equal(disabled.status, 200, disabled.text);
    const t0 = Date.now();
    let status = before.status;
    while (Date.now() - t0 < 1_000) {
      status = (await c.call("GET", "/v1/projects/demo-project/serviceAccounts", { token })).status;
      if (status === 401) break;
      await sleep(20);
    }
    const elapsed = Date.now() - t0;
    assert.equal(status, 401, `node C still accepted the disabled account's token after ${elapsed} ms`);
    assert.ok(elapsed < 1_000, `refused after ${elapsed} ms`);
  });

  it("a user credential revoked through node A is refused at node C within 1 s", async () => {
    const [a, b, c] = nodes as [Harness, Harness, Harness];
    const email = "dana@example.com";
    assert.equal((await b.call("POST", "/warrant/v1/users", { body: { email } })).status, 200);
    const policy = (await b.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    const set = await b.call("POST", "/v1/projects/demo-project:setIamPolicy", {
      body: {
        policy: {
          ...policy,
          bindings: [...policy.bindings, { role: "roles/viewer", members: [`user:${email}`] }],
        },
      },
    });
    assert.equal(set.status, 200, set.text);
    const issued = await a.call("POST", `/warrant/v1/users/${email}:issueCredential`, { body: {} });
    assert.equal(issued.status, 200, issued.text);
    const cred = issued.body as { client_id: string; client_secret: string; refresh_token: string };
    const refreshed = await fetch(`${a.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", ...cred }),
    });
    const token = ((await refreshed.json()) as { access_token: string }).access_token;
    const read = async () => (await c.call("GET", "/v1/projects/demo-project", { token })).status;
    // C accepts it (and caches the credential's client)...
    const t = Date.now();
    let before = await read();
    while (before !== 200 && Date.now() - t < 1_000) {
      await sleep(20);
      before = await read();
    }
    assert.equal(before, 200);
    // ...until A revokes it.
    const rv = await fetch(`${a.url}/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: cred.refresh_token }),
    });
    assert.equal(rv.status, 200);
    const t0 = Date.now();
    let status = await read();
    while (status !== 401 && Date.now() - t0 < 1_000) {
      await sleep(20);
      status = await read();
    }
    assert.equal(
      status,
      401,
      `node C still accepted the revoked credential's token after ${Date.now() - t0} ms`,
    );
  });

  it("a binding removed through node A stops the permission at node C within 1 s, though C had just allowed it", async () => {
    const [a, b, c] = nodes as [Harness, Harness, Harness];
    const member = "user:remy@example.com";
    assert.equal(
      (await b.call("POST", "/warrant/v1/users", { body: { email: "remy@example.com" } })).status,
      200,
    );
    const edit = async (
      node: Harness,
      change: (bindings: { role: string; members: string[] }[]) => unknown,
    ) => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const p = (await node.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
        const r = await node.call("POST", "/v1/projects/demo-project:setIamPolicy", {
          body: { policy: { ...p, bindings: change(p.bindings) } },
        });
        if (r.status === 200) return;
        assert.equal(r.status, 409, r.text);
      }
      assert.fail("the policy kept changing under the test");
    };
    await edit(b, (bs) => [...bs, { role: "roles/compute.viewer", members: [member] }]);
    const issued = await a.call("POST", "/warrant/v1/users/remy@example.com:issueCredential", { body: {} });
    assert.equal(issued.status, 200, issued.text);
    const refreshed = await fetch(`${a.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", ...issued.body }),
    });
    const token = ((await refreshed.json()) as { access_token: string }).access_token;
    const list = async () =>
      (await c.call("GET", "/compute/v1/projects/demo-project/zones/us-central1-a/instances", { token }))
        .status;
    // C allows it, several times over (so it remembers the decision)...
    const t = Date.now();
    let before = await list();
    while (before !== 200 && Date.now() - t < 1_000) {
      await sleep(20);
      before = await list();
    }
    assert.equal(before, 200);
    assert.equal(await list(), 200);
    // ...until the binding is removed through A.
    await edit(a, (bs) =>
      bs
        .map((x) => ({ ...x, members: x.members.filter((m) => m !== member) }))
        .filter((x) => x.members.length),
    );
    const t0 = Date.now();
    let status = await list();
    while (status !== 403 && Date.now() - t0 < 1_000) {
      await sleep(20);
      status = await list();
    }
    assert.equal(status, 403, `node C still allowed it ${Date.now() - t0} ms after the binding was removed`);
  });

  it("a signing key rotated on one node verifies on all", async () => {
    const [a, b, c] = nodes as [Harness, Harness, Harness];
    const rotated = await b.call("POST", "/warrant/v1/signingKeys:rotate", { body: {} });
    assert.equal(rotated.status, 200, rotated.text);
    const promoted = rotated.body.promoted as string;
    // A token B signs with the new primary right away...
    const token = await b.tokenFor(b.server.adminCredentialFile);
    const kid = JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()).kid;
    assert.equal(kid, promoted);
    // ...is accepted by A and C within a second (without the feed they learn of it on their 30 s tick).
    for (const n of [a, c]) {
      const t0 = Date.now();
      let r = await n.call("GET", "/v1/projects/demo-project", { token });
      while (r.status !== 200 && Date.now() - t0 < 1_000) {
        await sleep(20);
        r = await n.call("GET", "/v1/projects/demo-project", { token });
      }
      assert.equal(r.status, 200, `a node refused a token signed by the rotated key: ${r.text}`);
      // And each node publishes the new primary in its key set.
      const certs = await n.call("GET", "/oauth2/v3/certs", { token: null });
      assert.equal(certs.status, 200, certs.text);
      assert.ok(
        (certs.body.keys as { kid: string }[]).some((k) => k.kid === promoted),
        "the rotated key is published by every node",
      );
    }
  });

  it("50 concurrent add-iam-policy-binding writers spread over the nodes lose no update", async () => {
    const resource = "/v1/projects/demo-project";
    const writers = Array.from({ length: 50 }, (_, i) => i);
    const attempts: number[] = [];
    await Promise.all(
      writers.map(async (i) => {
        const n = nodes[i % nodes.length]!;
        for (let attempt = 1; attempt <= 100; attempt++) {
          // gcloud's add-iam-policy-binding: read, add, write with the etag read; retry on 409.
          const got = await n.call("POST", `${resource}:getIamPolicy`, { body: {} });
          assert.equal(got.status, 200, got.text);
          const policy = got.body;
          const bindings = [
            ...(policy.bindings ?? []),
            { role: "roles/viewer", members: [`group:writer-${i}@example.com`] },
          ];
          const set = await n.call("POST", `${resource}:setIamPolicy`, {
            body: { policy: { ...policy, bindings } },
          });
          if (set.status === 200) {
            attempts.push(attempt);
            return;
          }
          assert.equal(set.status, 409, set.text);
          await sleep(Math.random() * 20 * Math.min(attempt, 10));
        }
        assert.fail(`writer ${i} never got its binding in`);
      }),
    );
    assert.equal(attempts.length, 50);
    // Every node now shows all 50 members (its cached policy was dropped on each write elsewhere).
    for (const n of nodes) {
      const got = await n.call("POST", `${resource}:getIamPolicy`, { body: {} });
      const members = new Set(
        (got.body.bindings as { role: string; members: string[] }[])
          .filter((b) => b.role === "roles/viewer")
          .flatMap((b) => b.members),
      );
      for (const i of writers)
        assert.ok(members.has(`group:writer-${i}@example.com`), `writer ${i}'s binding is lost`);
    }
  });

  it("50 concurrent `warrant projects add-iam-policy-binding` runs spread over the nodes lose no update", async () => {
    const writers = Array.from({ length: 50 }, (_, i) => i);
    const results = await Promise.all(
      writers.map((i) => {
        const n = nodes[i % nodes.length]!;
        return runCli(
          [
            "projects",
            "add-iam-policy-binding",
            "demo-project",
            `--member=group:cli-writer-${i}@example.com`,
            "--role=roles/browser",
            "--format=none",
          ],
          { env: { WARRANT_ENDPOINT: n.url, WARRANT_CREDENTIAL_FILE: n.server.adminCredentialFile } },
        );
      }),
    );
    for (const [i, r] of results.entries()) assert.equal(r.code, 0, `writer ${i}: ${r.stderr}`);
    for (const n of nodes) {
      const got = await n.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
      const members = new Set(
        (got.body.bindings as { role: string; members: string[] }[])
          .filter((b) => b.role === "roles/browser")
          .flatMap((b) => b.members),
      );
      for (const i of writers)
        assert.ok(
          members.has(`group:cli-writer-${i}@example.com`),
          `writer ${i}'s binding is lost at ${n.url}`,
        );
    }
  });

  // Before the rotation test below, whose rotations retire the key that signed the nodes' admin tokens.
  it("a project created through node A is served by node C within 1 s, though C cached it as missing", async () => {
    const [a, , c] = nodes as [Harness, Harness, Harness];
    const id = `cluster-proj-${randomBytes(3).toString("hex")}`;
    // C reads the missing project now, and its project cache would keep "none" for 5 s.
    assert.equal((await c.call("GET", `/v1/projects/${id}`)).status, 404);
    const created = await a.call("POST", "/v1/projects", { body: { projectId: id } });
    assert.equal(created.status, 200, created.text);
    const t = Date.now();
    let r = await c.call("GET", `/v1/projects/${id}`);
    while (r.status !== 200 && Date.now() - t < 1_000) {
      await sleep(20);
      r = await c.call("GET", `/v1/projects/${id}`);
    }
    assert.equal(r.status, 200, `node C still answered ${r.status} after ${Date.now() - t} ms: ${r.text}`);
    assert.equal(r.body.projectId, id);
  });

  it("a workload identity pool disabled through node A stops its federated tokens at node C within 1 s", async () => {
    const [a, , c] = nodes as [Harness, Harness, Harness];
    const issuer = await startIssuer();
    try {
      const fed = await createFederation(a, issuer, { poolId: "cluster-pool", inlineJwks: true });
      const subject = await issuer.sign({ sub: "repo:org/app", aud: fed.audience, repository: "org/app" });
      const sts = await exchange(a, { audience: fed.audience, subject_token: subject });
      assert.equal(sts.status, 200, sts.text);
      const token = sts.body.access_token as string;
      // Authenticated at C (the federated identity may read nothing: 403, never 401); C caches the pool.
      const atC = () => c.call("GET", "/v1/projects/demo-project", { token });
      assert.notEqual((await atC()).status, 401);
      const disabled = await a.call("PATCH", `${wipBase()}/cluster-pool?updateMask=disabled`, {
        body: { disabled: true },
      });
      assert.equal(disabled.status, 200, disabled.text);
      const t = Date.now();
      let status = (await atC()).status;
      while (status !== 401 && Date.now() - t < 1_000) {
        await sleep(20);
        status = (await atC()).status;
      }
      assert.equal(status, 401, "refused at C within 1 s (the pool cache would otherwise keep it 5 s)");
    } finally {
      await issuer.close();
    }
  });

  it("a scheduled rotation happens once per installation, however many nodes find it due at once", async () => {
    const stores = await Promise.all([1, 2, 3].map(() => PostgresDatastore.open(url, { log: () => {} })));
    try {
      const policy = { rotationPeriodSeconds: 3600, publishLeadSeconds: 0, retireAfterSeconds: 7200 };
      const rings = await Promise.all(
        stores.map((s) => KeyRing.open(s, Buffer.from(masterKey, "base64"), policy)),
      );
      const primaryBefore = rings[0]!.primary().kid;
      const stagedBefore = rings[0]!.all().find((k) => k.state === "staged")!.kid;
      const later = Date.now() + 2 * 3600_000;
      await Promise.all(rings.map((r) => r.tick(later)));
      const stored = await repositories(stores[0]!).signingKeys.all();
      const primaries = stored.filter((k) => k.state === "primary");
      assert.equal(primaries.length, 1);
      // One rotation: the key staged before is primary (a second would have promoted its successor).
      assert.equal(primaries[0]!.kid, stagedBefore);
      const secondaries = stored.filter((k) => k.state === "secondary").map((k) => k.kid);
      assert.ok(secondaries.includes(primaryBefore), "the old primary became a secondary");
      assert.equal(stored.filter((k) => k.state === "staged").length, 1);
      for (const r of rings) assert.equal(r.primary().kid, primaries[0]!.kid);

      // A ring that has not heard of a rotation (no change feed here) trusts the new primary as soon
      // as a token signed by it arrives: it re-reads the ring, at most once a second.
      let reads = 0;
      const counted = new Proxy(stores[1]!, {
        get(target, prop) {
          const v = Reflect.get(target, prop, target) as unknown;
          if (typeof v !== "function") return v;
          return (...args: unknown[]) => {
            if (prop === "list") reads++;
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const watcher = await KeyRing.open(counted, Buffer.from(masterKey, "base64"), policy);
      const first = rings[0]!;
      const { staged } = await first.rotate(later + 3600_000);
      const { promoted } = await first.rotate(later + 7200_000);
      assert.equal(promoted, staged);
      assert.equal(watcher.verificationKey(promoted), undefined, "the watcher has not reloaded yet");
      const before = reads;
      await watcher.refreshFor(promoted);
      assert.equal(reads, before + 1);
      assert.ok(watcher.verificationKey(promoted), "trusted after the re-read");
      await watcher.refreshFor("no-such-kid");
      await watcher.refreshFor("another-unknown-kid");
      assert.equal(reads, before + 1, "unknown kids within the second read nothing more");
      await sleep(1_050);
      await watcher.refreshFor("no-such-kid");
      assert.equal(reads, before + 2, "a second later, one more read");
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
