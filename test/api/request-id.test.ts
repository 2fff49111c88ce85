/**
 * Request ids: every API response names its request (`X-Request-Id`), error bodies carry it in a
 * `google.rpc.RequestInfo` detail, and the audit entry of the request has the same id, so a user
 * can quote it and an operator can find the request. Clients may choose it (`X-Request-Id`,
 * `traceparent`); anything malformed is replaced by a fresh id.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Caller } from "../../src/server/http/context.js";
import { Router } from "../../src/server/http/router.js";
import { createHttpServer, REQUEST_INFO_TYPE } from "../../src/server/http/server.js";
import { createLogger } from "../../src/server/log.js";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

interface Entry {
  kind: string;
  requestId: string;
  status?: number;
  path?: string;
  checks?: { permission: string; resource: string; allowed: boolean; denial?: string }[];
}

async function auditEntry(h: Harness, requestId: string): Promise<Entry> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = readFileSync(join(h.stateDir, "audit.log"), "utf8").trim().split("\n");
    const found = lines
      .map((l) => JSON.parse(l) as Entry)
      .find((e) => e.kind === "request" && e.requestId === requestId);
    if (found) return found;
    assert.ok(Date.now() < deadline, `no audit entry with requestId ${requestId}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("request ids", () => {
  let h: Harness;
  /** The structured log, JSON lines, at debug level so successes show too. */
  const lines: string[] = [];
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  before(async () => {
    h = await startHarness({
      agents: false,
      logger: createLogger({ format: "json", level: "debug", out: { write: (l) => lines.push(l) } }),
    });
  });
  after(() => h.close());

  test("a denied request: the body's RequestInfo, the X-Request-Id header and the audit entry agree", async () => {
    const token = await tokenAs(h, "user:nobody@example.com");
    const r = await h.call("GET", "/v1/projects/demo-project", { token });
    assert.equal(r.status, 403, r.text);
    const id = r.headers.get("x-request-id");
    assert.match(id ?? "", /^[0-9a-f-]{36}$/, "a fresh UUID when the client sent none");
    assert.deepEqual(r.body.error.details, [{ "@type": REQUEST_INFO_TYPE, requestId: id }]);
    const entry = await auditEntry(h, id!);
    assert.equal(entry.status, 403);
    assert.equal(entry.path, "/v1/projects/demo-project");
    assert.ok(entry.checks?.some((c) => !c.allowed && c.denial === "iam"));
    const logged = records().filter((r) => r.reqId === id);
    assert.equal(logged.length, 1, lines.join(""));
    assert.equal(logged[0]!.level, "info");
    assert.equal(logged[0]!.status, 403);
    assert.equal(logged[0]!.route, "/v1/projects/{project}");
    assert.equal(logged[0]!.principal, "user:nobody@example.com");
    assert.deepEqual(logged[0]!.denied, [
      { permission: "resourcemanager.projects.get", resource: entry.checks![0]!.resource, denial: "iam" },
    ]);
    assert.equal(logged[0]!.err, undefined, "no stack for a denial");
  });

  test("each request gets its own id; a success carries it in the header only", async () => {
    const a = await h.call("GET", "/v1/projects/demo-project");
    const b = await h.call("GET", "/v1/projects/demo-project");
    assert.equal(a.status, 200);
    assert.notEqual(a.headers.get("x-request-id"), b.headers.get("x-request-id"));
    assert.equal(a.body.details, undefined);
    assert.equal((await auditEntry(h, a.headers.get("x-request-id")!)).status, 200);
    const logged = records().find((r) => r.reqId === a.headers.get("x-request-id"));
    assert.equal(logged?.level, "debug", "a success is logged at debug");
  });

  test("a well-formed X-Request-Id from the client is used; a malformed one is replaced", async () => {
    const mine = "client-chosen.id:42";
    const r = await h.call("GET", "/v1/projects/no-such-project", { headers: { "x-request-id": mine } });
    assert.equal(r.headers.get("x-request-id"), mine);
    assert.equal(r.body.error.details[0].requestId, mine);
    assert.equal((await auditEntry(h, mine)).path, "/v1/projects/no-such-project");

    for (const bad of ["has space", "x".repeat(129), 'quote"inside', "new\\nline"]) {
      const b = await h.call("GET", "/v1/projects/demo-project", { headers: { "x-request-id": bad } });
      assert.equal(b.status, 200);
      assert.match(b.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/, `replaced: ${bad}`);
    }
  });

  test("a traceparent's trace id names the request; an all-zero trace id does not", async () => {
    const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const r = await h.call("GET", "/v1/projects/demo-project", {
      headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` },
    });
    assert.equal(r.headers.get("x-request-id"), trace);
    const zero = await h.call("GET", "/v1/projects/demo-project", {
      headers: { traceparent: `00-${"0".repeat(32)}-00f067aa0ba902b7-01` },
    });
    assert.notEqual(zero.headers.get("x-request-id"), "0".repeat(32));
    // X-Request-Id wins over traceparent.
    const both = await h.call("GET", "/v1/projects/demo-project", {
      headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01`, "x-request-id": "explicit-1" },
    });
    assert.equal(both.headers.get("x-request-id"), "explicit-1");
  });

  test("an unauthenticated request and an unknown route carry the id too", async () => {
    const r = await h.call("GET", "/v1/projects/demo-project", { token: "not-a-token" });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.details[0].requestId, r.headers.get("x-request-id"));
    const nf = await h.call("GET", "/no/such/route");
    assert.equal(nf.status, 404);
    assert.equal(nf.body.error.details[0].requestId, nf.headers.get("x-request-id"));
  });
});

describe("structured log of failures", () => {
  const admin = { principal: { kind: "user", email: "admin@warrant.local" } } as unknown as Caller;

  test("a server error logs its stack once, with the request id; a client abort logs none", async () => {
    const lines: string[] = [];
    const free: string[] = [];
    let release: () => void = () => {};
    const router = new Router()
      .add("GET", "/v1/projects/{project}", async () => {
        throw new Error("kaboom in the handler");
      })
      .add("GET", "/v1/projects/{project}/serviceAccounts", async (ctx) => {
        ctx.res.writeHead(200, { "Content-Type": "application/json", "Content-Length": "100" });
        ctx.res.write("{");
        await new Promise<void>((r) => {
          release = r;
        });
        throw new Error("premature close");
      });
    const server = createHttpServer({
      router,
      authenticator: { authenticate: async () => admin },
      audit: { record: () => {} },
      log: (l) => free.push(l),
      enforcement: "off",
      logger: createLogger({ format: "json", level: "info", out: { write: (l) => lines.push(l) } }),
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await fetch(`${url}/v1/projects/p`, { headers: { "x-request-id": "err-1" } });
      const body = (await r.json()) as { error: { details: { requestId: string }[] } };
      assert.equal(r.status, 500);
      assert.equal(body.error.details[0]!.requestId, "err-1");
      assert.doesNotMatch(JSON.stringify(body), /kaboom/, "no internals in the body");
      const all = lines.join("");
      assert.equal(all.match(/kaboom in the handler/g)?.length, 2, "message and stack, in one record");
      const rec = JSON.parse(lines.find((l) => l.includes("err-1"))!);
      assert.equal(rec.level, "error");
      assert.match(rec.err.stack, /\n\s+at /);
      assert.deepEqual(free, [], "not also logged as a free-text line");

      // The client gives up mid-response: 499, at info, no stack.
      const ac = new AbortController();
      const res = await fetch(`${url}/v1/projects/p/serviceAccounts`, {
        signal: ac.signal,
        headers: { "x-request-id": "abort-1" },
      });
      assert.equal(res.status, 200);
      ac.abort();
      await new Promise((r) => setTimeout(r, 100));
      release();
      const deadline = Date.now() + 3000;
      while (!lines.some((l) => l.includes("abort-1"))) {
        assert.ok(Date.now() < deadline, lines.join(""));
        await new Promise((r) => setTimeout(r, 20));
      }
      const aborted = JSON.parse(lines.find((l) => l.includes("abort-1"))!);
      assert.equal(aborted.status, 499);
      assert.equal(aborted.level, "info");
      assert.equal(aborted.err, undefined);
      assert.doesNotMatch(lines.join(""), /premature close/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    }
  });

  test("text format: readable lines with the request id and an indented stack", () => {
    const out: string[] = [];
    const logger = createLogger({ format: "text", level: "info", out: { write: (l) => out.push(l) } });
    logger.info({ reqId: "r-1", status: 403, route: "/v1/projects/{project}" }, "request");
    logger.error({ reqId: "r-2", err: new Error("boom") }, "request");
    logger.debug({ reqId: "r-3" }, "request");
    assert.match(
      out[0]!,
      /^\d{4}-\d\d-\d\dT\S+Z INFO {2}request reqId=r-1 status=403 route=\/v1\/projects\/\{project\}\n$/,
    );
    assert.match(out[1]!, /ERROR request reqId=r-2\n {4}Error: boom\n {4}\s+at /);
    assert.equal(out.length, 2, "below the level: nothing");
  });
});
