/**
 * The seed's examples (examples/*.ts) run green against a Warrant started here, as the demo-vm
 * instance (only what `warrant env --instance demo-vm` exports), and fail clearly without a role.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";

const run = promisify(execFile);
const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples");
const INSTANCE = "projects/demo-project/zones/us-central1-a/instances/demo-vm";

describe("examples", () => {
  let h: Harness;
  let home: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    h = await startHarness();
    home = mkdtempSync(join(tmpdir(), "warrant-examples-"));
    const mds = h.server.metadataServers()[INSTANCE]!;
    // What `warrant env --instance demo-vm` exports, and nothing else (no credential file).
    env = {
      PATH: process.env.PATH,
      HOME: home,
      CLOUDSDK_CONFIG: join(home, "gcloud"),
      GCE_METADATA_HOST: mds,
      GCE_METADATA_IP: mds,
      WARRANT_ENDPOINT: h.url,
      GOOGLE_CLOUD_PROJECT: "demo-project",
    };
    for (const name of ["example-one", "example-two"])
      assert.equal(
        (await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name } })).status,
        200,
      );
  });
  after(async () => {
    await h.close();
    rmSync(home, { recursive: true, force: true });
  });

  const example = (file: string, args: string[] = [], extra: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, [join(EXAMPLES, file), ...args], { env: { ...env, ...extra }, timeout: 30_000 });

  test("(a) list-buckets: ADC finds the instance's account", async () => {
    const { stdout, stderr } = await example("list-buckets.js");
    assert.deepEqual(stdout.trim().split("\n"), ["example-one", "example-two"]);
    assert.match(stderr, /credentials: metadata server/);
  });

  test("(b) metadata-token: a token by hand, then the buckets", async () => {
    const { stdout, stderr } = await example("metadata-token.js");
    assert.deepEqual(stdout.trim().split("\n"), ["example-one", "example-two"]);
    assert.match(stderr, /token valid for \d+ s/);
  });

  test("(c) list-instances: the curl flow", async () => {
    const { stdout } = await example("list-instances.js", ["demo-project", "us-central1-a"]);
    assert.match(stdout, /^demo-vm\tRUNNING\tdemo-sa@demo-project\.iam\.gserviceaccount\.com$/m);
  });

  test("(a) as a person: after `auth application-default login --user`, the same code runs as the user", async () => {
    const USER = "dana@example.com";
    const laptop = join(home, "laptop-gcloud");
    const admin = {
      WARRANT_ENDPOINT: h.url,
      WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
      WARRANT_CONFIG_DIR: join(home, "warrant-config"),
      CLOUDSDK_CONFIG: laptop,
      HOME: home,
    };
    assert.equal((await runCli(["users", "create", USER], { env: admin })).code, 0);
    const login = await runCli(["auth", "application-default", "login", `--user=${USER}`], { env: admin });
    assert.equal(login.code, 0, login.stderr);
    // A laptop: no metadata server, only the ADC file the login wrote.
    const asUser = {
      CLOUDSDK_CONFIG: laptop,
      GCE_METADATA_HOST: "",
      GCE_METADATA_IP: "",
      METADATA_SERVER_DETECTION: "none",
    };
    const denied = await example("list-buckets.js", ["demo-project"], asUser).then(
      () => assert.fail("expected a denial"),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /credentials: well-known file/);
    assert.match(denied.stderr, new RegExp(`^403: ${USER} does not have storage.buckets.list`, "m"));
    const grant = await runCli(
      [
        "projects",
        "add-iam-policy-binding",
        "demo-project",
        `--member=user:${USER}`,
        "--role=roles/storage.admin",
      ],
      { env: admin },
    );
    assert.equal(grant.code, 0, grant.stderr);
    const allowed = await example("list-buckets.js", ["demo-project"], asUser);
    assert.deepEqual(allowed.stdout.trim().split("\n"), ["example-one", "example-two"]);
  });

  test("a denial is one readable line naming the permission", async () => {
    // demo-vm's account has no role on this other project's buckets.
    await h.call("POST", "/v1/projects", { body: { projectId: "other-project" } });
    const failed = await example("list-buckets.js", ["other-project"]).then(
      () => assert.fail("expected a denial"),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(failed.code, 1);
    assert.match(
      failed.stderr,
      /^403: demo-sa@demo-project\.iam\.gserviceaccount\.com does not have storage\.buckets\.list/m,
    );
  });
});
