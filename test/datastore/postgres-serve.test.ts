/**
 * `warrant serve --datastore=postgres://…`: a real server on PostgreSQL end to end (service account,
 * policies with etags, a minted token, an upload, a restart), and the errors an operator gets when
 * the database is unreachable, missing, not Warrant's, or from a newer Warrant.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseDatastore } from "../../src/cli/commands/serve.js";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import {
  adminUrl,
  createTestDatabase,
  dropTestDatabase,
  postgresUnavailable,
  withDatabase,
} from "./pg-fixture.js";

const why = await postgresUnavailable();
const run = `warrant_serve_${process.pid}_${randomBytes(4).toString("hex")}`;
const databases: string[] = [];
async function database(suffix: string): Promise<string> {
  const name = `${run}_${suffix}`;
  databases.push(name);
  return createTestDatabase(name);
}

describe("warrant serve on PostgreSQL", { skip: why ?? false, timeout: 120_000 }, () => {
  after(async () => {
    for (const d of databases) await dropTestDatabase(d);
  });

  describe("a server on PostgreSQL", () => {
    let h: Harness;
    let url: string;
    const logs: string[] = [];
    before(async () => {
      url = await database("e2e");
      h = await startHarness({ datastore: url, log: (l) => logs.push(l) });
    });
    after(async () => {
      await h?.close();
    });

    it("keeps its state in the database: service account, policies, a minted token, an upload, a restart", async () => {
      assert.equal(h.server.datastore, url);
      const created = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
        body: { accountId: "pg-runner" },
      });
      assert.equal(created.status, 200, created.text);
      const sa = created.body.email as string;
      // Found by unique id (the index) too.
      const byId = await h.call("GET", `/v1/projects/-/serviceAccounts/${created.body.uniqueId}`);
      assert.equal(byId.status, 200, byId.text);
      assert.equal(byId.body.email, sa);

      // Project policy: the account may write objects; a write with a stale etag is refused with 409.
      const policy = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
      const next = {
        ...policy,
        bindings: [...policy.bindings, { role: "roles/storage.admin", members: [`serviceAccount:${sa}`] }],
      };
      const set = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: next } });
      assert.equal(set.status, 200, set.text);
      const stale = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", {
        body: { policy: next },
      });
      assert.equal(stale.status, 409, stale.text);
      assert.equal(stale.body.error.status, "ABORTED");

      // The administrator may mint the account's tokens (its own policy), then mints one and uploads with it.
      const saPolicy = await h.call("POST", `/v1/projects/-/serviceAccounts/${sa}:setIamPolicy`, {
        body: {
          policy: {
            bindings: [
              { role: "roles/iam.serviceAccountTokenCreator", members: ["user:admin@warrant.local"] },
            ],
          },
        },
      });
      assert.equal(saPolicy.status, 200, saPolicy.text);
      const minted = await h.call("POST", `/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`, {
        body: { scope: ["https://www.googleapis.com/auth/cloud-platform"] },
      });
      assert.equal(minted.status, 200, minted.text);
      const token = minted.body.accessToken as string;
      const bucket = await h.call("POST", "/storage/v1/b?project=demo-project", {
        token,
        body: { name: `pg-bucket-${randomBytes(3).toString("hex")}` },
      });
      assert.equal(bucket.status, 200, bucket.text);
      const put = await fetch(
        `${h.url}/upload/storage/v1/b/${bucket.body.name}/o?uploadType=media&name=hello.txt`,
        {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" },
          body: "hello from postgres",
        },
      );
      assert.equal(put.status, 200, await put.clone().text());

      // State is in PostgreSQL, not in a SQLite file, and survives a restart.
      assert.equal(existsSync(join(h.stateDir, "warrant.db")), false);
      const rows = await withDatabase(url, (c) =>
        c.query("SELECT count(*)::int AS n FROM documents WHERE kind = 'service-account' AND key = $1", [sa]),
      );
      assert.equal(rows.rows[0].n, 1);
      await h.restart();
      h.adminToken = await h.tokenFor(h.server.adminCredentialFile);
      const after = await h.call("GET", `/v1/projects/-/serviceAccounts/${sa}`);
      assert.equal(after.status, 200, after.text);
      const media = await fetch(`${h.url}/storage/v1/b/${bucket.body.name}/o/hello.txt?alt=media`, {
        headers: { authorization: `Bearer ${h.adminToken}` },
      });
      assert.equal(await media.text(), "hello from postgres");
    });

    it("a database that stops taking connections: 503 with Retry-After, nothing internal leaked; then it recovers", async () => {
      const db = new URL(url).pathname.slice(1);
      await withDatabase(adminUrl(), async (c) => {
        await c.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS false`);
        await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [db]);
      });
      try {
        const r = await h.call("GET", "/v1/projects/demo-project/serviceAccounts");
        assert.equal(r.status, 503, r.text);
        assert.equal(r.body.error.status, "UNAVAILABLE");
        assert.ok(Number(r.headers.get("retry-after")) > 0);
        assert.doesNotMatch(r.text, /postgres|5432|ECONN/i);
        assert.ok(
          logs.some((l) => /not accepting connections|lost the connection/.test(l)),
          "the cause is in the server's log",
        );
      } finally {
        await withDatabase(adminUrl(), (c) => c.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS true`));
      }
      const again = await h.call("GET", "/v1/projects/demo-project/serviceAccounts");
      assert.equal(again.status, 200, again.text);
      // The one-server lock went with the terminated session: the server claims it again.
      const deadline = Date.now() + 20_000;
      while (!logs.some((l) => /holds the one-server lock of .* again/.test(l))) {
        assert.ok(Date.now() < deadline, `the lock was not claimed again:\n${logs.join("\n")}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    });

    it("a second server on the same database is refused, naming the first (also after the first lost and regained its lock)", async () => {
      const other = mkdtempSync(join(tmpdir(), "warrant-pg-second-"));
      try {
        const r = await runCli(["serve", "--state-dir", other, "--port", "0", `--datastore=${url}`]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          r.stderr,
          /another `warrant serve` already uses this datastore \(connected from 127\.0\.0\.1 since /,
        );
        assert.equal(existsSync(join(other, "server.json")), false);
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
      // The first server is unaffected.
      assert.equal((await h.call("GET", "/v1/projects/demo-project/serviceAccounts")).status, 200);
    });

    it("closing the server closes the pool only after its users: no use-after-end in the logs", async () => {
      const mark = logs.length;
      await h.close();
      await new Promise((r) => setTimeout(r, 200));
      const bad = logs.slice(mark).filter((l) => /pool|datastore is closed|Connection terminated/i.test(l));
      assert.deepEqual(bad, []);
      h = undefined as unknown as Harness;
    });
  });

  describe("errors", () => {
    const dir = mkdtempSync(join(tmpdir(), "warrant-pg-errors-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const serve = (datastore: string, env: Record<string, string> = {}) =>
      runCli(["serve", "--state-dir", dir, "--port", "0", `--datastore=${datastore}`], { env });

    it("an unreachable server: a clear error naming it, without the password", async () => {
      const r = await serve("postgres://postgres:s3cret-pw@127.0.0.1:1/test");
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Cannot open the datastore postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test/);
      assert.match(r.stderr, /cannot reach PostgreSQL/);
      assert.doesNotMatch(r.stderr + r.stdout, /s3cret-pw/);
      assert.equal(existsSync(join(dir, "server.json")), false);
    });

    it("WARRANT_DATASTORE_URL is used when the flag is absent, and a database that does not exist is named", async () => {
      const u = new URL(adminUrl());
      u.pathname = `/${run}_missing`;
      const r = await runCli(["serve", "--state-dir", dir, "--port", "0"], {
        env: { WARRANT_DATASTORE_URL: u.toString() },
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`database "${run}_missing" does not exist`));
    });

    it("a database written by a newer Warrant is refused, and so is one that is not Warrant's", async () => {
      const newer = await database("newer");
      await withDatabase(newer, async (c) => {
        await c.query("CREATE TABLE schema_version (version integer NOT NULL)");
        await c.query("INSERT INTO schema_version VALUES (99)");
      });
      const r = await serve(newer);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /written by a newer Warrant \(schema 99, this build knows 2\); upgrade Warrant/);
      const foreign = await database("foreign");
      await withDatabase(foreign, (c) => c.query("CREATE TABLE documents (id int)"));
      const f = await serve(foreign);
      assert.equal(f.code, 1, f.stderr);
      assert.match(f.stderr, /not a Warrant datastore/);
    });

    it("a value that is not a postgres URL is a usage error before anything starts", async () => {
      const r = await serve("mysql://root@127.0.0.1/warrant");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /argument --datastore: expected a postgres:\/\/ URL/);
      assert.throws(() => parseDatastore(undefined, "postgres://u:pw@h"), /names no database/);
      assert.throws(() => parseDatastore(undefined, "nonsense"), /WARRANT_DATASTORE_URL: expected/);
      assert.equal(parseDatastore(undefined, ""), undefined);
      assert.equal(parseDatastore("postgres://u@h/db", "ignored"), "postgres://u@h/db");
    });
  });
});
