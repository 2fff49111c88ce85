/**
 * `warrant serve` lifecycle: /healthz and /readyz, and SIGTERM's drain — no new connections,
 * /readyz 503 on kept-alive ones, requests in flight (a 100 MB upload) finish within the deadline,
 * then the audit log is flushed and server.json removed.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { mintWithAdminCredential, type ServeProcess, spawnServe } from "../support/serve-process.js";

const stateDir = mkdtempSync(join(tmpdir(), "warrant-drain-"));
let serve: ServeProcess | undefined;
after(async () => {
  serve?.kill("SIGKILL");
  await serve?.exited;
  rmSync(stateDir, { recursive: true, force: true });
});

function get(url: string, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("SIGTERM during a 100 MB upload: /readyz turns 503, the upload completes, the server exits clean", {
  timeout: 120_000,
}, async () => {
  serve = spawnServe(stateDir, ["--drain-timeout", "60", "--metadata-port", "0"]);
  const info = await serve.ready();
  const url = info.url as string;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const health = await get(`${url}/healthz`, agent);
  assert.deepEqual([health.status, JSON.parse(health.body)], [200, { status: "ok" }]);
  const ready = await get(`${url}/readyz`, agent);
  assert.equal(ready.status, 200);
  assert.deepEqual(JSON.parse(ready.body), {
    status: "ready",
    checks: { datastore: true, keyRing: true, agents: true },
  });

  const { access_token: token } = (await (
    await mintWithAdminCredential(url, info.adminCredentialFile as string)
  ).json()) as { access_token: string };
  const bucket = await fetch(`${url}/storage/v1/b?project=demo-project`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "drain-bucket" }),
  });
  assert.equal(bucket.status, 200);

  const MB = 1024 * 1024;
  const chunk = Buffer.alloc(MB, 1);
  let signalled = false;
  const upload = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      `${url}/upload/storage/v1/b/drain-bucket/o?uploadType=media&name=big.bin`,
      { method: "POST", headers: { authorization: `Bearer ${token}`, "content-length": 100 * MB } },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    let sent = 0;
    const next = () => {
      if (sent === 100) return void req.end();
      sent++;
      if (sent === 20 && !signalled) {
        signalled = true;
        serve!.kill("SIGTERM");
      }
      // Paced: the upload is still under way well after the signal.
      if (req.write(chunk)) setTimeout(next, 15);
      else req.once("drain", () => setTimeout(next, 15));
    };
    next();
  });
  // Wait for the signal, then probe on the kept-alive connection: draining is not ready.
  while (!signalled) await new Promise((r) => setTimeout(r, 10));
  let drainingReady: { status: number; body: string } | undefined;
  for (const deadline = Date.now() + 3000; Date.now() < deadline; ) {
    drainingReady = await get(`${url}/readyz`, agent).catch(() => undefined);
    if (drainingReady?.status === 503) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(drainingReady?.status, 503, "readyz while draining");
  assert.deepEqual(JSON.parse(drainingReady!.body), { status: "draining" });

  const done = await upload;
  assert.equal(done.status, 200, done.body);
  assert.equal(JSON.parse(done.body).size, String(100 * MB));
  assert.equal(await serve.exited, 0, serve.output());
  assert.equal(existsSync(join(stateDir, "server.json")), false);
  const audit = readFileSync(join(stateDir, "audit.log"), "utf8");
  const uploadLine = audit
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line))
    .find((e) => e.kind === "request" && e.path === "/upload/storage/v1/b/drain-bucket/o");
  assert.equal(uploadLine?.status, 200, audit);
  agent.destroy();
});

test("a second signal while draining forces the exit (130), however soon it follows the first", {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "warrant-drain2-"));
  const proc = spawnServe(dir, ["--drain-timeout", "60", "--metadata-port", "0"]);
  try {
    const info = await proc.ready();
    const url = info.url as string;
    const cred = JSON.parse(readFileSync(info.adminCredentialFile as string, "utf8"));
    const { access_token: token } = (await (
      await fetch(`${url}/token`, {
        method: "POST",
        body: new URLSearchParams({ grant_type: "refresh_token", ...cred }),
      })
    ).json()) as { access_token: string };
    const made = await fetch(`${url}/storage/v1/b?project=demo-project`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "drain-bucket-2" }),
    });
    assert.equal(made.status, 200);
    // An upload that sends a first megabyte and then nothing: the drain waits for it.
    const req = request(`${url}/upload/storage/v1/b/drain-bucket-2/o?uploadType=media&name=held.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-length": 8 * 1024 * 1024 },
    });
    req.on("error", () => {});
    req.write(Buffer.alloc(1024 * 1024, 1));
    await new Promise((r) => setTimeout(r, 300));
    proc.kill("SIGTERM");
    for (const deadline = Date.now() + 10_000; !proc.output().includes("Received SIGTERM"); ) {
      assert.ok(Date.now() < deadline, `no drain began:\n${proc.output()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    proc.kill("SIGTERM");
    const code = await Promise.race([
      proc.exited,
      new Promise((r) => setTimeout(() => r("still running after 10 s"), 10_000)),
    ]);
    assert.equal(code, 130, proc.output());
    assert.doesNotMatch(proc.output(), /Stopped\./);
    req.destroy();
  } finally {
    proc.kill("SIGKILL");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
