/**
 * The metadata server's request parsing under random paths: percent-escapes (valid, broken, encoded
 * slashes and dots), dot segments, doubled and trailing slashes, queries. It never fails (5xx) or
 * hangs, answers only what GCE answers, and a path asked twice gets the same answer both times (the
 * server remembers parsed paths, and must remember them exactly).
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { Rng, replay } from "./random.js";

const DEMO = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
const KNOWN = [
  "instance",
  "project",
  "service-accounts",
  "default",
  "token",
  "identity",
  "email",
  "scopes",
  "project-id",
  "attributes",
  "hostname",
  "zone",
  "network-interfaces",
  "0",
];
const ODD = [
  ".",
  "..",
  "%2e",
  "%2E%2e",
  "%2f",
  "%2F",
  "%",
  "%zz",
  "%41",
  "%C3%A9",
  "é",
  " ",
  "%20",
  "~",
  ":",
  "@",
];

function get(
  hostPort: string,
  path: string,
): Promise<{ status: number; flavor: string | undefined; body: string }> {
  const [host, port] = hostPort.split(":") as [string, string];
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: Number(port), path, headers: { "Metadata-Flavor": "Google" }, timeout: 10_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, flavor: res.headers["metadata-flavor"] as string, body }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timed out: ${path}`)));
    req.on("error", reject);
    req.end();
  });
}

let h: Harness;
let mds: string;
before(async () => {
  h = await startHarness();
  mds = h.server.metadataServers()[DEMO]!;
});
after(() => h.close());

test("random metadata paths: no 5xx, only GCE's statuses, the same answer when asked again", async () => {
  const rng = Rng.for("metadata-paths");
  const allowed = new Set([200, 301, 400, 403, 404]);
  const seen = new Map<number, number>();
  for (let i = 0; i < 400; i++) {
    const parts: string[] = [];
    const n = rng.int(0, 6);
    for (let j = 0; j < n; j++) parts.push(rng.bool(0.7) ? rng.pick(KNOWN) : rng.pick(ODD));
    let path = `/computeMetadata/v1/${parts.join(rng.bool(0.9) ? "/" : "//")}`;
    if (rng.bool(0.2)) path += "/";
    if (rng.bool(0.2)) path += rng.pick(["?recursive=true", "?alt=json", "?alt=text", "?scopes=a,b", "?x=%"]);
    // http.request refuses some characters in a path: send them escaped, as a client must.
    const sent = path.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
    const first = await get(mds, sent);
    const what = replay(`case ${i}: GET ${sent}`);
    assert.ok(allowed.has(first.status), `status ${first.status} ${first.body.slice(0, 200)} ${what}`);
    assert.equal(first.flavor, "Google", what);
    seen.set(first.status, (seen.get(first.status) ?? 0) + 1);
    const second = await get(mds, sent);
    assert.equal(second.status, first.status, `asked again ${what}`);
    // A token's body carries expires_in, which may tick between the two.
    if (!/\/token(\?|$)/.test(sent)) assert.equal(second.body, first.body, `asked again ${what}`);
  }
});
