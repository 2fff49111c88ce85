/**
 * The serve configuration: one table of settings gives the flags, the config file's keys and
 * `warrant config show`; a bad key or value in warrant.yaml is refused at start with its path.
 */
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import serve from "../../src/cli/commands/serve.js";
import { SERVE_SETTINGS } from "../../src/cli/serve-config.js";
import { spawnServe } from "../support/serve-process.js";
import { runCli } from "./helpers.js";

describe("serve configuration (warrant.yaml, config show)", { timeout: 120_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "warrant-serve-config-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("every `warrant serve` flag has a config key, and every key is a serve flag", () => {
    const flags = (serve.flags ?? []).map((f) => f.name).filter((n) => n !== "config");
    const byFlag = new Map(SERVE_SETTINGS.map((s) => [s.flag, s]));
    for (const f of flags) {
      const s = byFlag.get(f);
      assert.ok(s, `--${f} has no entry in SERVE_SETTINGS (src/cli/serve-config.ts), so no config key`);
      assert.match(s.key, /^[a-z]+(-[a-z]+)*(\.[a-z]+(-[a-z]+)*)?$/, `--${f}: key ${s.key}`);
      assert.ok(s.allowed.length > 0);
    }
    assert.deepEqual(new Set(flags), new Set(byFlag.keys()));
    const keys = SERVE_SETTINGS.map((s) => s.key);
    assert.equal(new Set(keys).size, keys.length, "config keys are unique");
    // A section is never also a key (`proxy` and `proxy.port` could not both be written).
    for (const k of keys)
      assert.ok(!keys.some((o) => o.startsWith(`${k}.`)), `${k} is both a key and a section`);
  });

  test("a bad key in warrant.yaml is refused at start with its path, before anything is created", async () => {
    const d = join(dir, "bad-key");
    mkdirSync(d);
    writeFileSync(join(d, "warrant.yaml"), "listen:\n  port: 0\nlog:\n  levle: debug\n");
    const r = await runCli(["serve", "--state-dir", d]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ERROR: \(warrant\.serve\) .*warrant\.yaml: unknown key 'log\.levle'\./);
    assert.match(r.stderr, /Hint: Did you mean 'log\.level'\? Allowed keys: listen\.host, listen\.port, /);
    assert.doesNotMatch(r.stderr, /^Usage:/m);
    assert.deepEqual(readdirSync(d), ["warrant.yaml"], "nothing was created in the state directory");
  });

  test("bad values are refused with the key's path and what is allowed", async () => {
    const cases: [string, RegExp][] = [
      ["listen:\n  port: 99999\n", /listen\.port: invalid port '99999' \(use 0-65535/],
      ["tls: yes\n", /tls: expected true or false, got string 'yes'/],
      ["log:\n  level: loud\n", /log\.level: 'loud' is not one of: fatal, error, warn, info/],
      [
        "enforcement: permissive\n",
        /enforcement: invalid enforcement mode 'permissive'[\s\S]*Use one of: enforce, audit-only, off/,
      ],
      ["storage:\n  reserve: lots\n", /storage\.reserve: expected a size like 64MiB/],
      ["connections:\n  max: [1, 2]\n", /connections\.max: expected an integer of at least 1, got a list/],
      ["listen: 8080\n", /listen: expected a mapping of keys, got number '8080'/],
      [
        "datastore: mysql://u:hunter2@h/db\n",
        /datastore: expected a postgres:\/\/ URL, got 'mysql:\/\/u:\*\*\*@h\/db'/,
      ],
      ["tokens:\n  lifetime: 5\n", /tokens\.lifetime: an integer from 10 to 3600 seconds, got '5'/],
      ["- a list\n", /the document: expected a mapping of keys/],
      ["listen: [unclosed\n", /warrant\.yaml is not valid YAML/],
    ];
    for (const [i, [yaml, expected]] of cases.entries()) {
      const d = join(dir, `bad-value-${i}`);
      mkdirSync(d);
      writeFileSync(join(d, "warrant.yaml"), yaml);
      // Even with a flag overriding the key, the file's value is checked.
      const r = await runCli(["serve", "--state-dir", d, "--port", "0"]);
      assert.equal(r.code, 2, `${yaml}: ${r.stderr}`);
      assert.match(r.stderr, expected, yaml);
      assert.doesNotMatch(r.stderr, /hunter2/);
      assert.deepEqual(readdirSync(d), ["warrant.yaml"], yaml);
    }
    const missing = await runCli([
      "serve",
      "--state-dir",
      join(dir, "none"),
      "--config",
      join(dir, "nope.yaml"),
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /argument --config: .*nope\.yaml does not exist/);
  });

  test("config show: each setting's value and source (flag, environment, file, default), password masked", async () => {
    const d = join(dir, "show");
    mkdirSync(d);
    writeFileSync(
      join(d, "warrant.yaml"),
      "listen:\n  port: 9191\n  host: 127.0.0.1\nlog:\n  level: debug\nenforcement: audit-only\n" +
        "datastore: postgres://warrant:s3cret@127.0.0.1:5432/warrant\nexternal-urls:\n  - https://a.example.com/x\n",
    );
    const r = await runCli(["config", "show", "--state-dir", d, "--tls", "--format=json"], {
      env: { WARRANT_LOG_LEVEL: "warn", WARRANT_PORT: "" },
    });
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { key: string; value: string; source: string }[];
    const row = (k: string) => rows.find((x) => x.key === k)!;
    const file = join(d, "warrant.yaml");
    assert.deepEqual(row("listen.port"), {
      key: "listen.port",
      flag: "--port",
      value: "9191",
      source: `${file}: listen.port`,
    });
    assert.equal(row("tls").source, "--tls");
    assert.equal(row("tls").value, "true");
    assert.equal(row("log.level").value, "warn");
    assert.equal(row("log.level").source, "WARRANT_LOG_LEVEL");
    assert.equal(row("enforcement").value, "audit-only");
    assert.equal(row("datastore").value, "postgres://warrant:***@127.0.0.1:5432/warrant");
    assert.equal(row("external-urls").value, "https://a.example.com");
    assert.equal(row("tokens.lifetime").source, "default");
    assert.equal(row("tokens.lifetime").value, "3600");
    assert.equal(rows.length, SERVE_SETTINGS.length);
    assert.doesNotMatch(r.stdout + r.stderr, /s3cret/);
    assert.match(r.stderr, new RegExp(`Config file: ${file.replace(/[.]/g, "\\.")}`));
    // The table form, and a flag over everything.
    const t = await runCli(["config", "show", "--state-dir", d, "--log-level=error"], {
      env: { WARRANT_LOG_LEVEL: "warn" },
    });
    assert.match(t.stdout, /^KEY +VALUE +SOURCE$/m);
    assert.match(t.stdout, /^log\.level +error +--log-level$/m);
    // No file: defaults, and it says so.
    const none = await runCli(["config", "show", "--state-dir", join(dir, "empty")]);
    assert.equal(none.code, 0);
    assert.match(none.stderr, /No config file/);
    assert.match(none.stdout, /^listen\.port +8080 +default$/m);
  });

  test("warrant serve uses the file (--config), below flags", async () => {
    const conf = join(dir, "etc-warrant.yaml");
    writeFileSync(conf, "enforcement: audit-only\ntokens:\n  lifetime: 120\nlog:\n  format: json\n");
    const d = join(dir, "served");
    mkdirSync(d);
    const s = spawnServe(d, ["--config", conf]);
    try {
      const info = await s.ready();
      assert.equal(info.enforcement, "audit-only");
      const admin = JSON.parse(readFileSync(join(d, "admin-credentials.json"), "utf8"));
      const tok = (await (
        await fetch(`${info.url}/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "refresh_token",
            client_id: admin.client_id,
            client_secret: admin.client_secret,
            refresh_token: admin.refresh_token,
          }),
        })
      ).json()) as { expires_in: number };
      assert.ok(tok.expires_in <= 120 && tok.expires_in > 100, `expires_in ${tok.expires_in}`);
    } finally {
      s.kill();
      await s.exited;
    }
    const d2 = join(dir, "served-flag");
    mkdirSync(d2);
    const s2 = spawnServe(d2, ["--config", conf, "--enforcement=enforce"]);
    try {
      assert.equal((await s2.ready()).enforcement, "enforce");
    } finally {
      s2.kill();
      await s2.exited;
    }
    assert.ok(existsSync(d2));
  });
});
