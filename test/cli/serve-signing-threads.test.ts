/**
 * `warrant serve` signs minted tokens on libuv's threadpool, and `bin/warrant.cjs` sizes that pool
 * before anything starts it (bin/threadpool-size.cjs: one thread per core, at least 2), unless
 * UV_THREADPOOL_SIZE is already set. The pool is sized once, when first used, so a size given too
 * late would be ignored: the test counts the process's threads, not only what the server reports.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { mintWithAdminCredential, type ServeProcess, spawnServe } from "../support/serve-process.js";

const { threadpoolSize } = createRequire(import.meta.url)("../../../bin/threadpool-size.cjs") as {
  threadpoolSize(): number;
};
/** libuv's own default, which a size applied too late would leave. */
const LIBUV_DEFAULT = 4;

const dirs: string[] = [];
const running: ServeProcess[] = [];
after(async () => {
  for (const s of running) {
    s.kill("SIGKILL");
    await s.exited;
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A server started with this UV_THREADPOOL_SIZE ("" = unset), after one mint: its gauge and its thread count. */
async function serveWith(size: string) {
  const stateDir = mkdtempSync(join(tmpdir(), "warrant-threads-"));
  dirs.push(stateDir);
  const serve = spawnServe(stateDir, ["--metadata-port", "0"], { UV_THREADPOOL_SIZE: size });
  running.push(serve);
  const info = await serve.ready();
  const minted = await mintWithAdminCredential(info.url as string, info.adminCredentialFile as string);
  assert.equal(minted.status, 200, await minted.clone().text());
  const metrics = await (await fetch(`${info.url}/metrics`)).text();
  const gauge = Number(/^warrant_signing_threads (\d+)$/m.exec(metrics)?.[1]);
  const inline = Number(/^warrant_signatures_on_event_loop_total (\d+)$/m.exec(metrics)?.[1]);
  const threads = readdirSync(`/proc/${serve.child.pid}/task`).length;
  serve.kill("SIGTERM");
  await serve.exited;
  return { gauge, inline, threads };
}

test("unset: the server's size (one thread per core, at least 2); set: the operator's size, really", {
  timeout: 90_000,
  skip: process.platform !== "linux" ? "counts threads in /proc" : false,
}, async () => {
  const expected = threadpoolSize();
  const byDefault = await serveWith("");
  assert.equal(byDefault.gauge, expected);
  assert.equal(byDefault.inline, 0, "the mint was signed off the event loop");
  const larger = await serveWith(String(expected + 5));
  assert.equal(larger.gauge, expected + 5);
  // The same server, the same work: the only difference is the threadpool's size.
  assert.equal(larger.threads - byDefault.threads, 5, JSON.stringify({ byDefault, larger }));
  // Where the size differs from libuv's own default, the count shows it was applied before the
  // pool started (an ES module entry could not: its loader starts the pool first).
  if (expected !== LIBUV_DEFAULT) {
    const libuvDefault = await serveWith(String(LIBUV_DEFAULT));
    assert.equal(libuvDefault.threads - byDefault.threads, LIBUV_DEFAULT - expected);
  }
});
