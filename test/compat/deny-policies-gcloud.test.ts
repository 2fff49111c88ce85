/**
 * IAM v2 deny policies with the real gcloud: `gcloud iam policies create|get|list|delete` against
 * Warrant (the attachment point travels double-encoded in the path), and the policy's effect: an
 * owner is refused deleting a bucket, the 403 naming the deny policy, while the excepted account
 * deletes one.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING, gcloudEnv, runGcloud } from "../support/tools.js";

const skip = GCLOUD ? false : GCLOUD_MISSING;
const AP = "cloudresourcemanager.googleapis.com/projects/demo-project";
const JANITOR = "janitor@demo-project.iam.gserviceaccount.com";

describe("deny policies driven by the real gcloud", { skip }, () => {
  let h: Harness;
  let dir: string;
  let n = 0;

  before(async () => {
    h = await startHarness({ agents: false });
    dir = mkdtempSync(join(tmpdir(), "warrant-gcloud-deny-"));
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project/serviceAccounts", { body: { accountId: "janitor" } }))
        .status,
      200,
    );
    // Managing deny policies needs roles/iam.denyAdmin (an owner has no iam.denypolicies.*, as on Google);
    // the janitor may delete buckets through the allow policy.
    const p = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    p.bindings.push({ role: "roles/iam.denyAdmin", members: ["user:admin@warrant.local"] });
    p.bindings.push({ role: "roles/storage.admin", members: [`serviceAccount:${JANITOR}`] });
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } })).status,
      200,
    );
    for (const name of ["deny-doomed-1", "deny-doomed-2"])
      assert.equal(
        (await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name } })).status,
        200,
      );
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gcloud(args: string[], token = h.adminToken) {
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

  test("gcloud iam policies create | get | list; the owner is refused bucket deletion, the excepted account deletes", async () => {
    const file = join(dir, "deny.json");
    writeFileSync(
      file,
      JSON.stringify({
        displayName: "No bucket deletion",
        rules: [
          {
            description: "only the janitor deletes buckets",
            denyRule: {
              deniedPrincipals: ["principalSet://goog/public:all"],
              exceptionPrincipals: [`principal://iam.googleapis.com/projects/-/serviceAccounts/${JANITOR}`],
              deniedPermissions: ["storage.googleapis.com/buckets.delete"],
            },
          },
        ],
      }),
    );
    const created = await gcloud([
      "iam",
      "policies",
      "create",
      "no-bucket-deletion",
      `--attachment-point=${AP}`,
      "--kind=denypolicies",
      `--policy-file=${file}`,
      "--format=json",
    ]);
    assert.equal(created.code, 0, created.stderr);
    const op = JSON.parse(created.stdout);
    assert.equal(op.done, true);
    assert.match(
      op.name,
      /^policies\/cloudresourcemanager\.googleapis\.com%2Fprojects%2F\d+\/denypolicies\/no-bucket-deletion\/operations\//,
    );

    const got = await gcloud([
      "iam",
      "policies",
      "get",
      "no-bucket-deletion",
      `--attachment-point=${AP}`,
      "--kind=denypolicies",
      "--format=json",
    ]);
    assert.equal(got.code, 0, got.stderr);
    const policy = JSON.parse(got.stdout);
    assert.equal(policy.kind, "DenyPolicy");
    assert.equal(policy.displayName, "No bucket deletion");
    assert.deepEqual(policy.rules[0].denyRule.deniedPermissions, ["storage.googleapis.com/buckets.delete"]);

    const listed = await gcloud([
      "iam",
      "policies",
      "list",
      `--attachment-point=${AP}`,
      "--kind=denypolicies",
      "--format=json",
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /no-bucket-deletion/);
    assert.doesNotMatch(listed.stdout, /deniedPermissions/, "a list carries metadata, not rules");

    // The owner is refused, by the deny policy, named in the 403.
    const refused = await gcloud(["storage", "buckets", "delete", "gs://deny-doomed-1"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /does not have storage\.buckets\.delete access/);
    const direct = await h.call("DELETE", "/storage/v1/b/deny-doomed-1");
    assert.equal(direct.status, 403);
    assert.match(
      direct.body.error.message,
      /denied storage\.googleapis\.com\/buckets\.delete by deny policy policies\/cloudresourcemanager\.googleapis\.com%2Fprojects%2F\d+\/denypolicies\/no-bucket-deletion \("No bucket deletion"\) attached to projects\/demo-project, rule 0/,
    );
    assert.match(direct.body.error.message, /the allow policies would grant it: roles\/owner/);
    assert.equal((await h.call("GET", "/storage/v1/b/deny-doomed-1")).status, 200, "still there");

    // The excepted account deletes one with gcloud.
    const janitor = await tokenAs(h, `serviceAccount:${JANITOR}`);
    const deleted = await gcloud(["storage", "buckets", "delete", "gs://deny-doomed-2"], janitor);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal((await h.call("GET", "/storage/v1/b/deny-doomed-2")).status, 404);
  });

  test("gcloud iam policies update with the etag it read; a stale etag is refused", async () => {
    const got = await gcloud([
      "iam",
      "policies",
      "get",
      "no-bucket-deletion",
      `--attachment-point=${AP}`,
      "--kind=denypolicies",
      "--format=json",
    ]);
    assert.equal(got.code, 0, got.stderr);
    const policy = JSON.parse(got.stdout);
    policy.displayName = "No bucket deletion (v2)";
    const file = join(dir, "deny-update.json");
    writeFileSync(file, JSON.stringify(policy));
    const upd = await gcloud([
      "iam",
      "policies",
      "update",
      "no-bucket-deletion",
      `--attachment-point=${AP}`,
      "--kind=denypolicies",
      `--policy-file=${file}`,
      "--format=json",
    ]);
    assert.equal(upd.code, 0, upd.stderr);
    assert.equal(JSON.parse(upd.stdout).response.displayName, "No bucket deletion (v2)");
    // The file still carries the old etag: a second update with it conflicts.
    const stale = await gcloud([
      "iam",
      "policies",
      "update",
      "no-bucket-deletion",
      `--attachment-point=${AP}`,
      "--kind=denypolicies",
      `--policy-file=${file}`,
    ]);
    assert.notEqual(stale.code, 0);
    assert.match(stale.stderr, /ABORTED|conflict/i);
  });

  test("gcloud iam policies delete removes the deny: the owner deletes again", async () => {
    const del = await gcloud([
      "iam",
      "policies",
      "delete",
      "no-bucket-deletion",
      `--attachment-point=${AP}`,
      "--kind=denypolicies",
      "--format=json",
    ]);
    assert.equal(del.code, 0, del.stderr);
    assert.ok(JSON.parse(del.stdout).response.deleteTime);
    const missing = await gcloud([
      "iam",
      "policies",
      "get",
      "no-bucket-deletion",
      `--attachment-point=${AP}`,
      "--kind=denypolicies",
    ]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /NOT_FOUND/);
    assert.equal((await h.call("DELETE", "/storage/v1/b/deny-doomed-1")).status, 204);
  });
});
