/**
 * The real `gcloud logging read` against Warrant's audit log (`POST /v2/entries:list`, pointed here
 * by CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING): gcloud adds its own `timestamp>=` clause and wraps
 * each clause in parentheses; a denied call is found by its request id and its result, newest first.
 * (gcloud's pages are of min(--limit, 1000) entries: paging is tested over HTTP in test/api/logging-entries.)
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING, gcloudEnv, runGcloud } from "../support/tools.js";

const DENIED_ID = "gcloud-logging-denied-1";

describe("gcloud logging read against Warrant", { skip: GCLOUD ? false : GCLOUD_MISSING }, () => {
  let h: Harness;
  let dir: string;
  let n = 0;

  before(async () => {
    h = await startHarness({ agents: false });
    dir = mkdtempSync(join(tmpdir(), "warrant-gcloud-logging-"));
    const bob = await tokenAs(h, "user:bob@example.com");
    const denied = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", {
      token: bob,
      body: { policy: { bindings: [] } },
      headers: { "x-request-id": DENIED_ID },
    });
    assert.equal(denied.status, 403, denied.text);
    for (let i = 0; i < 3; i++)
      assert.equal((await h.call("GET", "/v1/projects/demo-project/serviceAccounts")).status, 200);
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gcloud(args: string[]) {
    const tokenFile = join(dir, `token-${++n}`);
    writeFileSync(tokenFile, h.adminToken, { mode: 0o600 });
    const env: NodeJS.ProcessEnv = gcloudEnv({
      home: dir,
      config: join(dir, `config-${n}`),
      project: "demo-project",
      tokenFile,
      endpoints: { logging: `${h.url}/` },
    });
    return runGcloud(args, env);
  }

  test("a denied call, found by its request id and by its result", async () => {
    const byId = await gcloud([
      "logging",
      "read",
      `operation.id="${DENIED_ID}"`,
      "--project=demo-project",
      "--format=json",
    ]);
    assert.equal(byId.code, 0, byId.stderr);
    const found = JSON.parse(byId.stdout);
    assert.equal(found.length, 1, byId.stdout);
    assert.equal(found[0].protoPayload.authenticationInfo.principalEmail, "bob@example.com");
    assert.equal(
      found[0].protoPayload.authorizationInfo[0].permission,
      "resourcemanager.projects.setIamPolicy",
    );
    assert.equal(found[0].protoPayload.authorizationInfo[0].granted, false);
    assert.equal(found[0].logName, "projects/demo-project/logs/cloudaudit.googleapis.com%2Factivity");

    const refused = await gcloud([
      "logging",
      "read",
      "protoPayload.authorizationInfo.granted=false AND severity>=ERROR",
      "--project=demo-project",
      "--freshness=1h",
      "--format=value(operation.id)",
    ]);
    assert.equal(refused.code, 0, refused.stderr);
    assert.equal(refused.stdout.trim(), DENIED_ID);
  });

  test("newest first, --limit (gcloud asks for pages of that size); a bad filter is gcloud's error", async () => {
    const listed = await gcloud([
      "logging",
      "read",
      'protoPayload.authorizationInfo.permission="iam.serviceAccounts.list"',
      "--project=demo-project",
      "--limit=3",
      "--format=json",
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    const three = JSON.parse(listed.stdout);
    assert.equal(three.length, 3);
    const times = three.map((e: { timestamp: string }) => e.timestamp);
    assert.deepEqual(times, [...times].sort().reverse(), "newest first");
    assert.equal(new Set(three.map((e: { insertId: string }) => e.insertId)).size, 3);

    const bad = await gcloud(["logging", "read", 'textPayload:"x"', "--project=demo-project"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Unsupported field 'textPayload'/);
  });
});
