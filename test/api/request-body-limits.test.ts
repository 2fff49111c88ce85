/**
 * A request body over the limit is answered 413 with `Connection: close`, and the connection is
 * closed after that answer: a client never sends its next request on a connection the server is
 * about to drop (the connection pool of fetch, which a CI run once saw fail with "terminated" after
 * the server destroyed a kept-alive connection it had just answered 413 on).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { MAX_JSON_BODY_BYTES } from "../../src/server/http/body.js";
import { type Harness, startHarness } from "../support/harness.js";

describe("request bodies over the limit", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ agents: false });
  });
  after(() => h.close());

  const path = "/v1/projects/demo-project/serviceAccounts";
  const big = () => Buffer.alloc(MAX_JSON_BODY_BYTES + 1, 0x20);

  for (const mode of ["declared length", "chunked"] as const)
    test(`${mode}: 413 with Connection: close, and the next requests on the same client succeed`, async () => {
      for (let i = 0; i < 5; i++) {
        const body = mode === "chunked" ? new Blob([big()]).stream() : big();
        const r = await fetch(`${h.url}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/json" },
          body,
          ...(mode === "chunked" ? { duplex: "half" } : {}),
        } as RequestInit).catch((err: Error) => err);
        // A chunked upload may still be sending when the server closes: the client may see the
        // answer or a reset, never a hang, and never a broken next request.
        if (!(r instanceof Error)) {
          assert.equal(r.status, 413);
          assert.equal(r.headers.get("connection"), "close");
          assert.equal(((await r.json()) as { error: { code: number } }).error.code, 413);
        } else assert.equal(mode, "chunked", `a declared-length request got no answer: ${r.message}`);
        const next = await h.call("GET", "/v1/projects/demo-project");
        assert.equal(next.status, 200, `request after the 413, round ${i}`);
      }
    });

  // The OAuth endpoints answer in OAuth's shape, not Google's: the 413 must still close.
  for (const path of ["/token", "/v1/token", "/v1/introspect"])
    test(`${path}: a form over 64 KiB is a 413 invalid_request with Connection: close`, async () => {
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${h.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: `grant_type=refresh_token&pad=${"a".repeat(64 * 1024)}`,
        });
        assert.equal(r.status, 413);
        assert.equal(r.headers.get("connection"), "close");
        assert.equal(((await r.json()) as { error: string }).error, "invalid_request");
        const next = await h.call("GET", "/v1/projects/demo-project");
        assert.equal(next.status, 200, `request after the 413, round ${i}`);
      }
    });
});
