/**
 * Audit accuracy (#12.7): about half of successful curl downloads were audited as 500 with an
 * `ERR_STREAM_PREMATURE_CLOSE` stack in the server log, and every aborted request printed a full
 * stack (a flood grew the log to 16 MB). Now a complete download is a 200, a client that closes
 * early is audited as 499 with a note and no stack, and only real server errors log a stack.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { type Harness, startHarness } from "../support/harness.js";

const SIZE = 4 * 1024 * 1024;
const OBJECT = "/storage/v1/b/abort-bucket/o/big.bin";
let h: Harness;
const serverLog: string[] = [];
before(async () => {
  h = await startHarness({ agents: false, log: (l) => serverLog.push(l) });
  await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: "abort-bucket" } });
  const up = await fetch(`${h.url}/upload/storage/v1/b/abort-bucket/o?uploadType=media&name=big.bin`, {
    method: "POST",
    headers: { authorization: `Bearer ${h.adminToken}` },
    body: randomBytes(SIZE),
  });
  assert.equal(up.status, 200);
});
after(() => h.close());

function audit(): Record<string, unknown>[] {
  return readFileSync(join(h.stateDir, "audit.log"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The audit entries for `path` once there are `n` of them. */
async function entries(path: string, n: number, method = "GET"): Promise<Record<string, unknown>[]> {
  for (const deadline = Date.now() + 10_000; ; ) {
    const got = audit().filter((e) => e.path === path && e.method === method);
    if (got.length >= n || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads the response head and exactly Content-Length bytes, then closes at once, as curl does. */
function downloadThenClose(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect({ port: Number(new URL(h.url).port), host: "127.0.0.1" });
    let buf = Buffer.alloc(0);
    let need = -1;
    let got = 0;
    s.on("error", reject);
    s.on("connect", () =>
      s.write(`GET ${OBJECT}?alt=media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.adminToken}\r\n\r\n`),
    );
    s.on("data", (d: Buffer) => {
      if (need < 0) {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        need = Number(/\r\ncontent-length: (\d+)/i.exec(buf.subarray(0, end).toString())![1]);
        got = buf.length - end - 4;
      } else got += d.length;
      if (got >= need) {
        s.destroy();
        resolve(got);
      }
    });
  });
}

test("downloads read to the end and closed at once are audited 200, with no stack logged", {
  timeout: 60_000,
}, async () => {
  const before = (await entries(OBJECT, 0)).length;
  for (let i = 0; i < 20; i++) assert.equal(await downloadThenClose(), SIZE);
  const curl = spawnSync("curl", ["--version"]);
  const curlRuns = curl.status === 0 ? 10 : 0;
  for (let i = 0; i < curlRuns; i++) {
    // Asynchronously: the server runs in this process.
    const r = await promisify(execFile)("curl", [
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-H",
      `Authorization: Bearer ${h.adminToken}`,
      `${h.url}${OBJECT}?alt=media`,
    ]);
    assert.equal(r.stdout, "200");
  }
  const got = (await entries(OBJECT, before + 20 + curlRuns)).slice(before);
  assert.equal(got.length, 20 + curlRuns);
  assert.deepEqual(
    got.filter((e) => e.status !== 200).map((e) => [e.status, e.error]),
    [],
    "every complete download is a 200",
  );
  assert.equal(serverLog.filter((l) => /failed|PREMATURE|at /.test(l)).length, 0, serverLog.join("\n"));
});

test("a download abandoned halfway is audited 499 with a note, and logs no stack", {
  timeout: 60_000,
}, async () => {
  const before = (await entries(OBJECT, 0)).length;
  await new Promise<void>((resolve, reject) => {
    const req = request(
      new URL(`${OBJECT}?alt=media`, h.url),
      { headers: { authorization: `Bearer ${h.adminToken}` } },
      (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      },
    );
    req.on("error", () => {});
    req.on("close", () => resolve());
    req.once("error", reject);
    req.end();
  });
  const [entry] = (await entries(OBJECT, before + 1)).slice(before);
  assert.equal(entry?.status, 499);
  assert.match(String(entry?.error), /CLIENT_CLOSED/);
  assert.doesNotMatch(serverLog.join("\n"), /\n\s+at /, "no stack trace");
});

test("an upload the client abandons is audited 499, not 500 or 400, and logs no stack", {
  timeout: 60_000,
}, async () => {
  const path = "/upload/storage/v1/b/abort-bucket/o";
  const before = (await entries(path, 0, "POST")).length;
  await new Promise<void>((resolve) => {
    const req = request(new URL(`${path}?uploadType=media&name=cut.bin`, h.url), {
      method: "POST",
      headers: { authorization: `Bearer ${h.adminToken}`, "content-length": 1_000_000 },
    });
    req.on("error", () => resolve());
    req.write(randomBytes(100_000), () => setTimeout(() => req.destroy(), 100));
  });
  const [entry] = (await entries(path, before + 1, "POST")).slice(before);
  assert.equal(entry?.status, 499, JSON.stringify(entry));
  assert.match(String(entry?.error), /CLIENT_CLOSED/);
  assert.doesNotMatch(serverLog.join("\n"), /\n\s+at /, "no stack trace");
});
