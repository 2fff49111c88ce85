/**
 * Three `warrant serve` processes on one PostgreSQL database and one blob directory: an object
 * uploaded through one node is read through another, and a resumable upload started at node B,
 * which is killed with SIGKILL in the middle of a chunk, completes through node C with the right
 * checksums.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { crc32c } from "@node-rs/crc32";
import { createTestDatabase, dropTestDatabase, postgresUnavailable } from "../datastore/pg-fixture.js";
import { type ClusterNode, startNode } from "../support/cluster.js";

const why = await postgresUnavailable();
const dbName = `warrant_blobs_${process.pid}_${randomBytes(4).toString("hex")}`;

type Node = ClusterNode;

describe("nodes sharing a blob directory", { skip: why ?? false, timeout: 120_000 }, () => {
  const dirs: string[] = [];
  const nodes: Node[] = [];
  let blobDir: string;
  before(async () => {
    const url = await createTestDatabase(dbName);
    blobDir = mkdtempSync(join(tmpdir(), "warrant-shared-blobs-"));
    dirs.push(blobDir);
    const env = { WARRANT_MASTER_KEY: randomBytes(32).toString("base64") };
    const start = async () => {
      const node = await startNode([`--datastore=${url}`, `--blob-dir=${blobDir}`], env);
      dirs.push(node.stateDir);
      return node;
    };
    nodes.push(await start());
    nodes.push(...(await Promise.all([start(), start()])));
  });
  after(async () => {
    for (const n of nodes) n.proc.kill("SIGKILL");
    await Promise.all(nodes.map((n) => n.proc.exited));
    await dropTestDatabase(dbName);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("an object written through one node is read through the others", async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    const bucket = `shared-${randomBytes(4).toString("hex")}`;
    const made = await fetch(`${a.url}/storage/v1/b?project=demo-project`, {
      method: "POST",
      headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: bucket }),
    });
    assert.equal(made.status, 200, await made.text());
    const body = randomBytes(100_000);
    const put = await fetch(`${b.url}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=one`, {
      method: "POST",
      headers: { authorization: `Bearer ${b.token}`, "content-type": "application/octet-stream" },
      body,
    });
    assert.equal(put.status, 200, await put.text());
    for (const n of [a, c]) {
      const got = await fetch(`${n.url}/storage/v1/b/${bucket}/o/one?alt=media`, {
        headers: { authorization: `Bearer ${n.token}` },
      });
      assert.equal(got.status, 200);
      assert.ok(Buffer.from(await got.arrayBuffer()).equals(body), "the same bytes from every node");
    }
  });

  it("a resumable upload started at node B and killed there mid-chunk completes through node C", async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    const bucket = `resume-${randomBytes(4).toString("hex")}`;
    const made = await fetch(`${a.url}/storage/v1/b?project=demo-project`, {
      method: "POST",
      headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: bucket }),
    });
    assert.equal(made.status, 200, await made.text());
    const total = 3 * 1024 * 1024;
    const data = randomBytes(total);
    const initiated = await fetch(
      `${b.url}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=big.bin`,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${b.token}`,
          "content-type": "application/json",
          "x-upload-content-length": String(total),
        },
        body: "{}",
      },
    );
    assert.equal(initiated.status, 200, await initiated.text());
    const session = new URL(initiated.headers.get("location")!);
    const chunk = 1024 * 1024;
    // The first chunk through B.
    const first = await fetch(session, {
      method: "PUT",
      headers: { "content-range": `bytes 0-${chunk - 1}/${total}` },
      body: data.subarray(0, chunk),
    });
    assert.equal(first.status, 308, await first.text());
    // The second chunk through B, which is killed with half of it sent.
    await new Promise<void>((resolve) => {
      const req = request(session, {
        method: "PUT",
        headers: { "content-range": `bytes ${chunk}-${2 * chunk - 1}/${total}`, "content-length": chunk },
      });
      req.on("error", () => resolve());
      req.on("response", () => resolve());
      req.write(data.subarray(chunk, chunk + chunk / 2), () => {
        setTimeout(() => {
          b.proc.kill("SIGKILL");
          b.proc.exited.then(() => resolve());
        }, 200);
      });
    });
    assert.equal(await b.proc.exited, "SIGKILL");

    // The same session URI at node C: ask where to resume, then send the rest.
    const atC = new URL(`${session.pathname}${session.search}`, c.url);
    const status = await fetch(atC, { method: "PUT", headers: { "content-range": `bytes */${total}` } });
    assert.equal(status.status, 308, await status.text());
    const range = status.headers.get("range");
    const persisted = range ? Number(/^bytes=0-(\d+)$/.exec(range)![1]) + 1 : 0;
    assert.ok(persisted >= chunk, `the first chunk survived B (persisted ${persisted})`);
    const rest = await fetch(atC, {
      method: "PUT",
      headers: { "content-range": `bytes ${persisted}-${total - 1}/${total}` },
      body: data.subarray(persisted),
    });
    const done = await rest.json();
    assert.equal(rest.status, 200, JSON.stringify(done));
    assert.equal(Number(done.size), total);
    assert.equal(done.md5Hash, createHash("md5").update(data).digest("base64"));
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32c(data) >>> 0);
    assert.equal(done.crc32c, crc.toString("base64"));
    // Node A serves the same bytes.
    const got = await fetch(`${a.url}/storage/v1/b/${bucket}/o/big.bin?alt=media`, {
      headers: { authorization: `Bearer ${a.token}` },
    });
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
  });
});
