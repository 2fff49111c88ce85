/**
 * The console's must-show flow, end to end in real Chromium and the real gcloud. The admin signs in
 * with a password and, through the console only: creates a service account (Service accounts page),
 * grants it roles/storage.objectAdmin on the project (IAM page), creates a bucket and uploads a
 * 4 MiB file whose progress bar is seen moving (Storage page; the network is throttled so the test
 * can watch it), and creates an instance running as the account (Instances page). Then, on that
 * instance — `warrant env --instance` pointing gcloud at its metadata server, no login — the real
 * gcloud lists the bucket's object the console uploaded, byte-identical by its MD5.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { Browser } from "playwright-core";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import { eventually } from "../support/poll.js";
import { GCLOUD, GCLOUD_MISSING } from "../support/tools.js";
import { ARTIFACTS } from "./browser.js";
import {
  assertMoving,
  checkPage,
  chromiumMissing,
  launch,
  sampleProgress,
  signedIn,
  type UserBrowser,
} from "./fleet-support.js";

const run = promisify(execFile);
const P = "demo-project";
const ACCOUNT = "fleet-runner";
const SA = `${ACCOUNT}@${P}.iam.gserviceaccount.com`;
const BUCKET = "fleet-console-bucket";
const OBJECT = "releases/app-1.0.tar";
const VM = "fleet-vm";
const ZONE = "us-central1-b";
const MiB = 1024 * 1024;

const skip = chromiumMissing() ?? (GCLOUD ? false : GCLOUD_MISSING);

/** `export K=V` lines of `warrant env` (values possibly single-quoted) → an environment. */
function exportsOf(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if (v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1).replace(/'\\''/g, "'");
    env[m[1]!] = v;
  }
  return env;
}

describe("console fleet flow: account, grant, bucket and upload, instance — then gcloud on the instance", {
  skip,
}, () => {
  let h: Harness;
  let browser: Browser;
  let admin: UserBrowser;
  let dir: string;
  const data = randomBytes(4 * MiB + 4321);
  const md5 = createHash("md5").update(data).digest("base64");

  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-fleet-"));
    browser = await launch();
    admin = await signedIn(h, browser, "admin@warrant.local");
  });
  after(async () => {
    await browser?.close();
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("1. create the service account on the Service accounts page", async () => {
    const { page } = admin;
    await page.goto(`/console/service-accounts?project=${P}`);
    await page.getByLabel(/Account id/).fill(ACCOUNT);
    await page.getByLabel("Display name").fill("Fleet runner");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Created ${SA}` })
      .waitFor();
    const sa = await h.call("GET", `/v1/projects/${P}/serviceAccounts/${SA}`);
    assert.equal(sa.status, 200, sa.text);
    assert.equal(sa.body.displayName, "Fleet runner");
  });

  test("2. grant it roles/storage.objectAdmin on the project on the IAM page", async () => {
    const { page } = admin;
    await page.goto(`/console/iam?project=${P}`);
    await page.getByTestId("policy").waitFor();
    await page.getByLabel(/^Principal/).fill(`serviceAccount:${SA}`);
    await page.getByLabel(/^Role/).fill("storage.objectAdmin");
    await page.locator("button[data-role='roles/storage.objectAdmin']").click();
    await page.getByTestId("role-details").waitFor();
    await page.getByRole("button", { name: /^Grant roles\/storage\.objectAdmin/ }).click();
    await page
      .getByRole("status")
      .filter({ hasText: /roles\/storage\.objectAdmin/ })
      .waitFor();
    await eventually(
      "the project's policy binds the account to roles/storage.objectAdmin",
      async () => (await h.call("POST", `/v1/projects/${P}:getIamPolicy`, { body: {} })).body,
      (policy) =>
        policy.bindings.some(
          (x: { role: string; members: string[] }) =>
            x.role === "roles/storage.objectAdmin" && x.members.includes(`serviceAccount:${SA}`),
        ),
    );
  });

  test("3. create a bucket and upload 4 MiB on the Storage page: the progress bar moves", async () => {
    const { page } = admin;
    await page.goto(`/console/storage?project=${P}`);
    await page.getByLabel(/Bucket name/).fill(BUCKET);
    await page.getByRole("button", { name: "Create bucket" }).click();
    await page.getByTestId("bucket-row").getByRole("link", { name: BUCKET }).click();
    await page.getByText("This bucket is empty").waitFor();
    await page.getByLabel("File", { exact: true }).setInputFiles({
      name: "app-1.0.tar",
      mimeType: "application/x-tar",
      buffer: data,
    });
    await page.getByLabel(/Object name/).fill(OBJECT);
    // About 2 MiB/s up, so the upload takes a couple of seconds the test can watch.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 5,
      downloadThroughput: -1,
      uploadThroughput: 2 * MiB,
    });
    const started = Date.now();
    const samples = await sampleProgress(page, async () => {
      await page.getByRole("button", { name: "Upload", exact: true }).click();
      // A picture of the bar half-way.
      await page.waitForFunction((total) => {
        const v = Number(
          document.querySelector("[data-testid=upload-progress] progress")?.getAttribute("value"),
        );
        return v > total / 3 && v < total;
      }, data.length);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "fleet-upload-in-progress-desktop.png") });
      await page.getByTestId("upload-done").waitFor({ timeout: 60_000 });
    });
    const took = Date.now() - started;
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    // In the page, every step; from the test, polling the bar, several values on the way.
    assertMoving(samples, data.length, 5);
    const polledBetween = samples.polled.filter((v) => v > 0 && v < data.length);
    assert.ok(
      polledBetween.length >= 3,
      `the test saw the bar between empty and full: ${JSON.stringify(samples)}`,
    );
    process.stderr.write(
      `fleet-flow: ${data.length} bytes uploaded in ${took} ms; the page's bar took ${samples.inPage.length} values, the test saw ${samples.polled.length}\n`,
    );
    const obj = await h.call("GET", `/storage/v1/b/${BUCKET}/o/${encodeURIComponent(OBJECT)}`);
    assert.equal(obj.status, 200, obj.text);
    assert.equal(obj.body.md5Hash, md5);
    await page.getByRole("link", { name: "releases/" }).click();
    await page.locator(`[data-testid=object-row][data-name='${OBJECT}']`).waitFor();
    await checkPage(page, "fleet-storage");
  });

  test("4. create an instance running as the account on the Instances page", async () => {
    const { page } = admin;
    await page.goto(`/console/instances?project=${P}`);
    const form = page.getByRole("form", { name: "Create an instance" });
    await form.getByLabel("Name", { exact: true }).fill(VM);
    await form.getByLabel("Zone").selectOption(ZONE);
    await form.getByLabel(/Service account/).fill(SA);
    await form.getByRole("button", { name: "Create instance" }).click();
    const details = page.getByTestId("instance-details");
    await details.getByTestId("instance-service-account").filter({ hasText: SA }).waitFor();
    assert.deepEqual(await details.getByTestId("instance-scopes").locator("li").allTextContents(), [
      "cloud-platform",
    ]);
    await checkPage(page, "fleet-instances");
    const vm = await h.call("GET", `/compute/v1/projects/${P}/zones/${ZONE}/instances/${VM}`);
    assert.equal(vm.status, 200, vm.text);
    assert.equal(vm.body.serviceAccounts[0].email, SA);
    admin.assertNoErrors();
  });

  test("5. on the instance, the real gcloud lists the bucket the console uploaded to", async () => {
    // The instance's metadata server starts once the server sees the new instance.
    await eventually(
      `${VM}'s metadata server is running`,
      () => h.server.metadataServers()[`projects/${P}/zones/${ZONE}/instances/${VM}`],
      (addr) => addr !== undefined,
    );
    const exported = await runCli(["env", "--instance", VM, "--state-dir", h.stateDir]);
    assert.equal(exported.code, 0, exported.stderr);
    const env = exportsOf(exported.stdout);
    assert.ok(env.GCE_METADATA_HOST, exported.stdout);
    const config = join(dir, "gcloud");
    mkdirSync(config);
    const gcloud = async (args: string[]) => {
      try {
        const r = await run(GCLOUD!, args, {
          env: {
            PATH: process.env.PATH,
            HOME: dir,
            CLOUDSDK_CONFIG: config,
            CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
            CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
            CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
            NO_PROXY: "127.0.0.0/8,localhost",
            no_proxy: "127.0.0.0/8,localhost",
            ...env,
          },
          timeout: 120_000,
        });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
      }
    };
    const who = await gcloud(["auth", "list", "--format=value(account)"]);
    assert.equal(who.code, 0, who.stderr);
    assert.equal(who.stdout.trim(), SA);
    const ls = await gcloud(["storage", "ls", "--recursive", `gs://${BUCKET}/`]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.ok(ls.stdout.split("\n").includes(`gs://${BUCKET}/${OBJECT}`), ls.stdout);
    const described = await gcloud([
      "storage",
      "objects",
      "describe",
      `gs://${BUCKET}/${OBJECT}`,
      "--format=value(md5_hash,size)",
    ]);
    assert.equal(described.code, 0, described.stderr);
    assert.deepEqual(described.stdout.trim().split("\t"), [md5, String(data.length)]);
    // The instance's account was granted objects, not buckets: listing the project's buckets is refused.
    const buckets = await gcloud(["storage", "ls"]);
    assert.notEqual(buckets.code, 0);
    assert.match(buckets.stderr, /storage\.buckets\.list/);
  });
});
