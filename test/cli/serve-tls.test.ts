/** `warrant serve --tls --proxy`: the flags reach the server, its banner and server.json; misuse is a usage error. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli } from "./helpers.js";

const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), "../../.."), "bin", "warrant.cjs");

test("warrant serve --tls --proxy records httpsUrl, proxyUrl and the CA files, and says so", {
  timeout: 60_000,
}, async () => {
  const state = mkdtempSync(join(tmpdir(), "warrant-serve-tls-"));
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("WARRANT_")) clean[k] = v;
  const child = spawn(
    process.execPath,
    [BIN, "serve", "--state-dir", state, "--port", "0", "--tls", "--proxy"],
    {
      env: clean,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  try {
    const deadline = Date.now() + 30_000;
    while (!out.includes("Press Ctrl-C to stop.")) {
      assert.ok(child.exitCode === null, `serve exited ${child.exitCode}:\n${out}`);
      assert.ok(Date.now() < deadline, `serve did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const info = JSON.parse(readFileSync(join(state, "server.json"), "utf8"));
    assert.match(info.httpsUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.httpsUrl.replace("https:", "http:"), info.url);
    assert.match(info.proxyUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.caFile, join(state, "ca.pem"));
    assert.equal(info.caBundleFile, join(state, "ca-bundle.pem"));
    assert.ok(out.includes(`HTTPS:             ${info.httpsUrl}`), out);
    assert.ok(out.includes(`HTTPS proxy:       ${info.proxyUrl}`), out);
    assert.doesNotMatch(out, /PRIVATE KEY/);
    const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.equal(existsSync(join(state, "server.json")), false);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(state, { recursive: true, force: true });
  }
});

test("--proxy-port without --proxy is a usage error", async () => {
  const r = await runCli(["serve", "--proxy-port", "3128"], { env: {} });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--proxy-port: only with --proxy/);
});
