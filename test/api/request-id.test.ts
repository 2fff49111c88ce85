/**
 * Request ids: every API response names its request (`X-Request-Id`), error bodies carry it in a
 * `google.rpc.RequestInfo` detail, and the audit entry of the request has the same id, so a user
 * can quote it and an operator can find the request. Clients may choose it (`X-Request-Id`,
 * `traceparent`); anything malformed is replaced by a fresh id.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { REQUEST_INFO_TYPE } from "../../src/server/http/server.js";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

interface Entry {
  kind: string;
  requestId: string;
  status?: number;
  path?: string;
  checks?: { permission: string; allowed: boolean; denial?: string }[];
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
  before(async () => {
    h = await startHarness({ agents: false });
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
  });

  test("each request gets its own id; a success carries it in the header only", async () => {
    const a = await h.call("GET", "/v1/projects/demo-project");
    const b = await h.call("GET", "/v1/projects/demo-project");
    assert.equal(a.status, 200);
    assert.notEqual(a.headers.get("x-request-id"), b.headers.get("x-request-id"));
    assert.equal(a.body.details, undefined);
    assert.equal((await auditEntry(h, a.headers.get("x-request-id")!)).status, 200);
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
