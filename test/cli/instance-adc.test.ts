/**
 * The CLI on an instance: with only what `warrant env --instance demo-vm` exports (no server state
 * dir, no credential file) every command runs as the instance's service account through
 * Application Default Credentials, as gcloud does; with a key file of an account lacking the role,
 * the explained 403 is one readable line.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { runCli } from "./helpers.js";

const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const INSTANCE = "projects/demo-project/zones/us-central1-a/instances/demo-vm";

describe("warrant CLI on an instance (ADC)", () => {
  let h: Harness;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-cli-instance-"));
    const mds = h.server.metadataServers()[INSTANCE]!;
    mkdirSync(join(dir, "gcloud"));
    env = {
      HOME: dir,
      CLOUDSDK_CONFIG: join(dir, "gcloud"),
      WARRANT_STATE_DIR: join(dir, "no-server-here"),
      WARRANT_CONFIG_DIR: join(dir, "warrant-config"),
      GCE_METADATA_HOST: mds,
      GCE_METADATA_IP: mds,
      WARRANT_ENDPOINT: h.url,
      GOOGLE_CLOUD_PROJECT: "demo-project",
    };
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (argv: string[], extra: Record<string, string> = {}) =>
    runCli(argv, { env: { ...env, ...extra }, cwd: dir });

  test("auth list, print-access-token and print-identity-token act as the instance's account", async () => {
    const list = await cli(["auth", "list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`\\*\\s+${SA.replace(/\./g, "\\.")}`));
    assert.match(list.stderr, /Credential: metadata server/);
    const tok = await cli(["auth", "print-access-token"]);
    assert.equal(tok.code, 0, tok.stderr);
    const info = await h.call("GET", `/oauth2/v3/tokeninfo?access_token=${tok.stdout.trim()}`, {
      token: null,
    });
    assert.equal(info.body.email, SA);
    // The metadata server narrows only to a subset of the instance's scopes (cloud-platform here);
    // a key file's token endpoint grants what is asked.
    const key = await h.call("POST", `/v1/projects/demo-project/serviceAccounts/${SA}/keys`, { body: {} });
    const keyFile = join(dir, "demo-sa.json");
    writeFileSync(keyFile, Buffer.from(key.body.privateKeyData, "base64"));
    const narrow = await cli(["auth", "print-access-token", "--scopes=devstorage.read_only"], {
      GOOGLE_APPLICATION_CREDENTIALS: keyFile,
    });
    assert.equal(narrow.code, 0, narrow.stderr);
    const narrowInfo = await h.call("GET", `/oauth2/v3/tokeninfo?access_token=${narrow.stdout.trim()}`, {
      token: null,
    });
    assert.equal(narrowInfo.body.scope, "https://www.googleapis.com/auth/devstorage.read_only");
    assert.equal(narrowInfo.body.email, SA);
    const id = await cli(["auth", "print-identity-token", "--audiences=https://svc.example.com"]);
    assert.equal(id.code, 0, id.stderr);
    const claims = JSON.parse(Buffer.from(id.stdout.trim().split(".")[1]!, "base64url").toString());
    assert.equal(claims.aud, "https://svc.example.com");
    assert.equal(claims.email, SA);
  });

  test("storage: buckets create, ls, cp both ways (simple and resumable), cat, rm, buckets delete", async () => {
    let r = await cli(["storage", "buckets", "create", "gs://cli-bucket"]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(["storage", "ls"]);
    assert.match(r.stdout, /^gs:\/\/cli-bucket\/$/m);

    const small = join(dir, "small.txt");
    writeFileSync(small, "hello from the instance\n");
    const big = join(dir, "big.bin");
    const bigData = randomBytes(20 * 1024 * 1024 + 123);
    writeFileSync(big, bigData);
    r = await cli(["storage", "cp", small, "gs://cli-bucket/docs/"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Copied .*small\.txt to gs:\/\/cli-bucket\/docs\/small\.txt \(24 bytes\)/);
    r = await cli(["storage", "cp", big, "gs://cli-bucket/big.bin"]);
    assert.equal(r.code, 0, r.stderr);

    r = await cli(["storage", "ls", "gs://cli-bucket"]);
    assert.deepEqual(r.stdout.trim().split("\n"), ["gs://cli-bucket/docs/", "gs://cli-bucket/big.bin"]);
    r = await cli(["storage", "ls", "-l", "-r", "gs://cli-bucket"]);
    assert.match(r.stdout, /TOTAL: 2 objects, 20971667 bytes/);
    r = await cli(["storage", "cat", "gs://cli-bucket/docs/small.txt"]);
    assert.equal(r.stdout, "hello from the instance\n");

    const back = join(dir, "back");
    mkdirSync(back);
    r = await cli(["storage", "cp", "gs://cli-bucket/big.bin", back]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(join(back, "big.bin")).equals(bigData), "round trip is byte-identical");

    // The audit log shows who did it and that the big file went up in resumable chunks.
    const audit = readFileSync(join(h.stateDir, "audit.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const creates = audit.filter(
      (e) => e.method === "POST" && e.path === "/upload/storage/v1/b/cli-bucket/o",
    );
    assert.ok(creates.every((e) => e.principal === `serviceAccount:${SA}`));
    const chunks = audit.filter((e) => e.method === "PUT" && e.path === "/upload/storage/v1/b/cli-bucket/o");
    assert.equal(chunks.length, 2, "20 MiB in 16 MiB chunks");

    r = await cli(["storage", "rm", "gs://cli-bucket/docs/small.txt", "gs://cli-bucket/big.bin"]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(["storage", "buckets", "delete", "gs://cli-bucket"]);
    assert.equal(r.code, 0, r.stderr);
  });

  test("compute instances list --zones through ADC", async () => {
    const r = await cli([
      "compute",
      "instances",
      "list",
      "--zones=us-central1-a",
      "--format=value(name,status)",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^demo-vm\tRUNNING$/m);
  });

  test("a key file of an account without the role: the explained 403 in one line", async () => {
    const sa = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "no-storage", serviceAccount: { displayName: "no storage role" } },
    });
    assert.equal(sa.status, 200, sa.text);
    const key = await h.call("POST", `/v1/projects/demo-project/serviceAccounts/${sa.body.email}/keys`, {
      body: {},
    });
    const keyFile = join(dir, "no-storage.json");
    writeFileSync(keyFile, Buffer.from(key.body.privateKeyData, "base64"));
    const r = await cli(["storage", "ls"], { GOOGLE_APPLICATION_CREDENTIALS: keyFile });
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split("\n");
    assert.match(
      lines[0]!,
      /^ERROR: \(warrant\.storage\.ls\) 403 no-storage@demo-project\.iam\.gserviceaccount\.com does not have storage\.buckets\.list access to the Google Cloud project\..*Roles that grant it: roles\/storage\.viewer/,
    );
  });

  test("in the server's own directory, an instance's shell still acts as the instance", async () => {
    // `warrant env --instance` exports WARRANT_CREDENTIAL_SOURCE=adc: the local admin credential
    // in the state directory must not win over the metadata server.
    const r = await cli(["auth", "list"], {
      WARRANT_STATE_DIR: h.stateDir,
      WARRANT_CREDENTIAL_SOURCE: "adc",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`\\*\\s+${SA.replace(/\./g, "\\.")}`));
    const admin = await cli(["auth", "list"], { WARRANT_STATE_DIR: h.stateDir });
    assert.match(admin.stdout, /admin@warrant\.local/, "without it, the server's admin credential");
  });

  test("no source at all: one error listing what was tried", async () => {
    const r = await cli(["storage", "ls"], {
      GCE_METADATA_HOST: "",
      GCE_METADATA_IP: "",
      METADATA_SERVER_DETECTION: "none",
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No credentials found/);
    assert.match(r.stderr, /GOOGLE_APPLICATION_CREDENTIALS: not set/);
    assert.match(r.stderr, /METADATA_SERVER_DETECTION=none/);
  });
});
