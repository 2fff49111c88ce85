/**
 * `warrant serve` as a process: stdout is JSON log records only (`--log-format=json`, the default
 * off a terminal), a request's record carries the id its response names; SIGHUP reopens audit.log
 * by name after logrotate moved it, losing no line; bad --log-level / --log-format are usage errors.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type ServeProcess, spawnServe } from "../support/serve-process.js";
import { runCli } from "./helpers.js";

const stateDir = mkdtempSync(join(tmpdir(), "warrant-logs-"));
let serve: ServeProcess | undefined;
after(async () => {
  serve?.kill("SIGKILL");
  await serve?.exited;
  rmSync(stateDir, { recursive: true, force: true });
});

const requestIds = (file: string) =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { kind: string; requestId: string })
        .filter((e) => e.kind === "request")
        .map((e) => e.requestId)
    : [];

async function until(what: string, ok: () => boolean) {
  for (const deadline = Date.now() + 10_000; !ok(); ) {
    assert.ok(Date.now() < deadline, `timed out: ${what}\n${serve?.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("JSON records on stdout with request ids; SIGHUP reopens audit.log", { timeout: 60_000 }, async () => {
  let stdout = "";
  serve = spawnServe(stateDir, ["--metadata-port", "0", "--log-level", "debug"]);
  serve.child.stdout!.on("data", (d) => (stdout += d));
  const info = await serve.ready();
  const url = info.url as string;
  const audit = join(stateDir, "audit.log");

  const first = await fetch(`${url}/v1/projects/demo-project`, {
    headers: { "x-request-id": "before-rotate" },
  });
  assert.equal(first.status, 401);
  await until("first audit entry", () => requestIds(audit).includes("before-rotate"));

  renameSync(audit, `${audit}.1`);
  serve.kill("SIGHUP");
  await until("reopen logged", () => stdout.includes("SIGHUP: reopened audit.log"));
  const second = await fetch(`${url}/v1/projects/demo-project`, {
    headers: { "x-request-id": "after-rotate" },
  });
  assert.equal(second.status, 401);
  await until("second audit entry in the new file", () => requestIds(audit).includes("after-rotate"));
  assert.ok(requestIds(`${audit}.1`).includes("before-rotate"));
  assert.ok(!requestIds(`${audit}.1`).includes("after-rotate"), "the moved file got no new line");
  assert.ok(!requestIds(audit).includes("before-rotate"));

  serve.kill("SIGTERM");
  assert.equal(await serve.exited, 0, serve.output());
  // Every stdout line is a JSON record; the banner went to stderr.
  const records = stdout
    .trim()
    .split("\n")
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return assert.fail(`not JSON on stdout: ${l}`);
      }
    });
  assert.doesNotMatch(stdout, /Warrant is serving at/);
  assert.match(serve.output(), /Warrant is serving at/);
  for (const id of ["before-rotate", "after-rotate"]) {
    const r = records.find((x) => x.reqId === id);
    assert.equal(r?.status, 401, id);
    assert.equal(r?.level, "info");
    assert.equal(r?.route, "/v1/projects/{project}");
  }
});

test("--log-level and --log-format are checked", async () => {
  const level = await runCli(["serve", "--state-dir", stateDir, "--log-level", "loud"]);
  assert.equal(level.code, 2, level.stderr);
  assert.match(
    level.stderr,
    /--log-level: 'loud' is not one of: fatal, error, warn, info, debug, trace, silent/,
  );
  const format = await runCli(["serve", "--state-dir", stateDir, "--log-format", "xml"]);
  assert.equal(format.code, 2, format.stderr);
  assert.match(format.stderr, /--log-format: 'xml' is not one of: json, text/);
});
