/**
 * `npm run bench:client`: what `warrant/client` costs an application.
 *   1. A cached `getAccessToken()` per call, against a bare resolved promise (the floor of any
 *      async getter), same run.
 *   2. Metadata-server requests per hour of steady use, per scope set: a simulated hour (the
 *      credential's clock advances one second per call) against a real Warrant metadata server,
 *      counted by a proxy in front of it. Target: one per token lifetime less 5 minutes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ComputeCredential } from "../src/client/index.js";
import { startServer } from "../src/server/app.js";
import { timed } from "./micro.js";

const INSTANCE = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
const stateDir = mkdtempSync(join(tmpdir(), "warrant-bench-client-"));
const server = await startServer({ stateDir, host: "127.0.0.1", port: 0, log: () => {} });
const mds = server.metadataServers()[INSTANCE]!;

let requests = 0;
const proxy = createServer((req, res) => {
  requests++;
  const [host, port] = mds.split(":");
  const up = request({ host, port, path: req.url, headers: req.headers }, (r) => {
    res.writeHead(r.statusCode!, r.headers);
    r.pipe(res);
  });
  req.pipe(up);
});
await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

try {
  // 1. Cached getAccessToken, interleaved with the baseline in rounds; the ratio is taken within
  //    each round (both sides saw the same machine), and the median of the rounds is reported.
  const c = new ComputeCredential({ metadataUrl: proxyUrl });
  const token = await c.getAccessToken();
  const bare = () => Promise.resolve(token);
  const rounds = 5;
  const samples: { cached: number; base: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    const base = await timed(bare, 300);
    samples.push({ base, cached: await timed(() => c.getAccessToken(), 300) });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const cached = median(samples.map((r) => r.cached));
  const base = median(samples.map((r) => r.base));
  const ratios = samples.map((r) => r.cached / r.base);

  // The token's real lifetime, as the metadata server reports it (the target depends on it).
  const answer = await fetch(`${proxyUrl}/computeMetadata/v1/instance/service-accounts/default/token`, {
    headers: { "Metadata-Flavor": "Google" },
  });
  const lifetime = ((await answer.json()) as { expires_in: number }).expires_in;
  if (!(lifetime > 300))
    throw new Error(`the metadata server's token lives ${lifetime} s: too short to measure`);

  // 2. A simulated hour per scope set.
  const hour = 3600;
  const perScopeSet: Record<string, number> = {};
  for (const scopes of [undefined, ["https://www.googleapis.com/auth/devstorage.read_only"]]) {
    let clock = Date.now();
    const cred = new ComputeCredential({
      metadataUrl: proxyUrl,
      now: () => clock,
      ...(scopes ? { scopes } : {}),
    });
    const before = requests;
    for (let s = 0; s < hour; s++) {
      await cred.getAccessToken();
      clock += 1000;
    }
    perScopeSet[scopes ? "devstorage.read_only" : "instance default"] = requests - before;
  }

  // A fetch at 0 s, then one each time only 5 minutes remain.
  const target = 1 + Math.floor((hour - 1) / (lifetime - 300));
  console.log("warrant/client (this machine; ratios are against a baseline measured in the same run)\n");
  console.log(
    `cached getAccessToken():  ${(cached / 1e6).toFixed(2)} M calls/s  (${(1e9 / cached).toFixed(0)} ns/call)`,
  );
  console.log(
    `bare resolved promise:    ${(base / 1e6).toFixed(2)} M calls/s  (${(1e9 / base).toFixed(0)} ns/call)`,
  );
  console.log(
    `ratio cached/bare:        ${median(ratios).toFixed(2)}x  (median of ${rounds} rounds; ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})\n`,
  );
  for (const [k, n] of Object.entries(perScopeSet))
    console.log(
      `metadata requests in one simulated hour, ${k}: ${n}  (target ${target}: at 0 s, then every ${lifetime - 300} s)`,
    );
} finally {
  proxy.close();
  await server.close();
  rmSync(stateDir, { recursive: true, force: true });
}
