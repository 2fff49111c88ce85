/** The CLI's key-file and impersonation flows against a real server (in-process CLI, real HTTP). */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { runCli } from "./helpers.js";

const SA = "demo-sa@demo-project.iam.gserviceaccount.com";

describe("warrant iam service-accounts keys, key-file credentials and impersonation", () => {
  let h: Harness;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-cli-keys-"));
    env = {
      WARRANT_ENDPOINT: h.url,
      WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
      WARRANT_PROJECT: "demo-project",
      WARRANT_CONFIG_DIR: join(dir, "config"),
    };
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("keys create writes a 0600 key file that works as --credential-file; list and delete", async () => {
    const file = join(dir, "demo-sa.json");
    const created = await runCli(["iam", "service-accounts", "keys", "create", file, `--iam-account=${SA}`], {
      env,
    });
    assert.equal(created.code, 0, created.stderr);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const key = JSON.parse(readFileSync(file, "utf8"));
    assert.equal(key.client_email, SA);
    assert.match(created.stderr, new RegExp(`created key \\[${key.private_key_id}\\]`));

    const again = await runCli(["iam", "service-accounts", "keys", "create", file, `--iam-account=${SA}`], {
      env,
    });
    assert.notEqual(again.code, 0, "never overwrites a key file");
    const listed = await runCli(
      ["iam", "service-accounts", "keys", "list", `--iam-account=${SA}`, "--format=value(keyId)"],
      { env },
    );
    assert.deepEqual(
      listed.stdout.trim().split("\n"),
      [key.private_key_id],
      "the failed create left no orphan key",
    );

    // As the service account (it holds roles/compute.viewer on demo-project).
    const asSa = { ...env, WARRANT_CREDENTIAL_FILE: file };
    const vms = await runCli(["compute", "instances", "list", "--format=value(name)"], { env: asSa });
    assert.equal(vms.code, 0, vms.stderr);
    assert.match(vms.stdout, /demo-vm/);
    const denied = await runCli(["iam", "service-accounts", "create", "not-allowed"], { env: asSa });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /iam\.serviceAccounts\.create/);
    assert.match(denied.stderr, new RegExp(`serviceAccount:${SA.replace(/\./g, "\\.")}`));

    const del = await runCli(
      ["iam", "service-accounts", "keys", "delete", key.private_key_id, `--iam-account=${SA}`],
      { env },
    );
    assert.equal(del.code, 0, del.stderr);
    const after = await runCli(["compute", "instances", "list"], { env: asSa });
    assert.equal(after.code, 1, "a deleted key obtains nothing");
  });

  test("print-access-token --impersonate-service-account needs TokenCreator on the account", async () => {
    const args = ["auth", "print-access-token", `--impersonate-service-account=${SA}`];
    const denied = await runCli(args, { env });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /iam\.serviceAccounts\.getAccessToken/);
    const grant = await runCli(
      [
        "iam",
        "service-accounts",
        "add-iam-policy-binding",
        SA,
        "--member=user:admin@warrant.local",
        "--role=roles/iam.serviceAccountTokenCreator",
      ],
      { env },
    );
    assert.equal(grant.code, 0, grant.stderr);
    const ok = await runCli(args, { env });
    assert.equal(ok.code, 0, ok.stderr);
    const info = (await (await fetch(`${h.url}/tokeninfo?access_token=${ok.stdout.trim()}`)).json()) as {
      email: string;
    };
    assert.equal(info.email, SA);
  });
});

describe("warrant admin keys", () => {
  test("list shows the ring; rotate promotes the staged key", async () => {
    const h = await startHarness({ keyRotation: { publishLeadSeconds: 0 } });
    try {
      const env = { WARRANT_ENDPOINT: h.url, WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile };
      const before = await runCli(["admin", "keys", "list", "--format=json"], { env });
      assert.equal(before.code, 0, before.stderr);
      const staged = (JSON.parse(before.stdout) as { kid: string; state: string }[]).find(
        (k) => k.state === "staged",
      )!;
      const rotated = await runCli(["admin", "keys", "rotate", "--format=json"], { env });
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.match(rotated.stderr, new RegExp(`key \\[${staged.kid}\\] now signs`));
      const states = JSON.parse(rotated.stdout) as { kid: string; state: string }[];
      assert.equal(states.find((k) => k.kid === staged.kid)?.state, "primary");
    } finally {
      await h.close();
    }
  });
});
