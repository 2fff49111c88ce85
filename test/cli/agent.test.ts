/** `warrant env --instance` and a standalone `warrant agent` process, against a real server. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { runCli } from "./helpers.js";

const BIN = new URL("../../../bin/warrant.cjs", import.meta.url).pathname;

describe("instance identity from the CLI", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("env --instance prints the three metadata variables and unsets credential files", async () => {
    const r = await runCli(["env", "--instance", "demo-vm", "--state-dir", h.stateDir]);
    assert.equal(r.code, 0, r.stderr);
    const mds = h.server.metadataServers()["projects/demo-project/zones/us-central1-a/instances/demo-vm"];
    for (const v of ["GCE_METADATA_HOST", "GCE_METADATA_IP", "GCE_METADATA_ROOT"])
      assert.match(r.stdout, new RegExp(`export ${v}=${mds}\\n`));
    assert.match(r.stdout, /^unset GOOGLE_APPLICATION_CREDENTIALS WARRANT_CREDENTIAL_FILE/m);
    assert.match(r.stdout, /export GOOGLE_CLOUD_PROJECT=demo-project/);
    assert.match(r.stdout, /export WARRANT_CREDENTIAL_SOURCE=adc\n/);
    const missing = await runCli(["env", "--instance", "no-such-vm", "--state-dir", h.stateDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No metadata server for instance \[no-such-vm\]/);
  });

  test("a standalone agent enrolls with a one-time token and serves the instance's token", async () => {
    const env = {
      WARRANT_ENDPOINT: h.url,
      WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
      WARRANT_PROJECT: "demo-project",
    };
    const issued = await runCli(
      [
        "compute",
        "instances",
        "issue-enrollment-token",
        "demo-vm",
        "--zone=us-central1-a",
        "--format=value(enrollmentToken)",
      ],
      { env },
    );
    assert.equal(issued.code, 0, issued.stderr);
    const token = issued.stdout.trim();
    const child = spawn(
      process.execPath,
      [
        BIN,
        "agent",
        "--instance=demo-vm",
        "--zone=us-central1-a",
        "--listen=127.0.0.1:0",
        `--enrollment-token=${token}`,
      ],
      { env: { ...process.env, WARRANT_ENDPOINT: h.url }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let agentLog = "";
    child.stderr.on("data", (d: Buffer) => {
      agentLog += d.toString();
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`agent did not start: ${out}`)), 20_000);
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /at (http:\/\/[0-9.:]+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.on("exit", (code) => reject(new Error(`agent exited ${code}`)));
      });
      const r = await fetch(`${url}/computeMetadata/v1/instance/service-accounts/default/token`, {
        headers: { "Metadata-Flavor": "Google" },
      });
      assert.equal(r.status, 200);
      const t = (await r.json()) as { access_token: string };
      const info = (await (await fetch(`${h.url}/tokeninfo?access_token=${t.access_token}`)).json()) as {
        email: string;
      };
      assert.equal(info.email, "demo-sa@demo-project.iam.gserviceaccount.com");
      // An administrator revokes the agent's credential: the agent says it must be re-enrolled.
      const reset = await runCli(
        ["compute", "instances", "reset-agent", "demo-vm", "--zone=us-central1-a", "--format=json"],
        { env },
      );
      assert.equal(reset.code, 0, reset.stderr);
      assert.ok(JSON.parse(reset.stdout).revokedCredentials >= 1, reset.stdout);
      const deadline = Date.now() + 20_000;
      while (!/must be re-enrolled|re-enrolled with a new token/.test(agentLog)) {
        assert.ok(Date.now() < deadline, `the agent did not report its revoked credential: ${agentLog}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    const reuse = spawn(
      process.execPath,
      [
        BIN,
        "agent",
        "--instance=demo-vm",
        "--zone=us-central1-a",
        "--listen=127.0.0.1:0",
        `--enrollment-token=${token}`,
      ],
      {
        env: { ...process.env, WARRANT_ENDPOINT: h.url },
      },
    );
    let err = "";
    reuse.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => reuse.once("exit", r));
    assert.equal(code, 1, "a used enrollment token is refused");
    assert.match(err, /enrollment refused/);
  });
});

describe("warrant agent refuses a token for another instance", () => {
  test("--instance must match the instance the token was issued for", async () => {
    const h = await startHarness({ agents: false });
    try {
      const env = {
        WARRANT_ENDPOINT: h.url,
        WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
        WARRANT_PROJECT: "demo-project",
      };
      const issued = await runCli(
        [
          "compute",
          "instances",
          "issue-enrollment-token",
          "demo-vm",
          "--zone=us-central1-a",
          "--format=value(enrollmentToken)",
        ],
        { env },
      );
      const child = spawn(
        process.execPath,
        [
          BIN,
          "agent",
          "--instance=other-vm",
          "--zone=us-central1-a",
          "--listen=127.0.0.1:0",
          `--enrollment-token=${issued.stdout.trim()}`,
        ],
        { env: { ...process.env, WARRANT_ENDPOINT: h.url } },
      );
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const code = await new Promise((r) => child.once("exit", r));
      assert.equal(code, 1);
      assert.match(
        err,
        /the enrollment token is for projects\/demo-project\/zones\/us-central1-a\/instances\/demo-vm, not zones\/us-central1-a\/instances\/other-vm/,
      );
    } finally {
      await h.close();
    }
  });
});
