/**
 * Attack/accident: the state-directory lock trusted the pid in `server.json`. After `kill -9` an
 * unrelated process reusing that pid blocked every start, an immediate restart failed, and two
 * `serve` processes started at once both ran on one database. Now `serve.lock` is a kernel lock
 * that dies with its holder.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type ServeProcess, spawnServe } from "../support/serve-process.js";

const dirs: string[] = [];
const children: ServeProcess[] = [];
const stateDir = () => {
  const d = mkdtempSync(join(tmpdir(), "warrant-lock-"));
  dirs.push(d);
  return d;
};
const serve = (dir: string) => {
  const s = spawnServe(dir, ["--metadata-port", "0"]);
  children.push(s);
  return s;
};
after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await Promise.all(children.map((c) => c.exited));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("a stale server.json naming a live, unrelated pid does not block a start", {
  timeout: 60_000,
}, async () => {
  const dir = stateDir();
  const unrelated = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  try {
    writeFileSync(
      join(dir, "server.json"),
      JSON.stringify({ url: "http://127.0.0.1:1", pid: unrelated.pid }),
    );
    const s = serve(dir);
    const info = await s.ready();
    assert.equal(info.pid, s.child.pid, "server.json now names the new server");
    s.kill();
    assert.equal(await s.exited, 0);
  } finally {
    unrelated.kill("SIGKILL");
  }
});

test("kill -9, then an immediate start on the same state directory starts", { timeout: 60_000 }, async () => {
  const dir = stateDir();
  const first = serve(dir);
  await first.ready();
  first.kill("SIGKILL");
  // No waiting for the exit to be observed: the kernel drops the lock as the process dies.
  const second = serve(dir);
  await second.ready();
  assert.equal(await first.exited, "SIGKILL");
  second.kill();
  assert.equal(await second.exited, 0);
});

test("two starts at the same moment: exactly one serves; the other names it and exits", {
  timeout: 60_000,
}, async () => {
  const dir = stateDir();
  const pair = [serve(dir), serve(dir)];
  const outcomes = await Promise.all(
    pair.map((s) =>
      Promise.race([s.ready().then(() => "serving" as const), s.exited.then(() => "exited" as const)]),
    ),
  );
  assert.deepEqual([...outcomes].sort(), ["exited", "serving"], pair.map((s) => s.output()).join("\n---\n"));
  const winner = pair[outcomes.indexOf("serving")]!;
  const loser = pair[outcomes.indexOf("exited")]!;
  assert.equal(await loser.exited, 1);
  assert.match(loser.output(), new RegExp(`another warrant serve \\(pid ${winner.child.pid}\\) is using`));
  assert.match(loser.output(), /serve\.lock/);
  winner.kill();
  // With its output: it once ended on SIGTERM instead (about 1 run in 9, not reproduced since).
  assert.equal(await winner.exited, 0, `the winner's output:\n${winner.output()}`);
});
