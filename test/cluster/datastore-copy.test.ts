/**
 * `warrant datastore copy --from=<state dir> --to=postgres://…`: an installation on SQLite moves to
 * PostgreSQL whole (documents, object bytes), verified by counts and a spot check, and a server on
 * the copy serves it: the same accounts, policies, objects and admin credential.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runCli } from "../cli/helpers.js";
import { createTestDatabase, dropTestDatabase, postgresUnavailable } from "../datastore/pg-fixture.js";
import { type Harness, startHarness } from "../support/harness.js";

const why = await postgresUnavailable();
const dbName = `warrant_copy_${process.pid}_${randomBytes(4).toString("hex")}`;

describe("warrant datastore copy", { skip: why ?? false, timeout: 120_000 }, () => {
  const dirs: string[] = [];
  const tmp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  after(async () => {
    await dropTestDatabase(dbName);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("moves an installation from SQLite to PostgreSQL, and a server on the copy serves it", async () => {
    const source = tmp("warrant-copy-src-");
    const h = await startHarness({ stateDir: source, agents: false });
    const sa = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "moved-account" },
    });
    assert.equal(sa.status, 200, sa.text);
    const bucket = await h.call("POST", "/storage/v1/b?project=demo-project", {
      body: { name: "moved-bucket" },
    });
    assert.equal(bucket.status, 200, bucket.text);
    const bytes = randomBytes(50_000);
    const up = await fetch(`${h.url}/upload/storage/v1/b/moved-bucket/o?uploadType=media&name=a/b.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/octet-stream" },
      body: bytes,
    });
    assert.equal(up.status, 200, await up.text());
    const policy = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;

    // While the server runs, the copy is refused: the source must not move.
    const url = await createTestDatabase(dbName);
    const busy = await runCli(["datastore", "copy", `--from=${source}`, `--to=${url}`]);
    assert.equal(busy.code, 1, busy.stderr);
    assert.match(busy.stderr, /another warrant serve/);
    await h.server.close();

    const blobDir = tmp("warrant-copy-blobs-");
    const copied = await runCli([
      "datastore",
      "copy",
      `--from=${source}`,
      `--to=${url}`,
      `--blob-dir=${blobDir}`,
    ]);
    assert.equal(copied.code, 0, copied.stderr);
    assert.match(copied.stdout, /Copied \d+ documents from .*warrant\.db to postgres:\/\//);
    assert.match(copied.stdout, /service-account +\d+/);
    assert.match(
      copied.stdout,
      /Verified: every kind's count matches, and \d+ sampled documents read back identical/,
    );
    assert.match(copied.stdout, /master\.key/);

    // Copying again into the now non-empty target writes nothing and says why.
    const again = await runCli(["datastore", "copy", `--from=${source}`, `--to=${url}`]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is not empty/);

    // A node on the copy: another state directory, the source's master key, the copied blobs.
    const masterKey = readFileSync(join(source, "master.key"), "utf8").trim();
    const node: Harness = await startHarness({
      stateDir: tmp("warrant-copy-node-"),
      datastore: url,
      masterKey,
      blobDir,
      agents: false,
    });
    try {
      // The source's admin credential works against the copy (its client and refresh token moved).
      const token = await node.tokenFor(join(source, "admin-credentials.json"));
      const got = await node.call("GET", `/v1/projects/demo-project/serviceAccounts/${sa.body.email}`, {
        token,
      });
      assert.equal(got.status, 200, got.text);
      assert.equal(got.body.uniqueId, sa.body.uniqueId);
      const p = await node.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {}, token });
      assert.deepEqual(p.body, policy);
      const obj = await fetch(`${node.url}/storage/v1/b/moved-bucket/o/a%2Fb.bin?alt=media`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(obj.status, 200);
      assert.ok(Buffer.from(await obj.arrayBuffer()).equals(bytes));
    } finally {
      await node.close();
    }
  });
});
