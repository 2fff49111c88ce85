/**
 * End to end: spawns `warrant serve --port 0` and drives the CLI as separate processes, the way a new
 * user would. Every wait is bounded; child processes are killed in after().
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const BIN = join(ROOT, "bin", "warrant.cjs");

let tmp: string;
let stateDir: string;
let server: ChildProcess | undefined;
const children = new Set<ChildProcess>();

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(WARRANT_|CLOUDSDK_|XDG_CONFIG_HOME$)/.test(k)) env[k] = v;
  }
  env.WARRANT_CONFIG_DIR = join(tmp, "config");
  env.WARRANT_STATE_DIR = stateDir;
  return env;
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Result> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: tmp, env: { ...baseEnv(), ...extraEnv }, timeout: timeoutMs, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        children.delete(child);
        const code = err ? (typeof err.code === "number" ? err.code : 124) : 0;
        done({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    children.add(child);
  });
}

async function ok(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await cli(args, extraEnv);
  assert.equal(
    r.code,
    0,
    `warrant ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
  );
  return r.stdout;
}

async function okJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
  return JSON.parse(await ok([...args, "--format=json"])) as T;
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let serverLog = "";

async function startServe(): Promise<{ url: string; pid: number }> {
  const child = spawn(process.execPath, [BIN, "serve", "--state-dir", stateDir, "--port", "0"], {
    cwd: tmp,
    env: { ...baseEnv(), WARRANT_HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server = child;
  child.stdout?.on("data", (d) => (serverLog += d));
  child.stderr?.on("data", (d) => (serverLog += d));
  const info = await waitFor("server.json", () => {
    if (child.exitCode !== null) throw new Error(`warrant serve exited ${child.exitCode}:\n${serverLog}`);
    const file = join(stateDir, "server.json");
    if (!existsSync(file)) return undefined;
    try {
      const j = JSON.parse(readFileSync(file, "utf8")) as { url: string; pid: number };
      return j.pid === child.pid ? j : undefined;
    } catch {
      return undefined;
    }
  });
  await waitFor("serve banner", () => (serverLog.includes("Warrant is serving at") ? true : undefined));
  return info;
}

async function stopServe(): Promise<number | null> {
  const child = server;
  if (!child || child.exitCode !== null) return child?.exitCode ?? null;
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  const code = await Promise.race([
    exited,
    new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 15_000).unref()),
  ]);
  if (code === "timeout") {
    child.kill("SIGKILL");
    throw new Error("warrant serve did not stop within 15s of SIGTERM");
  }
  server = undefined;
  return code;
}

const PROJECT = `e2e-${process.pid}-${Date.now().toString(36)}`.slice(0, 30);
const SA = "app-runner";
const SA_EMAIL = `${SA}@${PROJECT}.iam.gserviceaccount.com`;
const ZONE = "us-central1-a";

describe("warrant CLI end to end", { timeout: 300_000 }, () => {
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "warrant-cli-e2e-"));
    stateDir = join(tmp, "state");
    await startServe();
  });

  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    if (server && server.exitCode === null) server.kill("SIGKILL");
    rmSync(tmp, { recursive: true, force: true });
  });

  it("env prints export lines matching server.json", async () => {
    const out = await ok(["env"]);
    const info = JSON.parse(readFileSync(join(stateDir, "server.json"), "utf8")) as Record<string, string>;
    assert.match(out, new RegExp(`^export WARRANT_ENDPOINT=${info.url}$`, "m"));
    assert.match(
      out,
      new RegExp(`^export WARRANT_CREDENTIAL_FILE=${join(stateDir, "admin-credentials.json")}$`, "m"),
    );
    assert.match(out, new RegExp(`^export WARRANT_PROJECT=${info.defaultProject}$`, "m"));

    const g = await ok(["env", "--gcloud"]);
    const tokenFile = join(stateDir, "gcloud-access-token");
    assert.match(g, new RegExp(`^export CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=${tokenFile}$`, "m"));
    assert.match(
      g,
      new RegExp(`^export CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=${info.url}/compute/v1/$`, "m"),
    );
    assert.match(g, new RegExp(`^export CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM=${info.url}/$`, "m"));
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    assert.ok(readFileSync(tokenFile, "utf8").length > 20);
    assert.doesNotMatch(g, /refresh_token|client_secret/);
  });

  it("print-access-token prints a token", async () => {
    const token = (await ok(["auth", "print-access-token"])).trim();
    assert.ok(token.length > 20);
    assert.doesNotMatch(token, /\s/);
  });

  it("creates a project, a service account, a binding and an instance running as it", async () => {
    let r = await cli(["projects", "create", PROJECT, "--name", "E2E project"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`Created project \\[${PROJECT}\\]`));

    const p = await okJson(["projects", "describe", PROJECT]);
    assert.equal(p.projectId, PROJECT);
    assert.equal(p.lifecycleState, "ACTIVE");
    assert.equal(typeof p.projectNumber, "string");
    assert.match(
      await ok(["projects", "list", "--format=value(projectId)"]),
      new RegExp(`^${PROJECT}$`, "m"),
    );

    const email = await ok([
      "iam",
      "service-accounts",
      "create",
      SA,
      "--display-name",
      "App runner",
      "--project",
      PROJECT,
      "--format=value(email)",
    ]);
    assert.equal(email.trim(), SA_EMAIL);

    const policy = await okJson<{ bindings: { role: string; members: string[] }[] }>([
      "projects",
      "add-iam-policy-binding",
      PROJECT,
      "--member",
      `serviceAccount:${SA_EMAIL}`,
      "--role",
      "roles/storage.objectAdmin",
    ]);
    assert.ok(
      policy.bindings.some(
        (b) => b.role === "roles/storage.objectAdmin" && b.members.includes(`serviceAccount:${SA_EMAIL}`),
      ),
    );

    r = await cli([
      "compute",
      "instances",
      "create",
      "vm-1",
      "--zone",
      ZONE,
      "--service-account",
      SA_EMAIL,
      "--scopes",
      "cloud-platform,storage-ro",
      "--project",
      PROJECT,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^NAME\s+ZONE\s+MACHINE_TYPE\s+INTERNAL_IP\s+STATUS\nvm-1\s+us-central1-a\s+e2-medium\s+\S+\s+RUNNING\n$/,
    );

    const inst = await okJson<{ serviceAccounts: { email: string; scopes: string[] }[] }>([
      "compute",
      "instances",
      "describe",
      "vm-1",
      "--zone",
      ZONE,
      "--project",
      PROJECT,
    ]);
    assert.equal(inst.serviceAccounts[0]?.email, SA_EMAIL);
    assert.deepEqual([...(inst.serviceAccounts[0]?.scopes ?? [])].sort(), [
      "https://www.googleapis.com/auth/cloud-platform",
      "https://www.googleapis.com/auth/devstorage.read_only",
    ]);

    const yaml = await ok(["projects", "get-iam-policy", PROJECT]);
    assert.match(
      yaml,
      new RegExp(
        `- serviceAccount:${SA_EMAIL.replace(/\./g, "\\.")}\\n\\s+role: roles/storage\\.objectAdmin`,
      ),
    );
    assert.match(yaml, /^etag: /m);
  });

  it("stops and starts an instance", async () => {
    const args = ["--zone", ZONE, "--project", PROJECT];
    await ok(["compute", "instances", "stop", "vm-1", ...args]);
    assert.equal(
      (await ok(["compute", "instances", "describe", "vm-1", ...args, "--format=value(status)"])).trim(),
      "TERMINATED",
    );
    await ok(["compute", "instances", "start", "vm-1", ...args]);
    assert.equal(
      await ok(["compute", "instances", "list", "--project", PROJECT, "--format=value(name,status)"]),
      "vm-1\tRUNNING\n",
    );
  });

  it("API errors are one gcloud-style line plus a hint, without stack traces", async () => {
    const r = await cli(["projects", "describe", "no-such-project-e2e"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ERROR: \(warrant\.projects\.describe\) (403|404) \S/);
    assert.match(r.stderr, /\nHint: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const bad = await cli(["projects", "list"], { WARRANT_ACCESS_TOKEN: "not-a-token" });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^ERROR: \(warrant\.projects\.list\) 401 /);
    const missing = await cli([
      "projects",
      "remove-iam-policy-binding",
      PROJECT,
      "--member=user:nobody@example.com",
      "--role=roles/viewer",
    ]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /Policy binding with the specified principal, role, and condition not found!/,
    );
    const typo = await cli(["compute", "instances", "creat", "vm"]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /Did you mean 'warrant compute instances create'\?/);
  });

  it("everything survives a restart of serve on the same state dir", async () => {
    assert.equal(await stopServe(), 0, `serve exit code; log:\n${serverLog}`);
    assert.equal(existsSync(join(stateDir, "server.json")), false, "server.json removed on shutdown");
    const down = await cli(["projects", "list"], { WARRANT_ENDPOINT: "http://127.0.0.1:9" });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /Could not reach the Warrant server/);

    await startServe();
    const policy = await okJson<{ bindings: { role: string; members: string[] }[] }>([
      "projects",
      "get-iam-policy",
      PROJECT,
    ]);
    assert.ok(
      policy.bindings.some(
        (b) => b.role === "roles/storage.objectAdmin" && b.members.includes(`serviceAccount:${SA_EMAIL}`),
      ),
    );
    assert.match(
      await ok(["iam", "service-accounts", "list", "--project", PROJECT, "--format=value(email)"]),
      new RegExp(SA_EMAIL),
    );
    assert.match(
      await ok(["compute", "instances", "list", "--project", PROJECT]),
      /^vm-1\s+us-central1-a\s+e2-medium/m,
    );
  });

  it("20 concurrent add-iam-policy-binding processes: each lands or gives up with a clean ABORTED; the policy holds exactly the winners", async (t) => {
    const members = Array.from({ length: 20 }, (_, i) => `user:concurrent-${i}@example.com`);
    // Correctness only: no time budget (a loaded machine makes this slow, never wrong). The kill
    // timeout only ends a hung process.
    const results = await Promise.all(
      members.map((m) =>
        cli(
          [
            "projects",
            "add-iam-policy-binding",
            PROJECT,
            `--member=${m}`,
            "--role=roles/viewer",
            "--format=none",
          ],
          {},
          240_000,
        ),
      ),
    );
    const winners: string[] = [];
    for (const [i, r] of results.entries()) {
      if (r.code === 0) {
        winners.push(members[i]!);
        continue;
      }
      // A process that ran out of retries reports the server's ABORTED, and nothing else.
      assert.equal(r.code, 1, `process ${i}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, /409 There were concurrent policy changes/, `process ${i}: ${r.stderr}`);
    }
    assert.ok(winners.length > 0, "a stale etag means someone else won");
    t.diagnostic(
      `${winners.length} of ${members.length} processes landed their binding; the rest gave up with ABORTED`,
    );
    const policy = await okJson<{ bindings: { role: string; members: string[] }[] }>([
      "projects",
      "get-iam-policy",
      PROJECT,
    ]);
    const viewers = policy.bindings.find((b) => b.role === "roles/viewer")?.members ?? [];
    assert.deepEqual([...viewers].sort(), winners.sort(), "every winner's binding and no loser's");
    // The earlier binding is still there: no lost update.
    assert.ok(policy.bindings.some((b) => b.role === "roles/storage.objectAdmin"));
  });

  it("service-account IAM policy, update, disable/enable and delete", async () => {
    const pol = await okJson<{ bindings?: { role: string; members: string[] }[] }>([
      "iam",
      "service-accounts",
      "add-iam-policy-binding",
      SA_EMAIL,
      "--member=user:dev@example.com",
      "--role=roles/iam.serviceAccountUser",
    ]);
    assert.ok(
      pol.bindings?.some(
        (b) => b.role === "roles/iam.serviceAccountUser" && b.members.includes("user:dev@example.com"),
      ),
    );
    const got = await ok([
      "iam",
      "service-accounts",
      "get-iam-policy",
      SA_EMAIL,
      "--format=value(bindings.role)",
    ]);
    assert.match(got, /roles\/iam\.serviceAccountUser/);
    const upd = await okJson([
      "iam",
      "service-accounts",
      "update",
      SA_EMAIL,
      "--description",
      "runs the app",
    ]);
    assert.equal(upd.description, "runs the app");
    await ok(["iam", "service-accounts", "disable", SA_EMAIL]);
    assert.equal(
      (await ok(["iam", "service-accounts", "describe", SA_EMAIL, "--format=value(disabled)"])).trim(),
      "true",
    );
    await ok(["iam", "service-accounts", "enable", SA_EMAIL]);
    await ok(["iam", "service-accounts", "create", "to-delete-1", "--project", PROJECT]);
    await ok([
      "iam",
      "service-accounts",
      "delete",
      `to-delete-1@${PROJECT}.iam.gserviceaccount.com`,
      "--quiet",
    ]);
    const list = await ok(["iam", "service-accounts", "list", "--project", PROJECT, "--format=value(email)"]);
    assert.doesNotMatch(list, /to-delete-1/);
  });

  it("roles: list, describe (both spellings), create custom", async () => {
    assert.match(
      await ok(["iam", "roles", "list", "--format=value(name)"]),
      /^roles\/storage\.objectAdmin$/m,
    );
    const a = await okJson<{ includedPermissions: string[] }>([
      "iam",
      "roles",
      "describe",
      "roles/storage.objectAdmin",
    ]);
    const b = await okJson<{ includedPermissions: string[] }>([
      "iam",
      "roles",
      "describe",
      "storage.objectAdmin",
    ]);
    assert.deepEqual(a, b);
    assert.ok(a.includedPermissions.includes("storage.objects.get"));
    await ok([
      "iam",
      "roles",
      "create",
      "appReader",
      "--project",
      PROJECT,
      "--permissions",
      "storage.objects.get,storage.objects.list",
      "--title",
      "App reader",
      "--stage",
      "GA",
    ]);
    const custom = await okJson(["iam", "roles", "describe", "appReader", "--project", PROJECT]);
    assert.equal(custom.name, `projects/${PROJECT}/roles/appReader`);
    assert.match(
      await ok(["iam", "roles", "list", "--project", PROJECT, "--format=value(name)"]),
      /appReader/,
    );
  });

  it("delete an instance", async () => {
    await ok(["compute", "instances", "delete", "vm-1", "--zone", ZONE, "--project", PROJECT, "--quiet"]);
    const r = await cli(["compute", "instances", "list", "--project", PROJECT]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /Listed 0 items\./);
  });

  it("SIGTERM stops serve with exit code 0", async () => {
    assert.equal(await stopServe(), 0);
  });
});
