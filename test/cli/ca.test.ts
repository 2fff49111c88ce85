/** `warrant ca print`: the CA certificate, created on first use; never the key. */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "./helpers.js";

test("warrant ca print creates the CA once and prints its certificate, never its key", async () => {
  const dir = mkdtempSync(join(tmpdir(), "warrant-ca-cli-"));
  try {
    const stateDir = join(dir, "state");
    const first = await runCli(["ca", "print", "--state-dir", stateDir]);
    assert.equal(first.code, 0, first.stderr);
    const cert = new X509Certificate(first.stdout);
    assert.equal(cert.ca, true);
    assert.equal(first.stdout, readFileSync(join(stateDir, "ca.pem"), "utf8"));
    assert.equal(statSync(join(stateDir, "ca.key")).mode & 0o777, 0o600);
    assert.doesNotMatch(first.stdout + first.stderr, /PRIVATE KEY/);
    const second = await runCli(["ca", "print"], { env: { WARRANT_STATE_DIR: stateDir } });
    assert.equal(second.stdout, first.stdout, "the same CA on every call");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
