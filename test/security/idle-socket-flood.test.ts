/**
 * Attack (#12.4): 22,000 sockets each send a request's headers with `Content-Length: 60000` and one
 * body byte, then idle, against a process whose descriptor limit is 20,000. It ran out of
 * descriptors and the API, every metadata server and uploads stopped answering for the whole hold.
 * Now the API port holds a bounded number of connections, sheds stalled ones for new requests and
 * refuses the rest with 503, and metadata servers have their own budget: while the hold is in
 * place, a normal API request and a metadata-server request each answer correctly within 1 s.
 *
 * The server runs as a child under `ulimit -n` and the attack keeps the proportion (110 %
 * of the limit): 2,000 and 2,200 by default; WARRANT_FLOOD_SCALE=10 runs the 20,000 and
 * 22,000 (about a minute on a busy machine).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { mintWithAdminCredential, type ServeProcess, spawnServe } from "../support/serve-process.js";
import { type Holder, holdSockets } from "../support/socket-holder.js";

const DEMO = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
const SCALE = Number(process.env.WARRANT_FLOOD_SCALE ?? 1);
const OPEN_FILES = 2_000 * SCALE;
const SOCKETS = 2_200 * SCALE;

const holders: Holder[] = [];
let serve: ServeProcess | undefined;
const stateDir = mkdtempSync(join(tmpdir(), "warrant-flood-"));
after(async () => {
  await Promise.all(holders.map((x) => x.stop()));
  serve?.kill("SIGKILL");
  await serve?.exited;
  rmSync(stateDir, { recursive: true, force: true });
});

async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const start = Date.now();
  const out = await f();
  const ms = Date.now() - start;
  assert.ok(ms < 1000, `${what} took ${ms} ms during the hold`);
  return out;
}

async function adminToken(url: string): Promise<string> {
  const r = await mintWithAdminCredential(url, join(stateDir, "admin-credentials.json"));
  return ((await r.json()) as { access_token: string }).access_token;
}

test(`${SOCKETS} idle sockets against a ${OPEN_FILES}-descriptor server: the API and a metadata server answer within 1 s`, {
  timeout: 60_000 + 60_000 * SCALE,
}, async () => {
  // The body-rate floor would cut these sockets off after 10 s (slow-body-connection-hold.test.ts);
  // off here, so the hold lasts and the connection bounds alone are what keeps the server answering.
  serve = spawnServe(stateDir, ["--min-body-rate", "0"], {}, OPEN_FILES);
  const info = await serve.ready();
  const url = info.url as string;
  const mds = (info.metadataServers as Record<string, string>)[DEMO]!;
  const token = await adminToken(url);
  const head =
    "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
    "Content-Length: 60000\r\n\r\na";
  // Two attacker processes (each below its own descriptor limit), from eight loopback addresses.
  for (const first of [10, 14])
    holders.push(
      holdSockets(
        Number(new URL(url).port),
        SOCKETS / 2,
        head,
        [0, 1, 2, 3].map((i) => `127.0.0.${first + i}`),
      ),
    );
  const ready = await Promise.all(holders.map((x) => x.ready));
  assert.equal(
    ready.reduce((n, s) => n + s.settled, 0),
    SOCKETS,
  );
  // Connected is not yet accepted: let the server work through its accept queue until the hold is
  // steady (no attacker socket closed for a second), which is the state the issue describes.
  const openNow = async () =>
    (await Promise.all(holders.map((x) => x.stats()))).reduce((n, s) => n + s.open - s.closed, 0);
  let held = await openNow();
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await openNow();
    if (now === held) break;
    held = now;
  }
  // The hold is real: most of the server's descriptors are the attackers' right now.
  assert.ok(held > OPEN_FILES / 2, `only ${held} attacker sockets open: the flood did not take`);

  // Fresh connections, as a new client makes them.
  const project = await timed("an API request", async () => {
    const r = await fetch(`${url}/v1/projects/demo-project`, {
      headers: { authorization: `Bearer ${token}`, connection: "close" },
    });
    return { status: r.status, body: (await r.json()) as { projectId?: string } };
  });
  assert.equal(project.status, 200, JSON.stringify(project.body));
  assert.equal(project.body.projectId, "demo-project");

  const minted = await timed("a metadata-server token request", async () => {
    const r = await fetch(`http://${mds}/computeMetadata/v1/instance/service-accounts/default/token`, {
      headers: { "Metadata-Flavor": "Google", connection: "close" },
    });
    return { status: r.status, body: (await r.json()) as { access_token?: string } };
  });
  assert.equal(minted.status, 200, JSON.stringify(minted.body));
  assert.ok(minted.body.access_token);

  // Still holding: the answers came during the flood, not after it; and nothing crashed.
  const later = await Promise.all(holders.map((x) => x.stats()));
  const stillOpen = later.reduce((n, s) => n + s.open - s.closed, 0);
  assert.ok(stillOpen > OPEN_FILES / 2, `only ${stillOpen} attacker sockets still open`);
  // Bounded: past its cap (70 % of the limit) the server shed stalled connections or answered 503.
  const cap = Math.floor(OPEN_FILES * 0.7);
  assert.ok(stillOpen <= cap, `${stillOpen} attacker sockets held, over the cap of ${cap}`);
  assert.equal(serve.child.exitCode, null, serve.output());
  assert.doesNotMatch(serve.output(), /EMFILE/);
});
