/**
 * Paths no other test reaches: a client that goes away in the middle of a download, a metadata
 * server whose control plane is unreachable, and a datastore that fails while the server runs.
 * Each must give a clear answer in Google's shape (or the client's abort in the audit log), never a
 * crash, and work again once the cause is gone.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { request } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { type RunningAgent, startAgent } from "../../src/agent/agent.js";
import { type Harness, startHarness } from "../support/harness.js";
import { eventually } from "../support/poll.js";

const FLAVOR = { "Metadata-Flavor": "Google" };
const DEMO = "projects/demo-project/zones/us-central1-a/instances/demo-vm";

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON entries
const auditEntries = (h: Harness): any[] =>
  readFileSync(join(h.stateDir, "audit.log"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

/** The files under `dir` this process holds open (Linux: /proc/self/fd), or undefined elsewhere. */
function openFilesUnder(dir: string): string[] | undefined {
  if (!existsSync("/proc/self/fd")) return undefined;
  const out: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) out.push(target);
    } catch {}
  }
  return out;
}

describe("a client that aborts mid-download", () => {
  let h: Harness;
  const B = "abort-bucket";
  const size = 32 * 1024 * 1024;
  before(async () => {
    h = await startHarness();
    assert.equal(
      (await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: B } })).status,
      200,
    );
    const up = await fetch(`${h.url}/upload/storage/v1/b/${B}/o?uploadType=media&name=big.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/octet-stream" },
      body: randomBytes(size),
    });
    assert.equal(up.status, 200, await up.text());
  });
  after(() => h.close());

  test("is audited as 499, leaks no file descriptor, and the server goes on serving", async () => {
    const blobs = join(h.stateDir, "storage", "blobs");
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const req = request(`${h.url}/storage/v1/b/${B}/o/big.bin?alt=media`, {
        headers: { authorization: `Bearer ${h.adminToken}` },
      });
      req.on("response", (res) => {
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers["content-length"], String(size));
        res.on("data", (c: Buffer) => {
          received += c.length;
          // Gone after the first bytes: far less than the object, so the server is mid-stream.
          if (received > 0) req.destroy();
        });
        res.on("error", () => {});
      });
      req.on("error", () => {});
      req.on("close", () => resolve());
      req.on("timeout", () => reject(new Error("no answer")));
      req.end();
    });
    assert.ok(received < size, `the client stopped early (${received} of ${size} bytes)`);
    const entries = await eventually(
      "the aborted download audited",
      () =>
        auditEntries(h).filter(
          (e) =>
            e.method === "GET" &&
            (e.checks ?? []).some((c: { resource: string }) => c.resource.endsWith("/objects/big.bin")),
        ),
      (es) => es.length > 0,
    );
    assert.deepEqual(
      entries.map((e) => e.status),
      [499],
      "a client abort, not a success and not a server error",
    );
    const open = openFilesUnder(h.stateDir);
    if (open !== undefined) {
      // The probe sees this process's open files (the datastore is one), so an unclosed blob would show.
      assert.ok(
        open.some((f) => f.endsWith("warrant.db")),
        JSON.stringify(open),
      );
      await eventually(
        "the blob's descriptor closed",
        () => openFilesUnder(blobs) ?? [],
        (fds) => fds.length === 0,
      );
    }
    // The server is unharmed: the same object downloads whole.
    const whole = await fetch(`${h.url}/storage/v1/b/${B}/o/big.bin?alt=media`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    assert.equal(whole.status, 200);
    assert.equal((await whole.arrayBuffer()).byteLength, size);
  });
});

/** A TCP relay to `target` that can be cut (every connection reset, new ones refused) and restored. */
async function relay(
  target: URL,
): Promise<{ url: string; down(): void; up(): void; close(): Promise<void> }> {
  let isUp = true;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (!isUp) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    down() {
      isUp = false;
      for (const s of sockets) s.resetAndDestroy();
    },
    up() {
      isUp = true;
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

describe("a metadata server whose control plane is unreachable", () => {
  let h: Harness;
  let cp: Awaited<ReturnType<typeof relay>>;
  let agent: RunningAgent;
  const logs: string[] = [];
  const tokenPath = "/computeMetadata/v1/instance/service-accounts/default/token";
  const identityPath = (aud: string) =>
    `/computeMetadata/v1/instance/service-accounts/default/identity?audience=${aud}`;
  const get = async (path: string) => {
    const r = await fetch(`${agent.url}${path}`, { headers: FLAVOR });
    return {
      status: r.status,
      flavor: r.headers.get("metadata-flavor"),
      type: r.headers.get("content-type"),
      body: await r.text(),
    };
  };
  before(async () => {
    h = await startHarness();
    cp = await relay(new URL(h.url));
    const enrollment = (await h.call("POST", `/warrant/v1/${DEMO}:issueEnrollmentToken`)).body
      .enrollmentToken;
    agent = await startAgent({
      controlPlaneUrl: cp.url,
      enrollmentToken: enrollment,
      host: "127.0.0.1",
      port: 0,
      log: (l) => logs.push(l),
    });
  });
  after(async () => {
    await agent?.close();
    await cp?.close();
    await h?.close();
  });

  test("serves its cached token and metadata, answers 503 for what needs a mint, and recovers", async () => {
    const first = await get(tokenPath);
    assert.equal(first.status, 200, first.body);
    const token = JSON.parse(first.body).access_token;
    assert.equal((await get(identityPath("before"))).status, 200);

    cp.down();
    // What the agent already holds still works: the cached token, the instance's metadata.
    const cached = await get(tokenPath);
    assert.equal(cached.status, 200);
    assert.equal(JSON.parse(cached.body).access_token, token);
    assert.equal((await get("/computeMetadata/v1/instance/name")).body, "demo-vm");
    assert.equal((await get("/computeMetadata/v1/project/project-id")).body, "demo-project");
    // What needs the control plane fails cleanly, as GCE's metadata server does: 503, retry.
    const id = await get(identityPath("during"));
    assert.deepEqual([id.status, id.flavor, id.type], [503, "Google", "application/text"]);
    assert.equal(id.body, "The metadata server could not obtain a token; retry.\n");
    agent.cache.clear();
    const miss = await get(tokenPath);
    assert.deepEqual([miss.status, miss.flavor], [503, "Google"], miss.body);
    assert.ok(
      logs.some((l) => l.startsWith("agent: mint failed:")),
      `the failure is logged: ${logs.join("\n")}`,
    );

    cp.up();
    const back = await eventually(
      "a token once the control plane is back",
      () => get(tokenPath),
      (r) => r.status === 200,
    );
    assert.notEqual(JSON.parse(back.body).access_token, "");
    assert.equal((await get(identityPath("after"))).status, 200);
    assert.equal(
      agent.credentialRefused(),
      false,
      "an outage is not a refusal: the agent keeps its credential",
    );
  });
});

describe("a datastore that fails while the server runs", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("a write while another connection holds the database locked is a Google-shaped error; it works once released", async () => {
    const create = () =>
      h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
        body: { accountId: "while-locked", serviceAccount: { displayName: "x" } },
      });
    const email = "while-locked@demo-project.iam.gserviceaccount.com";
    // Another process's connection takes the write lock and keeps it (as a backup tool or a
    // second, misconfigured server might).
    const other = new Database(join(h.stateDir, "warrant.db"));
    try {
      other.pragma("busy_timeout = 0");
      other.exec("BEGIN EXCLUSIVE");
      const refused = await create();
      // Google's error shape: a 500 INTERNAL naming the request, or a 503 UNAVAILABLE to retry.
      const { error } = refused.body;
      if (refused.status === 503) {
        assert.equal(error.status, "UNAVAILABLE", refused.text);
      } else {
        assert.equal(refused.status, 500, refused.text);
        assert.equal(error.status, "INTERNAL");
        assert.match(error.message, /^Internal error encountered\. Request id: [0-9a-f-]{36}\.$/);
        assert.equal(error.errors[0].reason, "backendError");
      }
      assert.equal(error.code, refused.status);
      assert.doesNotMatch(refused.text, /SQLITE|sqlite|at .*\.js/, "no driver error or stack in the answer");
      // Reads go on meanwhile (WAL), and nothing of the refused write is visible.
      const read = await h.call("GET", `/v1/projects/demo-project/serviceAccounts/${email}`);
      assert.equal(read.status, 404, read.text);
      assert.equal((await h.call("GET", "/v1/projects/demo-project/serviceAccounts")).status, 200);
    } finally {
      if (other.inTransaction) other.exec("ROLLBACK");
      other.close();
    }
    // Released: the same write succeeds, in the same process.
    const created = await create();
    assert.equal(created.status, 200, created.text);
    assert.equal(created.body.email, email);
    assert.equal((await h.call("GET", `/v1/projects/demo-project/serviceAccounts/${email}`)).status, 200);
  });
});
