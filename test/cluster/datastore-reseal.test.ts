/**
 * `warrant datastore reseal`: the master key rotates; the installation's signing keys open under the
 * new key only, and a wrong old key changes nothing.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startServer } from "../../src/server/app.js";
import { runCli } from "../cli/helpers.js";
import { startHarness } from "../support/harness.js";

test("reseal moves every sealed key to the new master key, or changes nothing", async () => {
  const stateDir = mkdtempSync(join(tmpdir(), "warrant-reseal-"));
  const keys = mkdtempSync(join(tmpdir(), "warrant-reseal-keys-"));
  try {
    const h = await startHarness({ stateDir, agents: false });
    await h.server.close();
    const oldFile = join(stateDir, "master.key");
    const newKey = randomBytes(32).toString("base64");
    const newFile = join(keys, "new.key");
    writeFileSync(newFile, `${newKey}\n`);
    const wrongFile = join(keys, "wrong.key");
    writeFileSync(wrongFile, `${randomBytes(32).toString("base64")}\n`);
    const env = { WARRANT_STATE_DIR: stateDir };

    const wrong = await runCli(
      ["datastore", "reseal", `--old-key-file=${wrongFile}`, `--new-key-file=${newFile}`],
      {
        env,
      },
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /wrong master key.*Nothing was changed/s);

    const ok = await runCli(
      ["datastore", "reseal", `--old-key-file=${oldFile}`, `--new-key-file=${newFile}`],
      { env },
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Re-sealed [1-9]\d* signing key\(s\)/);

    // The old key opens nothing any more; the new one serves the installation.
    await assert.rejects(
      startServer({
        stateDir,
        host: "127.0.0.1",
        port: 0,
        log: () => {},
        agents: false,
        masterKey: readFileSync(oldFile, "utf8").trim(),
      }),
      /wrong master key/,
    );
    const again = await startHarness({ stateDir, agents: false, masterKey: newKey });
    try {
      const r = await again.call("GET", "/v1/projects/demo-project");
      assert.equal(r.status, 200, r.text);
    } finally {
      await again.server.close();
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(keys, { recursive: true, force: true });
  }
});
