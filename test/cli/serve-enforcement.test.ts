/** `warrant serve --enforcement` / WARRANT_ENFORCEMENT: validation, the startup warning, server.json. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { enforcementWarning, parseEnforcement } from "../../src/cli/commands/serve.js";
import { runCli } from "./helpers.js";

const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), "../../.."), "bin", "warrant.cjs");

/** Starts `warrant serve` on a fresh state dir, waits for server.json, stops it; returns its output. */
async function serveOnce(
  args: string[],
  env: Record<string, string>,
): Promise<{ info: Record<string, unknown>; out: string; code: number | null }> {
  const state = mkdtempSync(join(tmpdir(), "warrant-serve-enf-"));
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("WARRANT_")) clean[k] = v;
  const child = spawn(process.execPath, [BIN, "serve", "--state-dir", state, "--port", "0", ...args], {
    env: { ...clean, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  try {
    const deadline = Date.now() + 30_000;
    let info: Record<string, unknown> | undefined;
    while (!info || !out.includes("Press Ctrl-C to stop.")) {
      assert.ok(child.exitCode === null, `serve exited ${child.exitCode}:\n${out}`);
      assert.ok(Date.now() < deadline, `serve did not start:\n${out}`);
      const file = join(state, "server.json");
      if (existsSync(file)) {
        try {
          info = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
        } catch {}
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    child.kill("SIGTERM");
    return { info, out, code: await exited };
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(state, { recursive: true, force: true });
  }
}

describe("warrant serve --enforcement", { timeout: 120_000 }, () => {
  it("parseEnforcement: flag over environment over the default", () => {
    assert.equal(parseEnforcement(undefined, undefined), "enforce");
    assert.equal(parseEnforcement(undefined, ""), "enforce");
    assert.equal(parseEnforcement(undefined, "off"), "off");
    assert.equal(parseEnforcement("audit-only", "off"), "audit-only");
    assert.equal(parseEnforcement("enforce", "off"), "enforce");
    assert.throws(
      () => parseEnforcement("", undefined),
      /argument --enforcement: invalid enforcement mode ''/,
    );
    assert.throws(
      () => parseEnforcement(undefined, "AUDIT"),
      /WARRANT_ENFORCEMENT: invalid enforcement mode 'AUDIT'/,
    );
    assert.equal(enforcementWarning("enforce"), undefined);
    assert.match(enforcementWarning("off") ?? "", /^WARNING: enforcement is OFF/);
  });

  it("rejects an unknown mode before starting anything", async () => {
    const dir = mkdtempSync(join(tmpdir(), "warrant-serve-bad-"));
    try {
      const r = await runCli(["serve", "--state-dir", dir, "--port", "0", "--enforcement=audit"]);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /^ERROR: \(warrant\.serve\) argument --enforcement: invalid enforcement mode 'audit'\./,
      );
      assert.match(r.stderr, /Hint: Use one of: enforce, audit-only, off/);
      const env = await runCli(["serve", "--state-dir", dir, "--port", "0"], {
        env: { WARRANT_ENFORCEMENT: "permissive" },
      });
      assert.equal(env.code, 2);
      assert.match(env.stderr, /WARRANT_ENFORCEMENT: invalid enforcement mode 'permissive'/);
      assert.equal(existsSync(join(dir, "warrant.db")), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--enforcement=audit-only (over WARRANT_ENFORCEMENT=off): loud warning, recorded in server.json", async () => {
    const { info, out, code } = await serveOnce(["--enforcement=audit-only"], { WARRANT_ENFORCEMENT: "off" });
    assert.equal(code, 0, out);
    assert.equal(info.enforcement, "audit-only");
    assert.match(
      out,
      /^WARNING: enforcement is audit-only: calls that scopes or IAM would deny are ALLOWED/m,
    );
    assert.match(out, /^ {2}enforcement: {7}audit-only \(denials are logged, not enforced\)$/m);
  });

  it("WARRANT_ENFORCEMENT=off; the default enforce prints no warning", async () => {
    const off = await serveOnce([], { WARRANT_ENFORCEMENT: "off" });
    assert.equal(off.info.enforcement, "off");
    assert.match(off.out, /^WARNING: enforcement is OFF/m);
    const dflt = await serveOnce([], {});
    assert.equal(dflt.info.enforcement, "enforce");
    assert.doesNotMatch(dflt.out, /WARNING: enforcement|^ {2}enforcement:/m);
  });
});
