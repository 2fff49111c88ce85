/**
 * The audit log as an operator runs it: size-based rotation with retention (no line lost or split),
 * `warrant logs read` across rotated files with the result, request-id and time-range filters,
 * `--follow` across a rotation, and the copy on stdout for a log shipper.
 */
import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setFollowSignal } from "../../src/cli/commands/logs/read.js";
import type { Runtime } from "../../src/cli/io.js";
import { run } from "../../src/cli/main.js";
import { startHarness } from "../support/harness.js";
import { spawnServe } from "../support/serve-process.js";
import { runCli } from "./helpers.js";

const auditFilesIn = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^audit\.log(\.\d+)?$/.test(n))
    .sort();

async function workload(call: (i: number) => Promise<unknown>, n: number) {
  for (let i = 0; i < n; i++) await call(i);
}

describe("audit log: rotation, filters, --follow, stdout copy", { timeout: 120_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "warrant-audit-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("rotation by size loses and splits no line; logs read finds entries in rotated files by request id, result and time", async () => {
    const h = await startHarness({
      stateDir: join(dir, "rotation"),
      auditMaxBytes: 2048,
      auditMaxFiles: 100,
    });
    const times: string[] = [];
    try {
      await workload(async (i) => {
        times.push(new Date().toISOString());
        const r = await h.call("GET", "/v1/projects", { headers: { "x-request-id": `rot-${i}` } });
        assert.equal(r.status, 200);
      }, 40);
      for (const i of [0, 1, 2]) {
        const r = await h.call("GET", "/v1/projects", {
          token: null,
          headers: { "x-request-id": `anon-${i}` },
        });
        assert.equal(r.status, 401);
      }
    } finally {
      await h.close();
    }
    const files = auditFilesIn(h.stateDir);
    assert.ok(files.length >= 4, `rotated: ${files.join(", ")}`);
    const seen = new Map<string, number>();
    for (const f of files) {
      const text = readFileSync(join(h.stateDir, f), "utf8");
      assert.ok(statSync(join(h.stateDir, f)).size <= 2048, `${f} is larger than the limit`);
      assert.ok(text === "" || text.endsWith("\n"), `${f} ends mid-line`);
      for (const line of text.split("\n").filter(Boolean)) {
        const e = JSON.parse(line) as { requestId?: string };
        if (e.requestId) seen.set(e.requestId, (seen.get(e.requestId) ?? 0) + 1);
      }
    }
    for (let i = 0; i < 40; i++) assert.equal(seen.get(`rot-${i}`), 1, `rot-${i} logged once`);
    const env = { WARRANT_STATE_DIR: h.stateDir };
    const byId = await runCli(["logs", "read", "--request-id=rot-0", "--format=json"], { env });
    assert.equal(byId.code, 0, byId.stderr);
    const found = JSON.parse(byId.stdout) as { requestId: string; status: number; path: string }[];
    assert.deepEqual(
      found.map((e) => [e.requestId, e.status, e.path]),
      [["rot-0", 200, "/v1/projects"]],
    );
    const anon = await runCli(["logs", "read", "--result=401", "--format=value(requestId)"], { env });
    assert.deepEqual(anon.stdout.trim().split("\n"), ["anon-2", "anon-1", "anon-0"]);
    const cls = await runCli(
      ["logs", "read", "--result=4xx", "--kind=request", "--format=value(requestId)"],
      { env },
    );
    assert.deepEqual(cls.stdout.trim().split("\n"), ["anon-2", "anon-1", "anon-0"]);
    const allowed = await runCli(
      ["logs", "read", "--result=allowed", "--kind=request", "--limit=1000", "--format=value(requestId)"],
      { env },
    );
    assert.equal(
      allowed.stdout
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("rot-")).length,
      40,
    );
    // A time range: from the 10th request's start to the 20th's.
    const range = await runCli(
      [
        "logs",
        "read",
        `--after=${times[10]}`,
        `--before=${times[20]}`,
        "--kind=request",
        "--format=value(requestId)",
      ],
      { env },
    );
    const ids = range.stdout.trim().split("\n");
    assert.ok(ids.includes("rot-10") && ids.includes("rot-19"), ids.join(","));
    assert.ok(!ids.includes("rot-9") && !ids.includes("rot-21"), ids.join(","));
    const bad = await runCli(["logs", "read", "--result=maybe"], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /argument --result: invalid result \[maybe\]/);
    assert.match(bad.stderr, /allowed, denied, would-deny, issued, refused/);
  });

  test("retention: only audit.log.1 … audit.log.N are kept, the oldest deleted", async () => {
    const h = await startHarness({ stateDir: join(dir, "retention"), auditMaxBytes: 1024, auditMaxFiles: 2 });
    try {
      await workload((i) => h.call("GET", "/v1/projects", { headers: { "x-request-id": `ret-${i}` } }), 40);
    } finally {
      await h.close();
    }
    assert.deepEqual(auditFilesIn(h.stateDir), ["audit.log", "audit.log.1", "audit.log.2"]);
    const all = auditFilesIn(h.stateDir)
      .map((f) => readFileSync(join(h.stateDir, f), "utf8"))
      .join("");
    assert.match(all, /"requestId":"ret-39"/);
    assert.doesNotMatch(all, /"requestId":"ret-0"/);
  });

  test("--follow prints matching entries as they are appended, across a rotation, until stopped", async () => {
    const state = join(dir, "follow");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(state);
    const file = join(state, "audit.log");
    const entry = (id: string, principal: string) =>
      `${JSON.stringify({ time: new Date().toISOString(), kind: "request", requestId: id, principal, method: "GET", path: "/v1/projects", status: 200 })}\n`;
    writeFileSync(file, entry("old-1", "user:bob@example.com") + entry("old-2", "user:eve@example.com"));
    let stdout = "";
    const rt: Runtime = {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: () => true },
      env: { WARRANT_STATE_DIR: state },
      cwd: state,
      fetch: globalThis.fetch,
      stdinIsTTY: false,
    };
    const stop = new AbortController();
    setFollowSignal(stop.signal);
    const done = run(["logs", "read", "--follow", "--format=json", "--principal=bob@example.com"], rt);
    const waitFor = async (id: string) => {
      const deadline = Date.now() + 10_000;
      while (!stdout.includes(`"${id}"`)) {
        assert.ok(Date.now() < deadline, `${id} not printed; got:\n${stdout}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await waitFor("old-1");
      appendFileSync(file, entry("new-1", "user:bob@example.com") + entry("skip-1", "user:eve@example.com"));
      await waitFor("new-1");
      // Rotated as the server does: the last lines go to the old file, then a new file starts.
      appendFileSync(file, entry("new-2", "user:bob@example.com"));
      renameSync(file, `${file}.1`);
      writeFileSync(file, entry("new-3", "user:bob@example.com"));
      await waitFor("new-3");
    } finally {
      stop.abort();
      setFollowSignal(undefined);
    }
    assert.equal(await done, 0);
    const ids = stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { requestId: string }).requestId);
    assert.deepEqual(ids, ["old-1", "new-1", "new-2", "new-3"]);
  });

  test("serve --audit-stdout: each audit entry is also a JSON record on stdout, whatever the log level", async () => {
    const state = join(dir, "stdout");
    const s = spawnServe(state, ["--audit-stdout", "--log-format=json", "--log-level=error"]);
    try {
      const info = await s.ready();
      const res = await fetch(`${info.url}/v1/projects`, { headers: { "x-request-id": "shipped-1" } });
      assert.equal(res.status, 401);
      const deadline = Date.now() + 10_000;
      let record: { msg?: string; audit?: { requestId?: string; status?: number } } | undefined;
      while (!record) {
        assert.ok(Date.now() < deadline, s.output());
        record = s
          .output()
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as typeof record)
          .find((r) => r?.msg === "audit" && r.audit?.requestId === "shipped-1");
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(record.audit?.status, 401);
    } finally {
      s.kill();
      await s.exited;
    }
  });
});
