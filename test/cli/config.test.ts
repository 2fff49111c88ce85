import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { configDir, readConfig } from "../../src/cli/config.js";
import type { Runtime } from "../../src/cli/io.js";
import { Session } from "../../src/cli/session.js";
import { runCli } from "./helpers.js";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "warrant-cli-config-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function session(env: Record<string, string>, flags: Record<string, string> = {}, cwd = dir): Session {
  const rt: Runtime = {
    stdout: { write: () => true },
    stderr: { write: () => true },
    env,
    cwd,
    fetch: globalThis.fetch,
    stdinIsTTY: false,
  };
  return new Session(rt, new Map(Object.entries(flags)));
}

describe("config directory", () => {
  it("WARRANT_CONFIG_DIR, then XDG_CONFIG_HOME/warrant, then ~/.config/warrant", () => {
    assert.equal(configDir({ WARRANT_CONFIG_DIR: "/a/b", XDG_CONFIG_HOME: "/x" }), "/a/b");
    assert.equal(configDir({ XDG_CONFIG_HOME: "/x" }), "/x/warrant");
    assert.equal(configDir({ HOME: "/home/u" }), "/home/u/.config/warrant");
  });
});

describe("warrant config", () => {
  it("set/get/list/unset round-trip, validates names, stores credential_file absolute", async () => {
    const env = { WARRANT_CONFIG_DIR: join(dir, "cfg1") };
    let r = await runCli(["config", "set", "project", "p1"], { env });
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "Updated property [project].\n");
    r = await runCli(["config", "set", "credential_file", "creds/a.json"], { env, cwd: dir });
    assert.equal(r.code, 0);
    assert.equal(readConfig(env).credential_file, join(dir, "creds/a.json"));
    assert.equal(statSync(join(dir, "cfg1", "config.json")).mode & 0o777, 0o600);
    r = await runCli(["config", "get", "project"], { env });
    assert.equal(r.stdout, "p1\n");
    r = await runCli(["config", "list"], { env });
    assert.equal(r.stdout, `project = p1\ncredential_file = ${join(dir, "creds/a.json")}\n`);
    r = await runCli(["config", "list", "--format=json"], { env });
    assert.deepEqual(JSON.parse(r.stdout), { project: "p1", credential_file: join(dir, "creds/a.json") });
    r = await runCli(["config", "unset", "project"], { env });
    assert.equal(r.code, 0);
    r = await runCli(["config", "get", "project"], { env });
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "(unset)\n");
    r = await runCli(["config", "set", "projet", "x"], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Invalid property \[projet\]\. Did you mean \[project\]\?/);
    r = await runCli(["config", "set", "endpoint", "ftp://x"], { env });
    assert.equal(r.code, 2);
  });
});

describe("endpoint / credential / project resolution", () => {
  const stateDir = () => join(dir, "state");
  before(() => {
    mkdirSync(stateDir(), { recursive: true });
    writeFileSync(
      join(stateDir(), "server.json"),
      JSON.stringify({
        url: "http://127.0.0.1:9999",
        pid: 1,
        defaultProject: "demo-project",
        adminCredentialFile: "/abs/admin.json",
      }),
    );
    mkdirSync(join(dir, "cfg2"), { recursive: true });
    writeFileSync(
      join(dir, "cfg2", "config.json"),
      JSON.stringify({ project: "cfg-proj", endpoint: "http://cfg:1", credential_file: "/cfg/cred.json" }),
    );
  });

  it("flag beats env beats config beats server.json", () => {
    const cfg = join(dir, "cfg2");
    const full = {
      WARRANT_CONFIG_DIR: cfg,
      WARRANT_STATE_DIR: stateDir(),
      WARRANT_ENDPOINT: "http://env:2/",
      WARRANT_CREDENTIAL_FILE: "/env/cred.json",
      WARRANT_PROJECT: "env-proj",
    };
    const flags = { endpoint: "http://flag:3", "credential-file": "rel/cred.json", project: "flag-proj" };
    let s = session(full, flags);
    assert.equal(s.endpoint(), "http://flag:3");
    assert.equal(s.credentialFile(), join(dir, "rel/cred.json"));
    assert.equal(s.project(), "flag-proj");
    s = session(full);
    assert.equal(s.endpoint(), "http://env:2");
    assert.equal(s.credentialFile(), "/env/cred.json");
    assert.equal(s.project(), "env-proj");
    s = session({
      WARRANT_CONFIG_DIR: cfg,
      WARRANT_STATE_DIR: stateDir(),
      CLOUDSDK_CORE_PROJECT: "sdk-proj",
    });
    assert.equal(s.endpoint(), "http://cfg:1");
    assert.equal(s.credentialFile(), "/cfg/cred.json");
    assert.equal(s.project(), "sdk-proj");
    s = session({ WARRANT_CONFIG_DIR: cfg, WARRANT_STATE_DIR: stateDir() });
    assert.equal(s.project(), "cfg-proj");
  });

  it("falls back to server.json, then <stateDir>/admin-credentials.json", () => {
    const empty = join(dir, "cfg-empty");
    let s = session({ WARRANT_CONFIG_DIR: empty }, { "state-dir": stateDir() });
    assert.equal(s.endpoint(), "http://127.0.0.1:9999");
    assert.equal(s.credentialFile(), "/abs/admin.json");
    s = session({ WARRANT_CONFIG_DIR: empty, WARRANT_STATE_DIR: "nowhere" });
    assert.equal(s.credentialFile(), join(dir, "nowhere", "admin-credentials.json"));
    assert.throws(() => s.endpoint(), /No Warrant endpoint/);
    assert.throws(
      () => s.project(),
      /^Error: No project set; pass --project or run `warrant config set project P`|No project set/,
    );
  });

  it("default state dir is ./.warrant", () => {
    assert.equal(session({}).stateDir(), join(dir, ".warrant"));
  });

  it("a missing credential file or project is a clear error, exit 1", async () => {
    const env = { WARRANT_CONFIG_DIR: join(dir, "cfg-empty"), WARRANT_ENDPOINT: "http://127.0.0.1:1" };
    let r = await runCli(["iam", "service-accounts", "list"], { env, cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.split("\n")[0],
      "ERROR: (warrant.iam.service-accounts.list) No project set; pass --project or run `warrant config set project P`.",
    );
    r = await runCli(["projects", "list", "--credential-file", join(dir, "nope.json")], { env, cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot read credential file .*nope\.json: no such file/);
  });

  it("never prints the secrets of a bad credential file", async () => {
    const file = join(dir, "svc.json");
    writeFileSync(
      file,
      JSON.stringify({ type: "service_account", private_key: "SECRET-KEY", client_secret: "SECRET2" }),
    );
    const r = await runCli(["projects", "list", "--credential-file", file], {
      env: { WARRANT_CONFIG_DIR: join(dir, "cfg-empty"), WARRANT_ENDPOINT: "http://127.0.0.1:1" },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /lacks the "client_email" field/);
    assert.doesNotMatch(r.stderr + r.stdout, /SECRET/);
    assert.ok(readFileSync(file, "utf8").includes("SECRET"));
  });
});
