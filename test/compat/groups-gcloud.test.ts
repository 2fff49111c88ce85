/**
 * Groups with the real gcloud: `gcloud projects add-iam-policy-binding --member=group:sre@…` grants
 * roles/compute.instanceAdmin.v1 to a group that nests another; a member of the nested group stops
 * and starts an instance with `gcloud compute instances stop|start`; once removed from the group
 * (`warrant groups remove-member`), the next `gcloud compute instances stop` is refused.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING, gcloudEnv } from "../support/tools.js";

const run = promisify(execFile);
const skip = GCLOUD ? false : GCLOUD_MISSING;
const ZONE = "us-central1-a";

describe("group: members with the real gcloud", { skip }, () => {
  let h: Harness;
  let dir: string;
  let n = 0;
  const warrant = (...argv: string[]) =>
    runCli(argv, {
      env: {
        WARRANT_ENDPOINT: h.url,
        WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
        WARRANT_CONFIG_DIR: join(dir, "warrant-config"),
      },
    });

  before(async () => {
    h = await startHarness({ agents: false });
    dir = mkdtempSync(join(tmpdir(), "warrant-gcloud-groups-"));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gcloud(args: string[], token: string) {
    const tokenFile = join(dir, `token-${++n}`);
    writeFileSync(tokenFile, token, { mode: 0o600 });
    try {
      const { stdout, stderr } = await run(GCLOUD!, args, {
        env: gcloudEnv({
          home: dir,
          config: join(dir, `config-${n}`),
          project: "demo-project",
          tokenFile: tokenFile,
          endpoints: { cloudresourcemanager: `${h.url}/`, compute: `${h.url}/compute/v1/` },
        }),
        timeout: 90_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  test("a nested member stops an instance; removed from the group, it is refused on the next call", async () => {
    assert.equal((await warrant("groups", "create", "sre@example.com")).code, 0);
    assert.equal((await warrant("groups", "create", "oncall@example.com")).code, 0);
    assert.equal(
      (await warrant("groups", "add-member", "sre@example.com", "--member=group:oncall@example.com")).code,
      0,
    );
    assert.equal(
      (await warrant("groups", "add-member", "oncall@example.com", "--member=user:nina@example.com")).code,
      0,
    );
    const bind = await gcloud(
      [
        "projects",
        "add-iam-policy-binding",
        "demo-project",
        "--member=group:sre@example.com",
        "--role=roles/compute.instanceAdmin.v1",
      ],
      h.adminToken,
    );
    assert.equal(bind.code, 0, bind.stderr);

    const nina = await tokenAs(h, "user:nina@example.com");
    const stop = await gcloud(["compute", "instances", "stop", "demo-vm", `--zone=${ZONE}`], nina);
    assert.equal(stop.code, 0, stop.stderr);
    const r = await h.call("GET", `/compute/v1/projects/demo-project/zones/${ZONE}/instances/demo-vm`);
    assert.equal(r.body.status, "TERMINATED");
    const start = await gcloud(["compute", "instances", "start", "demo-vm", `--zone=${ZONE}`], nina);
    assert.equal(start.code, 0, start.stderr);

    const rm = await warrant(
      "groups",
      "remove-member",
      "oncall@example.com",
      "--member=user:nina@example.com",
    );
    assert.equal(rm.code, 0, rm.stderr);
    const refused = await gcloud(["compute", "instances", "stop", "demo-vm", `--zone=${ZONE}`], nina);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Required 'compute\.instances\.stop' permission/);
    const still = await h.call("GET", `/compute/v1/projects/demo-project/zones/${ZONE}/instances/demo-vm`);
    assert.equal(still.body.status, "RUNNING");
  });
});
