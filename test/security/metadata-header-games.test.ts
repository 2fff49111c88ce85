/**
 * Attack: reach an instance's metadata server from something that is not a workload asking on
 * purpose — an SSRF'd HTTP client that cannot set headers, a proxy that forwards, a web page in a
 * browser — or walk out of its tree. The metadata server answers data only with exactly
 * `Metadata-Flavor: Google`, refuses anything forwarded, offers no CORS, and treats its paths as
 * names, never as files. (test/agent/mds.test.ts covers the header's case-insensitive name, the
 * exact value and a single X-Forwarded-For as part of GCE's surface.)
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";

const DEMO = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
const TOKEN = "/computeMetadata/v1/instance/service-accounts/default/token";

/** A raw request: the path and headers go out exactly as given (fetch would normalize both). */
function raw(
  hostPort: string,
  path: string,
  headers: [string, string][],
  method = "GET",
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const [host, port] = hostPort.split(":") as [string, string];
  return new Promise((resolve, reject) => {
    // A name given twice goes out as two header lines.
    const out: Record<string, string[]> = {};
    for (const [k, v] of headers) out[k] = [...(out[k] ?? []), v];
    const req = request(
      {
        host,
        port: Number(port),
        path,
        method,
        headers: out,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("attack: metadata header games", () => {
  let h: Harness;
  let mds: string;
  const FLAVOR: [string, string] = ["Metadata-Flavor", "Google"];
  before(async () => {
    h = await startHarness();
    mds = h.server.metadataServers()[DEMO]!;
  });
  after(() => h.close());

  test("the control: the header alone gets a token", async () => {
    const r = await raw(mds, TOKEN, [FLAVOR]);
    assert.equal(r.status, 200, r.body);
    assert.ok(JSON.parse(r.body).access_token);
  });

  // (Surrounding blanks are not part of a header's value in HTTP, so "Google " is the header.)
  test("a missing, wrong, empty or duplicated Metadata-Flavor gets no token", async () => {
    for (const [name, headers] of [
      ["missing", []],
      ["lower-case value", [["Metadata-Flavor", "google"]]],
      ["empty", [["Metadata-Flavor", ""]]],
      ["duplicated", [FLAVOR, FLAVOR]],
      ["listed", [["Metadata-Flavor", "Google, Google"]]],
      ["another flavor header", [["X-Google-Metadata-Request", "True"]]],
    ] as [string, [string, string][]][]) {
      const r = await raw(mds, TOKEN, headers);
      assert.equal(r.status, 403, `${name}: ${r.body}`);
      assert.doesNotMatch(r.body, /access_token/, name);
    }
  });

  test("anything forwarded is refused: X-Forwarded-For, Forwarded, both, empty", async () => {
    for (const extra of [
      [["X-Forwarded-For", "10.0.0.1"]],
      [["X-Forwarded-For", "127.0.0.1"]],
      [["X-Forwarded-For", ""]],
      [["Forwarded", "for=10.0.0.1"]],
      [
        ["Forwarded", "for=127.0.0.1"],
        ["X-Forwarded-For", "127.0.0.1"],
      ],
    ] as [string, string][][]) {
      const r = await raw(mds, TOKEN, [FLAVOR, ...extra]);
      assert.equal(r.status, 403, `${JSON.stringify(extra)}: ${r.body}`);
      assert.match(r.body, /Forwarded requests are not allowed/);
    }
  });

  test("a browser page gets no CORS: its preflight is refused and no answer allows an origin", async () => {
    const preflight = await raw(
      mds,
      TOKEN,
      [
        ["Origin", "http://evil.example"],
        ["Access-Control-Request-Method", "GET"],
        ["Access-Control-Request-Headers", "metadata-flavor"],
      ],
      "OPTIONS",
    );
    assert.equal(preflight.status, 405);
    const withOrigin = await raw(mds, TOKEN, [FLAVOR, ["Origin", "http://evil.example"]]);
    for (const r of [preflight, withOrigin])
      for (const k of Object.keys(r.headers)) assert.doesNotMatch(k, /^access-control-/, k);
    // A simple (no-preflight) cross-origin request cannot carry the header, so it gets nothing.
    const simple = await raw(mds, TOKEN, [["Origin", "http://evil.example"]]);
    assert.equal(simple.status, 403);
  });

  test("paths are names, not files: traversal and encoded dots reach nothing", async () => {
    for (const path of [
      "/computeMetadata/v1/../../etc/passwd",
      "/computeMetadata/v1/instance/../../../../etc/passwd",
      "/computeMetadata/v1/%2e%2e/%2e%2e/etc/passwd",
      "/computeMetadata/v1/instance/service-accounts/default/%2e%2e/default/token",
      "/computeMetadata/v1/instance/service-accounts/..%2f..%2f..%2fetc%2fpasswd",
      "/computeMetadata/v1/instance/service-accounts/default/token/../token",
    ]) {
      const r = await raw(mds, path, [FLAVOR]);
      assert.ok(r.status === 404 || r.status === 400 || r.status === 301, `${path}: ${r.status}`);
      assert.doesNotMatch(r.body, /root:|access_token/, path);
    }
  });

  test("another account's token is not reachable by naming it", async () => {
    const r = await raw(mds, "/computeMetadata/v1/instance/service-accounts/admin@warrant.local/token", [
      FLAVOR,
    ]);
    assert.equal(r.status, 404);
    assert.doesNotMatch(r.body, /access_token/);
  });
});
