/**
 * Startup (#12.9): the listener accepted before routes existed, so for 40–70 ms per start existing
 * resources answered 404. Now every route answers 503 with Retry-After until the server is ready,
 * and `/readyz` says the same; a client hammering a starting server never sees a 404.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { mintWithAdminCredential, type ServeProcess, spawnServe } from "../support/serve-process.js";

const stateDir = mkdtempSync(join(tmpdir(), "warrant-startup-"));
const started: ServeProcess[] = [];
after(async () => {
  for (const s of started) s.kill("SIGKILL");
  await Promise.all(started.map((s) => s.exited));
  rmSync(stateDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

test("hammering a starting server: 503 with Retry-After until ready, never 404", {
  timeout: 90_000,
}, async () => {
  const port = await freePort();
  const args = ["--port", String(port), "--metadata-port", "0"];
  // A first start creates the installation; the token stays valid across restarts.
  const first = spawnServe(stateDir, args);
  started.push(first);
  const info = await first.ready();
  const token = (
    (await (
      await mintWithAdminCredential(info.url as string, info.adminCredentialFile as string)
    ).json()) as { access_token: string }
  ).access_token;
  first.kill();
  assert.equal(await first.exited, 0);

  const second = spawnServe(stateDir, args);
  started.push(second);
  const seen = new Map<number, number>();
  const readyz = new Set<number>();
  let retryAfter: string | null = null;
  const deadline = Date.now() + 30_000;
  let ready = false;
  while (!ready && Date.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v1/projects/demo-project`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await r.arrayBuffer();
      seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
      if (r.status === 503) retryAfter = r.headers.get("retry-after");
      const z = await fetch(`http://127.0.0.1:${port}/readyz`);
      await z.arrayBuffer();
      readyz.add(z.status);
      ready = r.status === 200 && z.status === 200;
    } catch {
      // Not listening yet.
    }
  }
  assert.ok(ready, `never ready: ${JSON.stringify([...seen])}`);
  assert.equal(seen.get(404), undefined, `statuses seen while starting: ${JSON.stringify([...seen])}`);
  assert.deepEqual(
    [...seen.keys()].filter((s) => s !== 200 && s !== 503),
    [],
    "only 503 before ready",
  );
  if (seen.has(503)) assert.equal(retryAfter, "1");
  assert.ok([...readyz].every((s) => s === 200 || s === 503));
  second.kill();
  assert.equal(await second.exited, 0);
});
