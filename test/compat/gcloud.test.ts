/**
 * The real `gcloud` (Cloud SDK, Debian package google-cloud-cli) as a client of Warrant's IAM,
 * Resource Manager and Compute APIs, configured only through its documented environment
 * variables — no patches, no shims.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING } from "../support/tools.js";

const run = promisify(execFile);
const skip = GCLOUD ? false : GCLOUD_MISSING;

describe("gcloud against Warrant", { skip }, () => {
  let h: Harness;
  let dir: string;
  let tokenFile: string;
  const SA = "gcloud-made@demo-project.iam.gserviceaccount.com";

  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-gcloud-"));
    tokenFile = join(dir, "token");
    writeFileSync(tokenFile, h.adminToken, { mode: 0o600 });
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gcloud(args: string[], token: string | null = tokenFile, config = join(dir, "config")) {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      CLOUDSDK_CONFIG: config,
      CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
      CLOUDSDK_CORE_CHECK_GCE_METADATA: "false",
      CLOUDSDK_CORE_PROJECT: "demo-project",
      ...(token ? { CLOUDSDK_AUTH_ACCESS_TOKEN_FILE: token } : {}),
      CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: `${h.url}/`,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER: `${h.url}/`,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: `${h.url}/compute/v1/`,
      NO_PROXY: "127.0.0.1,localhost",
      no_proxy: "127.0.0.1,localhost",
    };
    try {
      const { stdout, stderr } = await run(GCLOUD!, args, { env, timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  test("gcloud iam service-accounts create | list | describe", async () => {
    const created = await gcloud([
      "iam",
      "service-accounts",
      "create",
      "gcloud-made",
      "--display-name=Made by gcloud",
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, /Created service account \[gcloud-made\]/);

    const list = await gcloud(["iam", "service-accounts", "list", "--format=json"]);
    assert.equal(list.code, 0, list.stderr);
    const emails = JSON.parse(list.stdout).map((a: { email: string }) => a.email);
    assert.ok(emails.includes(SA), list.stdout);
    assert.ok(emails.includes("demo-sa@demo-project.iam.gserviceaccount.com"));

    const described = await gcloud(["iam", "service-accounts", "describe", SA, "--format=json"]);
    assert.equal(described.code, 0, described.stderr);
    const sa = JSON.parse(described.stdout);
    assert.equal(sa.displayName, "Made by gcloud");
    assert.match(sa.uniqueId, /^\d{21}$/);

    const missing = await gcloud([
      "iam",
      "service-accounts",
      "describe",
      "nobody-here@demo-project.iam.gserviceaccount.com",
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NOT_FOUND: Unknown service account/);
  });

  test("gcloud projects get-iam-policy | add-iam-policy-binding | remove-iam-policy-binding", async () => {
    const member = `serviceAccount:${SA}`;
    const add = await gcloud([
      "projects",
      "add-iam-policy-binding",
      "demo-project",
      `--member=${member}`,
      "--role=roles/storage.objectAdmin",
      "--format=json",
    ]);
    assert.equal(add.code, 0, add.stderr);
    const afterAdd = JSON.parse(add.stdout);
    assert.ok(
      afterAdd.bindings.some(
        (b: { role: string; members: string[] }) =>
          b.role === "roles/storage.objectAdmin" && b.members.includes(member),
      ),
    );

    const get = await gcloud(["projects", "get-iam-policy", "demo-project", "--format=json"]);
    assert.equal(get.code, 0, get.stderr);
    const policy = JSON.parse(get.stdout);
    assert.deepEqual(
      policy.bindings.find((b: { role: string }) => b.role === "roles/storage.objectAdmin").members,
      [member],
    );
    assert.ok(
      policy.bindings.some(
        (b: { role: string; members: string[] }) =>
          b.role === "roles/owner" && b.members.includes("user:admin@warrant.local"),
      ),
    );

    const remove = await gcloud([
      "projects",
      "remove-iam-policy-binding",
      "demo-project",
      `--member=${member}`,
      "--role=roles/storage.objectAdmin",
      "--format=json",
    ]);
    assert.equal(remove.code, 0, remove.stderr);
    const again = JSON.parse(
      (await gcloud(["projects", "get-iam-policy", "demo-project", "--format=json"])).stdout,
    );
    assert.ok(!again.bindings.some((b: { role: string }) => b.role === "roles/storage.objectAdmin"));

    const notThere = await gcloud([
      "projects",
      "remove-iam-policy-binding",
      "demo-project",
      `--member=${member}`,
      "--role=roles/storage.objectAdmin",
    ]);
    assert.equal(notThere.code, 1);
    assert.match(notThere.stderr, /not found/);
  });

  test("gcloud shows a deleted account's binding as deleted:, keeps it on add-iam-policy-binding, and undeletes", async () => {
    const gone = "gcloud-gone@demo-project.iam.gserviceaccount.com";
    assert.equal((await gcloud(["iam", "service-accounts", "create", "gcloud-gone"])).code, 0);
    const uid = JSON.parse(
      (await gcloud(["iam", "service-accounts", "describe", gone, "--format=json"])).stdout,
    ).uniqueId as string;
    const bind = (member: string, role: string) =>
      gcloud([
        "projects",
        "add-iam-policy-binding",
        "demo-project",
        `--member=${member}`,
        `--role=${role}`,
        "--format=json",
      ]);
    assert.equal((await bind(`serviceAccount:${gone}`, "roles/browser")).code, 0);
    assert.equal((await gcloud(["iam", "service-accounts", "delete", gone])).code, 0);

    const browsers = (policy: string) =>
      JSON.parse(policy).bindings.find((b: { role: string }) => b.role === "roles/browser")
        .members as string[];
    const deleted = `deleted:serviceAccount:${gone}?uid=${uid}`;
    const shown = await gcloud(["projects", "get-iam-policy", "demo-project", "--format=json"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(browsers(shown.stdout), [deleted]);
    // gcloud's read-modify-write sends the deleted member back: it is kept.
    const other = await bind("user:gcloud-rmw@example.com", "roles/browser");
    assert.equal(other.code, 0, other.stderr);
    assert.deepEqual(browsers(other.stdout), [deleted, "user:gcloud-rmw@example.com"]);

    const undeleted = await gcloud(["iam", "service-accounts", "undelete", uid, "--format=json"]);
    assert.equal(undeleted.code, 0, undeleted.stderr);
    const restored = await gcloud(["projects", "get-iam-policy", "demo-project", "--format=json"]);
    assert.deepEqual(browsers(restored.stdout), [`serviceAccount:${gone}`, "user:gcloud-rmw@example.com"]);
  });

  test("gcloud compute instances list | describe", async () => {
    const list = await gcloud(["compute", "instances", "list", "--format=json"]);
    assert.equal(list.code, 0, list.stderr);
    const instances = JSON.parse(list.stdout);
    const vm = instances.find((i: { name: string }) => i.name === "demo-vm");
    assert.ok(vm, list.stdout);
    assert.equal(vm.status, "RUNNING");

    const table = await gcloud(["compute", "instances", "list"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /demo-vm\s+us-central1-a\s+e2-medium\s+10\.128\.0\.2\s+RUNNING/);

    const described = await gcloud([
      "compute",
      "instances",
      "describe",
      "demo-vm",
      "--zone=us-central1-a",
      "--format=json",
    ]);
    assert.equal(described.code, 0, described.stderr);
    const d = JSON.parse(described.stdout);
    assert.equal(d.serviceAccounts[0].email, "demo-sa@demo-project.iam.gserviceaccount.com");
    assert.equal(d.hostname, "demo-vm.c.demo-project.internal");
  });

  test("gcloud shows Warrant's 403, naming the permission and the principal", async () => {
    const stranger = join(dir, "stranger-token");
    writeFileSync(stranger, await tokenAs(h, "user:stranger@example.com"), { mode: 0o600 });
    const r = await gcloud(["iam", "service-accounts", "list"], stranger);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /iam\.serviceAccounts\.list/);
    assert.match(r.stderr, /user:stranger@example\.com/);
  });

  test("gcloud with an invalid token is refused", async () => {
    const bad = join(dir, "bad-token");
    writeFileSync(bad, "ya29.not-a-warrant-token", { mode: 0o600 });
    const r = await gcloud(["iam", "service-accounts", "list"], bad);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /401|Invalid Credentials|invalid authentication credentials/i);
  });

  test("gcloud auth activate-service-account with a Warrant key file, then print-access-token", async () => {
    const sa = "demo-sa@demo-project.iam.gserviceaccount.com";
    const r = await h.call("POST", `/v1/projects/-/serviceAccounts/${sa}/keys`, { body: {} });
    const keyPath = join(dir, "demo-sa.json");
    writeFileSync(keyPath, Buffer.from(r.body.privateKeyData, "base64"), { mode: 0o600 });
    const config = join(dir, "sa-config");
    const activated = await gcloud(
      ["auth", "activate-service-account", `--key-file=${keyPath}`],
      null,
      config,
    );
    assert.equal(activated.code, 0, activated.stderr);
    assert.match(
      activated.stderr,
      /Activated service account credentials for: \[demo-sa@demo-project\.iam\.gserviceaccount\.com\]/,
    );
    const printed = await gcloud(["auth", "print-access-token"], null, config);
    assert.equal(printed.code, 0, printed.stderr);
    const token = printed.stdout.trim();
    const info = (await (await fetch(`${h.url}/tokeninfo?access_token=${token}`)).json()) as Record<
      string,
      string
    >;
    assert.equal(info.email, sa, "the printed token is a Warrant token for the account");
    // And gcloud uses it: demo-sa holds roles/compute.viewer.
    const list = await gcloud(["compute", "instances", "list", "--format=value(name)"], null, config);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /demo-vm/);
  });
});
