/**
 * IAM Conditions on every policy that takes them — project, service account, bucket — evaluated per
 * request with the attributes of the resource accessed; testIamPermissions honours them; the bucket
 * API (where gcloud does not check basic roles client-side) refuses a conditional basic role.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const BUCKET = "cond-api-bucket";
const SA = "cond-target@demo-project.iam.gserviceaccount.com";
const FUTURE = "request.time < timestamp('2999-01-01T00:00:00Z')";
const PAST = "request.time < timestamp('2001-01-01T00:00:00Z')";

describe("IAM Conditions across policies", () => {
  let h: Harness;
  let rita: string;
  before(async () => {
    h = await startHarness({ agents: false });
    assert.equal(
      (await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: BUCKET } })).status,
      200,
    );
    for (const name of ["reports/a.csv", "private/b.txt"])
      assert.equal(
        (
          await h.call(
            "POST",
            `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent(name)}`,
            {
              body: "x",
              headers: { "content-type": "text/plain" },
            },
          )
        ).status,
        200,
      );
    assert.equal(
      (
        await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
          body: { accountId: "cond-target" },
        })
      ).status,
      200,
    );
    rita = await tokenAs(h, "user:rita@example.com");
  });
  after(() => h.close());

  test("a bucket policy's object-prefix condition: objects under the prefix only, and no listing", async () => {
    const cur = (await h.call("GET", `/storage/v1/b/${BUCKET}/iam?optionsRequestedPolicyVersion=3`)).body;
    const put = await h.call("PUT", `/storage/v1/b/${BUCKET}/iam`, {
      body: {
        ...cur,
        version: 3,
        bindings: [
          ...cur.bindings,
          {
            role: "roles/storage.objectViewer",
            members: ["user:rita@example.com"],
            condition: {
              title: "reports",
              expression: `resource.name.startsWith("projects/_/buckets/${BUCKET}/objects/reports/")`,
            },
          },
        ],
      },
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.version, 3);
    assert.equal(
      (await h.call("GET", `/storage/v1/b/${BUCKET}/o/reports%2Fa.csv?alt=media`, { token: rita })).status,
      200,
    );
    const refused = await h.call("GET", `/storage/v1/b/${BUCKET}/o/private%2Fb.txt?alt=media`, {
      token: rita,
    });
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /condition "reports"/);
    // Listing is checked on the bucket, whose name is not under the prefix.
    assert.equal((await h.call("GET", `/storage/v1/b/${BUCKET}/o`, { token: rita })).status, 403);
    // Reading the bucket policy without naming a version shows the opaque role; naming 1 is refused.
    const v1 = (await h.call("GET", `/storage/v1/b/${BUCKET}/iam`)).body;
    assert.ok(
      v1.bindings.some((b: { role: string }) => b.role.startsWith("roles/storage.objectViewer_withcond_")),
    );
    assert.equal(
      (await h.call("GET", `/storage/v1/b/${BUCKET}/iam?optionsRequestedPolicyVersion=1`)).status,
      400,
    );
  });

  test("a conditional basic role on a bucket is refused by the server", async () => {
    const cur = (await h.call("GET", `/storage/v1/b/${BUCKET}/iam?optionsRequestedPolicyVersion=3`)).body;
    const r = await h.call("PUT", `/storage/v1/b/${BUCKET}/iam`, {
      body: {
        ...cur,
        version: 3,
        bindings: [
          ...cur.bindings,
          {
            role: "roles/owner",
            members: ["user:rita@example.com"],
            condition: { title: "t", expression: FUTURE },
          },
        ],
      },
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.error.message, /condition and a basic role/);
  });

  test("a service account's policy: request.time decides who may act as it", async () => {
    const path = `/v1/projects/-/serviceAccounts/${SA}`;
    const cur = (await h.call("POST", `${path}:getIamPolicy?options.requestedPolicyVersion=3`)).body;
    const set = await h.call("POST", `${path}:setIamPolicy`, {
      body: {
        policy: {
          ...cur,
          version: 3,
          bindings: [
            {
              role: "roles/iam.serviceAccountTokenCreator",
              members: ["user:rita@example.com"],
              condition: { title: "expired", expression: PAST },
            },
            {
              role: "roles/iam.serviceAccountViewer",
              members: ["user:rita@example.com"],
              condition: { title: "open", expression: FUTURE },
            },
          ],
        },
      },
    });
    assert.equal(set.status, 200, set.text);
    assert.equal(
      (await h.call("GET", `/v1/projects/demo-project/serviceAccounts/${SA}`, { token: rita })).status,
      200,
    );
    const mint = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`, {
      token: rita,
      body: { scope: ["https://www.googleapis.com/auth/cloud-platform"] },
    });
    assert.equal(mint.status, 403, mint.text);
    assert.match(mint.body.error.message, /condition "expired"/);
    // testIamPermissions on the account honours the conditions.
    const tested = await h.call("POST", `${path}:testIamPermissions`, {
      token: rita,
      body: { permissions: ["iam.serviceAccounts.get", "iam.serviceAccounts.getAccessToken"] },
    });
    assert.deepEqual(tested.body.permissions, ["iam.serviceAccounts.get"]);
  });
});
