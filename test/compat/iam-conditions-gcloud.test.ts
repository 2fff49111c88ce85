/**
 * IAM Conditions with the real gcloud: `gcloud projects add-iam-policy-binding --condition=…`
 * writes a version-3 policy to Warrant, and the condition decides what the account may read —
 * `gcloud storage cat` as that account reads an object under the prefix and is refused one outside
 * it, with the condition named in Cloud Storage's 403. A binding whose `request.time` bound has
 * passed grants nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING, gcloudEnv, runGcloud } from "../support/tools.js";

const skip = GCLOUD ? false : GCLOUD_MISSING;
const BUCKET = "cond-reports";
const READER = "report-reader@demo-project.iam.gserviceaccount.com";
const LATE = "late-reader@demo-project.iam.gserviceaccount.com";

describe("IAM Conditions driven by the real gcloud", { skip }, () => {
  let h: Harness;
  let dir: string;
  let n = 0;

  before(async () => {
    h = await startHarness({ agents: false });
    dir = mkdtempSync(join(tmpdir(), "warrant-gcloud-cond-"));
    for (const id of ["report-reader", "late-reader"])
      assert.equal(
        (await h.call("POST", "/v1/projects/demo-project/serviceAccounts", { body: { accountId: id } }))
          .status,
        200,
      );
    const b = await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: BUCKET } });
    assert.equal(b.status, 200, b.text);
    for (const [name, body] of [
      ["reports/q1.csv", "quarter,revenue\nq1,100\n"],
      ["secret.txt", "the secret\n"],
    ] as const) {
      const up = await h.call(
        "POST",
        `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent(name)}`,
        { body, headers: { "content-type": "text/plain" } },
      );
      assert.equal(up.status, 200, up.text);
    }
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gcloud(args: string[], token: string) {
    const tokenFile = join(dir, `token-${++n}`);
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const env: NodeJS.ProcessEnv = gcloudEnv({
      home: dir,
      config: join(dir, `config-${n}`),
      project: "demo-project",
      tokenFile: tokenFile,
      endpoints: { iam: `${h.url}/`, cloudresourcemanager: `${h.url}/`, storage: `${h.url}/` },
    });
    return runGcloud(args, env);
  }

  test("--condition on resource.name: the account reads reports/q1.csv and is refused secret.txt, the condition named", async () => {
    const add = await gcloud(
      [
        "projects",
        "add-iam-policy-binding",
        "demo-project",
        `--member=serviceAccount:${READER}`,
        "--role=roles/storage.objectViewer",
        `--condition=expression=resource.name.startsWith("projects/_/buckets/${BUCKET}/objects/reports/"),title=reports`,
        "--format=json",
      ],
      h.adminToken,
    );
    assert.equal(add.code, 0, add.stderr);
    const policy = JSON.parse(add.stdout);
    assert.equal(policy.version, 3);
    const binding = policy.bindings.find((b: { role: string }) => b.role === "roles/storage.objectViewer");
    assert.equal(binding.condition.title, "reports");
    assert.deepEqual(binding.members, [`serviceAccount:${READER}`]);

    const reader = await tokenAs(h, `serviceAccount:${READER}`);
    const ok = await gcloud(["storage", "cat", `gs://${BUCKET}/reports/q1.csv`], reader);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "quarter,revenue\nq1,100\n");

    const refused = await gcloud(["storage", "cat", `gs://${BUCKET}/secret.txt`], reader);
    assert.notEqual(refused.code, 0);
    assert.doesNotMatch(refused.stdout, /the secret/);
    assert.match(refused.stderr, /does not have storage\.objects\.get access/);
    // The 403 names the binding's condition and the value of the attribute that made it false.
    const direct = await h.call("GET", `/storage/v1/b/${BUCKET}/o/secret.txt?alt=media`, { token: reader });
    assert.equal(direct.status, 403);
    assert.match(
      direct.body.error.message,
      /condition "reports" \(resource\.name\.startsWith\("projects\/_\/buckets\/cond-reports\/objects\/reports\/"\)\) was false with resource\.name = "projects\/_\/buckets\/cond-reports\/objects\/secret\.txt"/,
    );

    // gcloud reads the policy back at version 3, conditions included.
    const got = await gcloud(["projects", "get-iam-policy", "demo-project", "--format=json"], h.adminToken);
    assert.equal(got.code, 0, got.stderr);
    assert.ok(
      JSON.parse(got.stdout).bindings.some(
        (b: { condition?: { title: string } }) => b.condition?.title === "reports",
      ),
    );
  });

  test("a binding whose request.time bound is in the past no longer grants", async () => {
    const add = await gcloud(
      [
        "projects",
        "add-iam-policy-binding",
        "demo-project",
        `--member=serviceAccount:${LATE}`,
        "--role=roles/storage.objectViewer",
        '--condition=expression=request.time < timestamp("2020-01-01T00:00:00Z"),title=expired,description=ended in 2019',
      ],
      h.adminToken,
    );
    assert.equal(add.code, 0, add.stderr);
    const late = await tokenAs(h, `serviceAccount:${LATE}`);
    const r = await gcloud(["storage", "cat", `gs://${BUCKET}/reports/q1.csv`], late);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /does not have storage\.objects\.get access/);
    const direct = await h.call("GET", `/storage/v1/b/${BUCKET}/o/reports%2Fq1.csv?alt=media`, {
      token: late,
    });
    assert.equal(direct.status, 403);
    assert.match(direct.body.error.message, /condition "expired" .* was false with request\.time = "20\d\d-/);
  });

  test("gcloud storage buckets add-iam-policy-binding --condition: a bucket binding for one prefix", async () => {
    const VIEWER = "bucket-reader@demo-project.iam.gserviceaccount.com";
    assert.equal(
      (
        await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
          body: { accountId: "bucket-reader" },
        })
      ).status,
      200,
    );
    const add = await gcloud(
      [
        "storage",
        "buckets",
        "add-iam-policy-binding",
        `gs://${BUCKET}`,
        `--member=serviceAccount:${VIEWER}`,
        "--role=roles/storage.objectViewer",
        `--condition=expression=resource.name.startsWith("projects/_/buckets/${BUCKET}/objects/reports/"),title=bucket-reports`,
      ],
      h.adminToken,
    );
    assert.equal(add.code, 0, add.stderr);
    const token = await tokenAs(h, `serviceAccount:${VIEWER}`);
    const ok = await gcloud(["storage", "cat", `gs://${BUCKET}/reports/q1.csv`], token);
    assert.equal(ok.code, 0, ok.stderr);
    const refused = await gcloud(["storage", "cat", `gs://${BUCKET}/secret.txt`], token);
    assert.notEqual(refused.code, 0);
    // gcloud does not check basic roles with a condition on this path; the server refuses.
    const basic = await gcloud(
      [
        "storage",
        "buckets",
        "add-iam-policy-binding",
        `gs://${BUCKET}`,
        `--member=serviceAccount:${VIEWER}`,
        "--role=roles/owner",
        "--condition=expression=true,title=t",
      ],
      h.adminToken,
    );
    assert.notEqual(basic.code, 0);
    assert.match(basic.stderr, /condition and a basic role/);
  });

  test("a condition that does not compile is refused by the server with its position", async () => {
    const r = await gcloud(
      [
        "projects",
        "add-iam-policy-binding",
        "demo-project",
        `--member=serviceAccount:${READER}`,
        "--role=roles/storage.objectViewer",
        "--condition=expression=resource.name.startsWith(,title=broken",
      ],
      h.adminToken,
    );
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /INVALID_ARGUMENT: .*condition\.expression is invalid: syntax error at line 1, column \d+/,
    );
  });
});
