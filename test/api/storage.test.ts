import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const RO = "https://www.googleapis.com/auth/devstorage.read_only";

describe("Cloud Storage buckets", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("create, list (paged, prefix), get, patch, delete; JSON as GCS's", async () => {
    for (const name of ["alpha-bucket", "beta-bucket", "beta-two"]) {
      const r = await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.kind, "storage#bucket");
      assert.equal(r.body.id, name, "id equals name (gsutil and Node need it)");
      assert.match(r.body.projectNumber, /^\d{12}$/);
      assert.equal(typeof r.body.generation, "string");
      assert.equal(r.body.iamConfiguration.uniformBucketLevelAccess.enabled, true);
      assert.equal(r.body.selfLink, `${h.url}/storage/v1/b/${name}`);
    }
    const dup = await h.call("POST", "/storage/v1/b?project=demo-project", {
      body: { name: "alpha-bucket" },
    });
    assert.equal(dup.status, 409);
    const all = await h.call("GET", "/storage/v1/b?project=demo-project&projection=full&alt=json");
    assert.deepEqual(
      all.body.items.map((b: { name: string }) => b.name),
      ["alpha-bucket", "beta-bucket", "beta-two"],
    );
    const p1 = await h.call("GET", "/storage/v1/b?project=demo-project&maxResults=2");
    assert.equal(p1.body.items.length, 2);
    const p2 = await h.call(
      "GET",
      `/storage/v1/b?project=demo-project&maxResults=2&pageToken=${p1.body.nextPageToken}`,
    );
    assert.deepEqual(
      p2.body.items.map((b: { name: string }) => b.name),
      ["beta-two"],
    );
    assert.equal(p2.body.nextPageToken, undefined);
    const pre = await h.call("GET", "/storage/v1/b?project=demo-project&prefix=beta");
    assert.equal(pre.body.items.length, 2);
    const patched = await h.call("PATCH", "/storage/v1/b/alpha-bucket", {
      body: { labels: { env: "test" } },
    });
    assert.deepEqual(patched.body.labels, { env: "test" });
    assert.equal(patched.body.metageneration, "2");
    const del = await h.call("DELETE", "/storage/v1/b/beta-two");
    assert.equal(del.status, 204);
    const gone = await h.call("GET", "/storage/v1/b/beta-two");
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, "The specified bucket does not exist.");
    const empty = await h.call("GET", "/storage/v1/b?project=demo-project&prefix=zzz");
    assert.deepEqual(empty.body, { kind: "storage#buckets" }, "no items key when empty");
  });

  test("bad input: names, project, maxResults", async () => {
    for (const name of ["ab", "Upper", "has space", "-dash", "goog-bucket", "192.168.1.1", "a..b"]) {
      const r = await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name } });
      assert.equal(r.status, 400, name);
    }
    // Dotted names may reach 222 characters, each dot-separated part at most 63.
    const dotted = `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}`;
    const long = await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: dotted } });
    assert.equal(long.status, 200, long.text);
    const part64 = `${"a".repeat(64)}.example`;
    assert.equal(
      (await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: part64 } })).status,
      400,
    );
    assert.equal(
      (await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: "d".repeat(64) } })).status,
      400,
    );
    assert.equal((await h.call("POST", "/storage/v1/b", { body: { name: "no-project" } })).status, 400);
    assert.equal((await h.call("GET", "/storage/v1/b")).status, 400);
    assert.equal((await h.call("GET", "/storage/v1/b?project=demo-project&maxResults=0")).status, 400);
  });

  test("IAM: the default policy binds the legacy roles to the project's basic roles; viewers list but cannot create", async () => {
    await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: "iam-bucket" } });
    const pol = await h.call("GET", "/storage/v1/b/iam-bucket/iam?optionsRequestedPolicyVersion=3");
    assert.equal(pol.body.kind, "storage#policy");
    assert.equal(pol.body.resourceId, "projects/_/buckets/iam-bucket");
    const roles = Object.fromEntries(
      pol.body.bindings.map((b: { role: string; members: string[] }) => [b.role, b.members]),
    );
    assert.deepEqual(roles["roles/storage.legacyBucketReader"], ["projectViewer:demo-project"]);

    const p = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    p.bindings.push({ role: "roles/viewer", members: ["user:vera@example.com"] });
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } })).status,
      200,
    );
    const vera = await tokenAs(h, "user:vera@example.com");
    assert.equal(
      (await h.call("GET", "/storage/v1/b?project=demo-project", { token: vera })).status,
      200,
      "roles/viewer lists buckets",
    );
    // roles/viewer has no storage.buckets.get, but projectViewer: holds legacyBucketReader on the bucket.
    assert.equal((await h.call("GET", "/storage/v1/b/iam-bucket", { token: vera })).status, 200);
    const denied = await h.call("POST", "/storage/v1/b?project=demo-project", {
      token: vera,
      body: { name: "veras-bucket" },
    });
    assert.equal(denied.status, 403);
    assert.match(
      denied.body.error.message,
      /^vera@example\.com does not have storage\.buckets\.create access to the Google Cloud project\./,
    );
    const t = await h.call(
      "GET",
      "/storage/v1/b/iam-bucket/iam/testPermissions?permissions=storage.buckets.get&permissions=storage.buckets.delete",
      { token: vera },
    );
    assert.deepEqual(t.body, {
      kind: "storage#testIamPermissionsResponse",
      permissions: ["storage.buckets.get"],
    });
    assert.equal(
      (await h.call("GET", "/storage/v1/b/iam-bucket/iam/testPermissions?permissions=storage.buckets.list"))
        .status,
      400,
    );

    const set = await h.call("PUT", "/storage/v1/b/iam-bucket/iam", {
      body: {
        ...pol.body,
        bindings: [...pol.body.bindings, { role: "roles/storage.objectViewer", members: ["allUsers"] }],
      },
    });
    assert.equal(set.status, 200, set.text);
    const stale = await h.call("PUT", "/storage/v1/b/iam-bucket/iam", { body: pol.body });
    assert.equal(stale.status, 412, "GCS answers a stale etag with 412");
  });

  test("anonymous callers get 401 unless allUsers is bound; scopes limit tokens", async () => {
    const anon = await h.call("GET", "/storage/v1/b?project=demo-project", { token: null });
    assert.equal(anon.status, 401);
    assert.match(anon.body.error.message, /^Anonymous caller does not have storage\.buckets\.list access/);
    assert.equal(anon.body.error.errors[0].reason, "required");
    const ro = await tokenAs(h, `serviceAccount:${SA}`, [RO]);
    assert.equal((await h.call("GET", "/storage/v1/b?project=demo-project", { token: ro })).status, 200);
    const w = await h.call("POST", "/storage/v1/b?project=demo-project", {
      token: ro,
      body: { name: "ro-bucket" },
    });
    assert.equal(w.status, 403);
    assert.equal(w.body.error.errors[0].reason, "insufficientPermissions");
  });
});
