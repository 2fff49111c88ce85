/**
 * Attack: read the database password out of what Warrant prints. A server on PostgreSQL with a
 * password in its --datastore URL, through a normal start, requests, a database outage and a
 * restart, and starts that fail: the password is in none of the server's log, audit.log,
 * server.json, the running server's description, or the CLI's errors and usage errors.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { runCli } from "../cli/helpers.js";
import {
  adminUrl,
  createTestDatabase,
  dropTestDatabase,
  postgresUnavailable,
  withDatabase,
} from "../datastore/pg-fixture.js";
import { startHarness } from "../support/harness.js";

const why = await postgresUnavailable();
const PASSWORD = `pw-${randomBytes(12).toString("hex")}`;
const name = `warrant_pwleak_${process.pid}_${randomBytes(4).toString("hex")}`;

describe("attack: the datastore password in logs and messages", {
  skip: why ?? false,
  timeout: 60_000,
}, () => {
  after(() => dropTestDatabase(name));

  test("is never written or printed", async () => {
    const u = new URL(await createTestDatabase(name));
    u.password = PASSWORD; // the test server trusts local logins: any password works
    const url = u.toString();
    const log: string[] = [];
    const h = await startHarness({ datastore: url, log: (l) => log.push(l) });
    let info = "";
    let written = "";
    try {
      info = readFileSync(join(h.stateDir, "server.json"), "utf8");
      assert.equal((await h.call("GET", "/v1/projects/demo-project/serviceAccounts")).status, 200);
      // An outage puts the datastore into the log.
      await withDatabase(adminUrl(), async (c) => {
        await c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
        await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
      });
      const down = await h.call("GET", "/v1/projects/demo-project/serviceAccounts");
      assert.equal(down.status, 503);
      assert.doesNotMatch(down.text, new RegExp(PASSWORD));
      await withDatabase(adminUrl(), (c) => c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`));
      await h.restart();
      assert.match(h.server.datastore, /:\*\*\*@/);
      assert.doesNotMatch(h.server.datastore, new RegExp(PASSWORD));
      await h.server.close();
      written = readdirSync(h.stateDir)
        .map((f) => join(h.stateDir, f))
        .filter((f) => statSync(f).isFile())
        .map((f) => readFileSync(f, "latin1"))
        .join("\n");
      assert.match(written, /"path":"\/v1\/projects\/demo-project\/serviceAccounts"/, "audit.log was read");
    } finally {
      await withDatabase(adminUrl(), (c) => c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`));
      await h.close().catch(() => undefined);
    }
    assert.ok(
      log.some((l) => l.includes(name)),
      "the log names the datastore (so the check below is not vacuous)",
    );
    for (const [where, text] of [
      ["server log", log.join("\n")],
      ["server.json", info],
      ["state directory files", written],
    ] as const)
      assert.doesNotMatch(text, new RegExp(PASSWORD), `the password is in the ${where}`);

    // Failed starts and usage errors.
    const refused = new URL(url);
    refused.port = "1";
    for (const argv of [
      ["--datastore", refused.toString()],
      ["--datastore", `mysql://root:${PASSWORD}@127.0.0.1/x`],
    ]) {
      const dir = mkdtempSync(join(tmpdir(), "warrant-pwleak-"));
      const r = await runCli(["serve", "--state-dir", dir, "--port", "0", ...argv]);
      rmSync(dir, { recursive: true, force: true });
      assert.notEqual(r.code, 0);
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(PASSWORD), argv.join(" "));
    }
  });
});
