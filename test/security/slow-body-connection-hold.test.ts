/**
 * Attack (#12.4): connections that send their headers, announce a body and then trickle it (or
 * never finish their headers) held the server's descriptors for minutes. Now request headers must
 * arrive within a timeout, a body slower than the rate floor is cut off, one address cannot take
 * more than its share of connections (503 in Google's error JSON, with Retry-After), and stalled
 * connections give way to new ones; an upload at an honest speed is never cut off, however long.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";

const limits = {
  maxConnections: 60,
  maxConnectionsPerPeer: 8,
  headersTimeoutMs: 2_000,
  minBodyBytesPerSecond: 1024,
  bodyRateWindowMs: 2_000,
};
let h: Harness;
let port: number;
const sockets: Socket[] = [];
before(async () => {
  h = await startHarness({ agents: false, connectionLimits: limits });
  port = Number(new URL(h.url).port);
  await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: "slow-bucket" } });
});
after(async () => {
  for (const s of sockets) s.destroy();
  await h.close();
});

/** A raw connection from `localAddress`; resolves with everything it received when it closes. */
function open(
  localAddress: string,
  send: string,
): { socket: Socket; closed: Promise<string>; at: () => number } {
  const socket = connect({ port, host: "127.0.0.1", localAddress });
  sockets.push(socket);
  let got = "";
  let closedAt = 0;
  socket.on("data", (d) => (got += d.toString("latin1")));
  socket.on("error", () => {});
  socket.on("connect", () => socket.write(send));
  const closed = new Promise<string>((r) =>
    socket.once("close", () => {
      closedAt = Date.now();
      r(got);
    }),
  );
  return { socket, closed, at: () => closedAt };
}

const SLOW_TOKEN_REQUEST =
  "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\na";

async function auditLines(): Promise<Record<string, unknown>[]> {
  return readFileSync(join(h.stateDir, "audit.log"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test("a body below the rate floor is cut off after its window, and audited as 408 (not 500)", {
  timeout: 30_000,
}, async () => {
  const start = Date.now();
  const c = open("127.0.0.21", SLOW_TOKEN_REQUEST);
  const trickle = setInterval(() => c.socket.writable && c.socket.write("b"), 300);
  await c.closed;
  clearInterval(trickle);
  const ms = c.at() - start;
  assert.ok(ms >= limits.bodyRateWindowMs && ms < limits.bodyRateWindowMs + 3000, `closed after ${ms} ms`);
  let entry: Record<string, unknown> | undefined;
  for (const deadline = Date.now() + 5000; !entry && Date.now() < deadline; ) {
    entry = (await auditLines()).find((e) => e.path === "/token" && e.status === 408);
    if (!entry) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(entry, "the cut-off request is audited as 408");
  assert.match(String(entry.error), /slower than 1024 bytes\/s/);
});

test("headers that never complete: the connection is closed with 408 after the header timeout", {
  timeout: 30_000,
}, async () => {
  const start = Date.now();
  const c = open("127.0.0.22", "GET /v1/projects HTTP/1.1\r\nHost: x\r\n");
  const got = await c.closed;
  const ms = c.at() - start;
  assert.ok(ms >= limits.headersTimeoutMs && ms < limits.headersTimeoutMs + 3000, `closed after ${ms} ms`);
  assert.match(got, /^HTTP\/1\.1 408 /);
  assert.match(got, /"reason":"requestTimeout"/);
});

test("one address over its share gets 503 with Retry-After; once they stall, a new request is served", {
  timeout: 30_000,
}, async () => {
  const peer = "127.0.0.23";
  const held = Array.from({ length: limits.maxConnectionsPerPeer }, () => open(peer, SLOW_TOKEN_REQUEST));
  await Promise.all(held.map((c) => new Promise((r) => c.socket.once("connect", r))));
  // Every slot of this address is busy and fresh: the next connection is refused, not left hanging.
  const refused = await open(peer, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").closed;
  assert.match(refused, /^HTTP\/1\.1 503 /);
  assert.match(refused, /\r\nRetry-After: 1\r\n/i);
  const body = JSON.parse(refused.slice(refused.indexOf("\r\n\r\n") + 4));
  assert.equal(body.error.code, 503);
  assert.equal(body.error.status, "UNAVAILABLE");
  // Once those connections have stalled, a well-behaved request from the same address takes a slot.
  let served = "";
  for (const deadline = Date.now() + 5000; !served.startsWith("HTTP/1.1 200") && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 250));
    served = await open(peer, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").closed;
  }
  assert.match(served, /^HTTP\/1\.1 200 /);
  assert.ok(
    held.some((c) => c.socket.destroyed),
    "a stalled connection was shed for it",
  );
});

test("an upload at an honest pace outlasting several rate windows completes", {
  timeout: 30_000,
}, async () => {
  const chunk = Buffer.alloc(16 * 1024, 7);
  const chunks = 24; // 384 KiB at ~64 KiB/s: about 6 s, three rate windows
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      new URL("/upload/storage/v1/b/slow-bucket/o?uploadType=media&name=paced.bin", h.url),
      {
        method: "POST",
        headers: { authorization: `Bearer ${h.adminToken}`, "content-length": chunk.length * chunks },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    let sent = 0;
    const tick = setInterval(() => {
      req.write(chunk);
      if (++sent === chunks) {
        clearInterval(tick);
        req.end();
      }
    }, 250);
  });
  assert.equal(status, 200);
  const meta = await h.call("GET", "/storage/v1/b/slow-bucket/o/paced.bin");
  assert.equal(meta.body.size, String(chunk.length * chunks));
});
