/**
 * The seed's payoff with the real gcloud: on an instance (its metadata server, no login),
 * `gcloud storage ls` lists the project's buckets; an instance with a read-only scope lists them
 * too but cannot create one, and gets Google's insufficient-scopes error.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type Harness, startHarness } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING } from "../support/tools.js";

const run = promisify(execFile);
const skip = GCLOUD ? false : GCLOUD_MISSING;
const SA = "demo-sa@demo-project.iam.gserviceaccount.com";

describe("gcloud storage on an instance", { skip }, () => {
  let h: Harness;
  let dir: string;
  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-gcs-"));
    for (const name of ["demo-bucket", "logs-bucket"])
      assert.equal(
        (await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name } })).status,
        200,
      );
    const ro = await h.call("POST", "/compute/v1/projects/demo-project/zones/us-central1-a/instances", {
      body: {
        name: "reader-vm",
        serviceAccounts: [{ email: SA, scopes: ["https://www.googleapis.com/auth/devstorage.read_only"] }],
      },
    });
    assert.equal(ro.status, 200, ro.text);
    for (
      let i = 0;
      i < 100 && !h.server.metadataServers()["projects/demo-project/zones/us-central1-a/instances/reader-vm"];
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gcloudAs(instance: string, args: string[]) {
    const mds = h.server.metadataServers()[`projects/demo-project/zones/us-central1-a/instances/${instance}`];
    assert.ok(mds, `metadata server of ${instance}`);
    const config = mkdtempSync(join(dir, "config-"));
    try {
      const { stdout, stderr } = await run(GCLOUD!, args, {
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          CLOUDSDK_CONFIG: config,
          GCE_METADATA_ROOT: mds,
          GCE_METADATA_HOST: mds,
          GCE_METADATA_IP: mds,
          CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
          CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
          CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
          CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE: `${h.url}/`,
          NO_PROXY: "127.0.0.0/8,localhost",
          no_proxy: "127.0.0.0/8,localhost",
        },
        timeout: 90_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  test("gcloud storage ls lists the project's buckets as the instance's service account", async () => {
    const r = await gcloudAs("demo-vm", ["storage", "ls"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n").sort(), ["gs://demo-bucket/", "gs://logs-bucket/"]);
    const list = await gcloudAs("demo-vm", ["storage", "buckets", "list", "--format=value(name)"]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.stdout.trim().split("\n").sort(), ["demo-bucket", "logs-bucket"]);
  });

  test("a read-only instance lists but cannot create: Google's insufficient-scopes error", async () => {
    const ls = await gcloudAs("reader-vm", ["storage", "ls"]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /gs:\/\/demo-bucket\//);
    const mk = await gcloudAs("reader-vm", ["storage", "buckets", "create", "gs://not-allowed-bucket"]);
    assert.notEqual(mk.code, 0);
    assert.match(mk.stderr, /insufficient authentication scopes/);
    assert.equal(
      (await h.call("GET", "/storage/v1/b/not-allowed-bucket")).status,
      404,
      "nothing was created",
    );
  });
});
