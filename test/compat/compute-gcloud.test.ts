/**
 * Managing instances from an instance, with the real gcloud (Debian google-cloud-cli): pointed at an
 * instance's metadata server and at Warrant's Compute endpoint only through environment variables
 * (no login, no key or token file, no project property), `gcloud compute instances list|stop|start`
 * work as far as the instance's service account and scopes allow, and fail with Compute's own 403
 * otherwise.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type Harness, startHarness } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING } from "../support/tools.js";

const run = promisify(execFile);
const skip = GCLOUD ? false : GCLOUD_MISSING;
const ZONE = "us-central1-a";
const BASE = `/compute/v1/projects/demo-project/zones/${ZONE}/instances`;
const OPS_SA = "ops-sa@demo-project.iam.gserviceaccount.com";
const SCOPE = "https://www.googleapis.com/auth/";

interface AuditEntry {
  kind: string;
  principal?: string;
  method?: string;
  path?: string;
  status?: number;
  checks?: { permission: string; resource: string; allowed: boolean }[];
}

describe("gcloud compute instances on a Warrant instance", { skip }, () => {
  let h: Harness;
  let dir: string;
  let defaultSa: string;

  async function createInstance(name: string, email?: string, scopes: string[] = []) {
    const body = email ? { name, serviceAccounts: [{ email, scopes }] } : { name };
    const r = await h.call("POST", BASE, { body });
    assert.equal(r.status, 200, r.text);
  }

  async function statusOf(name: string): Promise<string> {
    const r = await h.call("GET", `${BASE}/${name}`);
    assert.equal(r.status, 200, r.text);
    return r.body.status;
  }

  function auditLog(): AuditEntry[] {
    return readFileSync(join(h.stateDir, "audit.log"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEntry);
  }

  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-compute-gcloud-"));
    const sa = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "ops-sa", serviceAccount: { displayName: "Operations" } },
    });
    assert.equal(sa.status, 200, sa.text);
    // Grant ops-sa roles/compute.instanceAdmin.v1 on the project: read-modify-write with the etag.
    const policy = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    assert.ok(policy.etag, "getIamPolicy returns an etag");
    policy.bindings.push({ role: "roles/compute.instanceAdmin.v1", members: [`serviceAccount:${OPS_SA}`] });
    const set = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy } });
    assert.equal(set.status, 200, set.text);

    const number = (await h.call("GET", "/v1/projects/demo-project")).body.projectNumber;
    defaultSa = `${number}-compute@developer.gserviceaccount.com`;
    await createInstance("ops-vm", OPS_SA, [`${SCOPE}compute`]);
    await createInstance("ops-readonly-vm", OPS_SA, [`${SCOPE}compute.readonly`]);
    await createInstance("plain-vm", "default", [`${SCOPE}cloud-platform`]);
    await createInstance("target-a");
    await createInstance("target-b");
    // serve's agent supervisor starts a metadata server per new instance when the change feed wakes it.
    const wanted = ["ops-vm", "ops-readonly-vm", "plain-vm"].map((n) => `${BASE.slice(12)}/${n}`);
    for (let i = 0; i < 200 && !wanted.every((w) => h.server.metadataServers()[w]); i++)
      await new Promise((r) => setTimeout(r, 50));
    for (const w of wanted) assert.ok(h.server.metadataServers()[w], `no metadata server for ${w}`);
  });
  after(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** gcloud as `instance`: only its metadata server, a fresh config and the Compute endpoint override. */
  async function gcloudAs(instance: string, args: string[], extra: NodeJS.ProcessEnv = {}) {
    const mds = h.server.metadataServers()[`projects/demo-project/zones/${ZONE}/instances/${instance}`];
    assert.ok(mds, `metadata server of ${instance}`);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      CLOUDSDK_CONFIG: mkdtempSync(join(dir, "config-")),
      GCE_METADATA_ROOT: mds,
      GCE_METADATA_HOST: mds,
      GCE_METADATA_IP: mds,
      CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
      CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: `${h.url}/compute/v1/`,
      NO_PROXY: "127.0.0.0/8,localhost",
      no_proxy: "127.0.0.0/8,localhost",
      ...extra,
    };
    try {
      const { stdout, stderr } = await run(GCLOUD!, args, { env, timeout: 90_000, killSignal: "SIGKILL" });
      return { code: 0 as number | string, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; signal?: string; stdout?: string; stderr?: string };
      return {
        code: e.code ?? (e.signal ? `killed by ${e.signal}` : 1),
        stdout: e.stdout ?? "",
        stderr: e.stderr ?? "",
      };
    }
  }

  const rows = (stdout: string) =>
    stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(/\s+/));

  test("list shows the project's instances, as the instance's service account", {
    timeout: 120_000,
  }, async () => {
    const from = auditLog().length;
    const r = await gcloudAs("ops-vm", ["compute", "instances", "list", "--format=value(name,status)"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(rows(r.stdout).sort(), [
      ["demo-vm", "RUNNING"],
      ["ops-readonly-vm", "RUNNING"],
      ["ops-vm", "RUNNING"],
      ["plain-vm", "RUNNING"],
      ["target-a", "RUNNING"],
      ["target-b", "RUNNING"],
    ]);
    const listed = auditLog()
      .slice(from)
      .find(
        (e) => e.kind === "request" && e.path === "/compute/v1/projects/demo-project/aggregated/instances",
      );
    assert.ok(listed, "gcloud asked for the aggregated list");
    assert.equal(listed.principal, `serviceAccount:${OPS_SA}`);
    assert.equal(listed.status, 200);
  });

  test("stop, then start, change the instance's status", { timeout: 120_000 }, async () => {
    const from = auditLog().length;
    const stop = await gcloudAs("ops-vm", ["compute", "instances", "stop", "target-a", `--zone=${ZONE}`]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stderr, new RegExp(`Updated \\[${h.url}${BASE}/target-a\\]`));
    assert.equal(await statusOf("target-a"), "TERMINATED");
    const listed = await gcloudAs("ops-vm", ["compute", "instances", "list", "--format=value(name,status)"]);
    assert.ok(
      rows(listed.stdout).some(([n, s]) => n === "target-a" && s === "TERMINATED"),
      listed.stdout,
    );

    const start = await gcloudAs("ops-vm", ["compute", "instances", "start", "target-a", `--zone=${ZONE}`]);
    assert.equal(start.code, 0, start.stderr);
    assert.equal(await statusOf("target-a"), "RUNNING");

    // What gcloud asked for: the call, then the operation's `wait`, both as ops-sa.
    const calls = auditLog()
      .slice(from)
      .filter((e) => e.kind === "request" && e.path?.startsWith("/compute/"))
      .map((e) => `${e.method} ${e.path} ${e.status} ${e.principal}`);
    const who = `serviceAccount:${OPS_SA}`;
    assert.ok(calls.includes(`POST ${BASE}/target-a/stop 200 ${who}`), calls.join("\n"));
    assert.ok(calls.includes(`POST ${BASE}/target-a/start 200 ${who}`), calls.join("\n"));
    assert.ok(
      calls.some((c) =>
        /^POST \/compute\/v1\/projects\/demo-project\/zones\/us-central1-a\/operations\/[^/]+\/wait 200 /.test(
          c,
        ),
      ),
      calls.join("\n"),
    );
  });

  test("stopping two instances at once goes through the batch endpoint", { timeout: 120_000 }, async () => {
    const from = auditLog().length;
    const stop = await gcloudAs("ops-vm", [
      "compute",
      "instances",
      "stop",
      "target-a",
      "target-b",
      `--zone=${ZONE}`,
    ]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(await statusOf("target-a"), "TERMINATED");
    assert.equal(await statusOf("target-b"), "TERMINATED");
    const batches = auditLog()
      .slice(from)
      .filter((e) => e.kind === "request" && e.path === "/batch/compute/v1");
    assert.ok(batches.length >= 1, "gcloud sent a batch request");
    const checked = batches.flatMap((b) => b.checks ?? []);
    for (const name of ["target-a", "target-b"])
      assert.ok(
        checked.some(
          (c) =>
            c.permission === "compute.instances.stop" &&
            c.resource.endsWith(`/instances/${name}`) &&
            c.allowed,
        ),
        JSON.stringify(checked),
      );

    const start = await gcloudAs("ops-vm", [
      "compute",
      "instances",
      "start",
      "target-a",
      "target-b",
      `--zone=${ZONE}`,
    ]);
    assert.equal(start.code, 0, start.stderr);
    assert.equal(await statusOf("target-a"), "RUNNING");
    assert.equal(await statusOf("target-b"), "RUNNING");
  });

  test("without the role, gcloud gets Compute's 403 naming the permission", {
    timeout: 120_000,
  }, async () => {
    // plain-vm runs as the project's default compute account, which holds no role in Warrant.
    const list = await gcloudAs("plain-vm", ["compute", "instances", "list", "--format=value(name)"]);
    assert.match(list.stderr, /Required 'compute\.instances\.list' permission for 'projects\/demo-project'/);
    assert.ok(
      list.stderr.includes(`serviceAccount:${defaultSa} does not have compute.instances.list`),
      list.stderr,
    );
    assert.equal(list.stdout.trim(), "", "nothing listed");
    // gcloud only warns about a failed aggregated list unless compute/allow_partial_error is off.
    const strict = await gcloudAs("plain-vm", ["compute", "instances", "list"], {
      CLOUDSDK_COMPUTE_ALLOW_PARTIAL_ERROR: "false",
    });
    assert.notEqual(strict.code, 0);
    assert.match(
      strict.stderr,
      /ERROR: \(gcloud\.compute\.instances\.list\) Some requests did not succeed:\n - Required 'compute\.instances\.list' permission for 'projects\/demo-project'/,
    );

    // gcloud prefixes error.status when the body has one (Warrant's do; Google's Compute errors do not,
    // so against Google it reads "HTTPError 403").
    const stop = await gcloudAs("plain-vm", ["compute", "instances", "stop", "target-a", `--zone=${ZONE}`]);
    assert.notEqual(stop.code, 0);
    assert.match(
      stop.stderr,
      new RegExp(
        `ERROR: \\(gcloud\\.compute\\.instances\\.stop\\) (?:PERMISSION_DENIED|HTTPError 403): Required 'compute\\.instances\\.stop' permission for 'projects/demo-project/zones/${ZONE}/instances/target-a'`,
      ),
    );
    assert.equal(await statusOf("target-a"), "RUNNING", "nothing was stopped");
  });

  test("with only the compute.readonly scope, list works and stop fails on scopes", {
    timeout: 120_000,
  }, async () => {
    const list = await gcloudAs("ops-readonly-vm", ["compute", "instances", "list", "--format=value(name)"]);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(list.stdout.split("\n").includes("target-b"), list.stdout);

    const stop = await gcloudAs("ops-readonly-vm", [
      "compute",
      "instances",
      "stop",
      "target-b",
      `--zone=${ZONE}`,
    ]);
    assert.notEqual(stop.code, 0);
    assert.match(stop.stderr, /Request had insufficient authentication scopes\./);
    assert.match(
      stop.stderr,
      /compute\.instances\.stop needs one of: .*auth\/compute, .*auth\/cloud-platform/,
    );
    assert.match(stop.stderr, /the token has: https:\/\/www\.googleapis\.com\/auth\/compute\.readonly/);
    assert.equal(await statusOf("target-b"), "RUNNING", "nothing was stopped");
  });
});
