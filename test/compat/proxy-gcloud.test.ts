/**
 * The real gcloud with an authorized_user credential and NO endpoint overrides: it talks to
 * oauth2.googleapis.com, cloudresourcemanager.googleapis.com, compute.googleapis.com and
 * storage.googleapis.com, and `serve --proxy` makes each of those Warrant. The environment is what
 * `warrant env --proxy` prints, plus the credential file and project.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING } from "../support/tools.js";

const run = promisify(execFile);
const skip = GCLOUD ? false : GCLOUD_MISSING;

describe("gcloud through Warrant's HTTPS interception proxy", { skip }, () => {
  let h: Harness;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    h = await startHarness({ proxyPort: 0 });
    dir = mkdtempSync(join(tmpdir(), "warrant-proxy-gcloud-"));
    assert.equal(
      (await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: "gcloud-via-proxy" } }))
        .status,
      200,
    );
    const r = await runCli(["env", "--proxy"], { env: { WARRANT_STATE_DIR: h.stateDir } });
    const proxyEnv = Object.fromEntries(
      [...r.stdout.matchAll(/^export ([A-Za-z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      ...proxyEnv,
      CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE: h.server.adminCredentialFile,
      CLOUDSDK_CORE_PROJECT: "demo-project",
      CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
      // No metadata server here: make gcloud's GCE check fail fast on a closed local port.
      GCE_METADATA_ROOT: "127.0.0.1:9",
      GCE_METADATA_IP: "127.0.0.1:9",
    };
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gcloud(args: string[]) {
    const { stdout } = await run(GCLOUD!, args, {
      env: { ...env, CLOUDSDK_CONFIG: mkdtempSync(join(dir, "config-")) },
      timeout: 90_000,
    });
    return stdout.trim();
  }

  test("projects describe, compute instances list and storage ls reach Warrant at Google's hosts", async () => {
    assert.equal(
      await gcloud(["projects", "describe", "demo-project", "--format=value(projectId)"]),
      "demo-project",
    );
    assert.match(await gcloud(["compute", "instances", "list", "--format=value(name)"]), /^demo-vm$/m);
    assert.match(await gcloud(["storage", "ls"]), /^gs:\/\/gcloud-via-proxy\/$/m);
    const stats = h.server.proxyStats!().intercepted;
    for (const host of [
      "oauth2.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "compute.googleapis.com",
      "storage.googleapis.com",
    ])
      assert.ok((stats[host] ?? 0) >= 1, `${host}: ${JSON.stringify(stats)}`);
  });

  test("application-default revoke of a credential the server already revoked: gcloud exits 0 and removes its file", async () => {
    // gcloud posts to https://oauth2.googleapis.com/revoke whatever its token host says, and catches
    // only its own RevokeError there: a 400 for an unknown token used to crash it (RFC 7009: 200).
    const email = "rhea@example.com";
    assert.equal((await h.call("POST", "/warrant/v1/users", { body: { email } })).status, 200);
    const issued = await h.call("POST", `/warrant/v1/users/${email}:issueCredential`, { body: {} });
    assert.equal(issued.status, 200, issued.text);
    const first = await fetch(`${h.url}/revoke?token=${encodeURIComponent(issued.body.refresh_token)}`, {
      method: "POST",
    });
    assert.equal(first.status, 200);
    const config = mkdtempSync(join(dir, "config-"));
    mkdirSync(config, { recursive: true });
    const adc = join(config, "application_default_credentials.json");
    writeFileSync(adc, JSON.stringify(issued.body));
    const revokesBefore = h.server.proxyStats!().intercepted["oauth2.googleapis.com"] ?? 0;
    const { CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE: _override, ...adcEnv } = env;
    const r = await run(GCLOUD!, ["auth", "application-default", "revoke", "--quiet"], {
      env: { ...adcEnv, CLOUDSDK_CONFIG: config },
      timeout: 90_000,
    }).then(
      () => ({ code: 0, stderr: "" }),
      (err: { code?: number; stderr?: string }) => ({ code: err.code ?? -1, stderr: String(err.stderr) }),
    );
    assert.equal(r.code, 0, `gcloud failed: ${r.stderr}`);
    assert.ok(!existsSync(adc), "gcloud removed the credential file");
    assert.ok(
      (h.server.proxyStats!().intercepted["oauth2.googleapis.com"] ?? 0) > revokesBefore,
      "the revoke reached Warrant through the proxy",
    );
  });
});
