/**
 * Attack (resource exhaustion): filling the server's disk. Uploads used to answer `400 upload
 * interrupted` (media, multipart) or `500 EBADF` (a resumable chunk, whose bytes stayed on disk), and
 * a restart on the full disk said "this looks like a bug". Now every write path answers 503 with
 * Retry-After and says the disk is full, keeps no partial byte, and the same upload succeeds once
 * space returns; the server refuses to start on a full disk with a one-line reason.
 *
 * Two ways to a full disk: a free-space reserve set above the real free space (always runs), and a
 * genuinely full tmpfs (runs where mounting is permitted, as root in a container or CI).
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";

const B = "full-bucket";
const CHUNK = 256 * 1024;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON replies
  json: any;
}

/** `chunked`: the body is streamed with no Content-Length, so only the write itself finds the disk full. */
let chunked = false;

async function send(
  h: Harness,
  method: string,
  path: string,
  body: Buffer | string | undefined,
  headers: Record<string, string> = {},
  auth = true,
): Promise<Reply> {
  const data = typeof body === "string" ? Buffer.from(body) : body;
  const payload =
    data === undefined
      ? {}
      : chunked
        ? {
            body: new ReadableStream({
              start(c) {
                for (let i = 0; i < data.length; i += 64 * 1024)
                  c.enqueue(new Uint8Array(data.subarray(i, i + 64 * 1024)));
                c.close();
              },
            }),
            duplex: "half",
          }
        : { body: new Uint8Array(data) };
  const res = await fetch(`${h.url}${path}`, {
    method,
    headers: { ...(auth ? { authorization: `Bearer ${h.adminToken}` } : {}), ...headers },
    ...payload,
  } as RequestInit);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

const media = (h: Harness, name: string, data: Buffer) =>
  send(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=media&name=${name}`, data, {
    "content-type": "application/octet-stream",
  });

function multipart(h: Harness, name: string, data: Buffer) {
  const body = Buffer.concat([
    Buffer.from(
      `--xx\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ name })}\r\n--xx\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    data,
    Buffer.from("\r\n--xx--\r\n"),
  ]);
  return send(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=multipart`, body, {
    "content-type": "multipart/related; boundary=xx",
  });
}

async function initiate(h: Harness, name: string): Promise<string> {
  const r = await send(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=resumable&name=${name}`, "{}", {
    "content-type": "application/json",
  });
  assert.equal(r.status, 200, r.text);
  const u = new URL(r.headers.get("location")!);
  return u.pathname + u.search;
}

const chunk = (h: Harness, session: string, data: Buffer, start: number, total: number | "*") =>
  send(
    h,
    "PUT",
    session,
    data,
    { "content-range": `bytes ${start}-${start + data.length - 1}/${total}` },
    false,
  );

function assertDiskFull(r: Reply, what: string) {
  assert.equal(r.status, 503, `${what}: ${r.text}`);
  assert.equal(r.headers.get("retry-after"), "30", what);
  assert.match(r.json.error.message, /disk is full/, what);
  assert.equal(r.json.error.status, "UNAVAILABLE", what);
}

/** Every file under the object store's directories, with its size. */
function storageFiles(stateDir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, statSync(p).size);
    }
  };
  walk(join(stateDir, "storage"));
  return out;
}

const bytes = (n: number, seed: number) => Buffer.alloc(n, seed);

describe("a full disk (free-space reserve above the real free space)", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "warrant-full-"));
  let h: Harness;
  let session: string;
  const start = async (storageReserveBytes: number) => {
    h = await startHarness({ stateDir, storageReserveBytes });
  };
  after(async () => {
    await h?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  before(async () => {
    await start(0);
    assert.equal(
      (
        await send(h, "POST", "/storage/v1/b?project=demo-project", JSON.stringify({ name: B }), {
          "content-type": "application/json",
        })
      ).status,
      200,
    );
    assert.equal((await media(h, "source.bin", bytes(1000, 1))).status, 200);
    session = await initiate(h, "resumed.bin");
    assert.equal((await chunk(h, session, bytes(CHUNK, 2), 0, "*")).status, 308);
    await h.close();
    const free = statfsSync(stateDir);
    await start(free.bavail * free.bsize + 2 ** 40);
  });

  test("every write path answers 503 + Retry-After saying the disk is full, and keeps no byte", async () => {
    const before = storageFiles(stateDir);
    assertDiskFull(await media(h, "new.bin", bytes(5000, 3)), "media");
    assertDiskFull(await multipart(h, "new.bin", bytes(5000, 3)), "multipart");
    assertDiskFull(await chunk(h, session, bytes(CHUNK, 4), CHUNK, 2 * CHUNK), "resumable chunk");
    assertDiskFull(
      await send(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=resumable&name=other.bin`, "{}", {
        "content-type": "application/json",
        "x-upload-content-length": "100",
      }),
      "resumable initiation",
    );
    assertDiskFull(
      await send(h, "POST", `/storage/v1/b/${B}/o/source.bin/copyTo/b/${B}/o/copy.bin`, "{}", {
        "content-type": "application/json",
      }),
      "copy",
    );
    assertDiskFull(
      await send(
        h,
        "POST",
        `/storage/v1/b/${B}/o/composed.bin/compose`,
        JSON.stringify({ sourceObjects: [{ name: "source.bin" }] }),
        {
          "content-type": "application/json",
        },
      ),
      "compose",
    );
    assert.deepEqual(storageFiles(stateDir), before, "no file added or grown under storage/");
    assert.equal((await send(h, "GET", `/storage/v1/b/${B}/o/new.bin`, undefined)).status, 404);
  });

  test("once space returns, the same uploads succeed", async () => {
    await h.close();
    await start(0);
    const m = await media(h, "new.bin", bytes(5000, 3));
    assert.equal(m.status, 200, m.text);
    const done = await chunk(h, session, bytes(CHUNK, 4), CHUNK, 2 * CHUNK);
    assert.equal(done.status, 200, done.text);
    assert.equal(done.json.size, String(2 * CHUNK));
    const got = await send(h, "GET", `/storage/v1/b/${B}/o/resumed.bin?alt=media`, undefined);
    assert.equal(got.text.length, 2 * CHUNK);
  });
});

/** Mounts a tmpfs of `size` at a new directory, or returns why it cannot. */
function mountTmpfs(size: string): { dir: string } | { skip: string } {
  const dir = mkdtempSync(join(tmpdir(), "warrant-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
    return { dir };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return {
      skip: `cannot mount a tmpfs here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`,
    };
  }
}

/** Writes a file until the disk refuses more (ENOSPC), leaving `leave` bytes free when possible. */
function fill(file: string, dir: string, leave: number) {
  const free = statfsSync(dir);
  const want = Math.max(0, free.bavail * free.bsize - leave);
  try {
    writeFileSync(file, Buffer.alloc(want));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  }
}

const mounted = mountTmpfs("24m");
describe("a genuinely full disk (tmpfs)", { skip: "skip" in mounted ? mounted.skip : false }, () => {
  const dir = "dir" in mounted ? mounted.dir : "";
  const stateDir = join(dir, "state");
  const filler = join(dir, "filler");
  let h: Harness;
  after(async () => {
    await h?.close();
    execFileSync("umount", [dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("writes find no room: 503, no partial byte; after space returns they succeed", async () => {
    mkdirSync(stateDir);
    h = await startHarness({ stateDir, storageReserveBytes: 0 });
    assert.equal(
      (
        await send(h, "POST", "/storage/v1/b?project=demo-project", JSON.stringify({ name: B }), {
          "content-type": "application/json",
        })
      ).status,
      200,
    );
    const session = await initiate(h, "resumed.bin");
    const before = storageFiles(stateDir);
    fill(filler, dir, 64 * 1024);
    const big = bytes(2 * 1024 * 1024, 7);
    chunked = true;
    try {
      assertDiskFull(await media(h, "big.bin", big), "media");
      assertDiskFull(await multipart(h, "big.bin", big), "multipart");
      const rest = await send(h, "PUT", session, big, { "content-range": "bytes 0-*/*" }, false);
      assertDiskFull(rest, "resumable chunk");
    } finally {
      chunked = false;
    }
    assert.deepEqual(storageFiles(stateDir), before, "no partial byte left under storage/");

    rmSync(filler);
    assert.equal((await media(h, "big.bin", big)).status, 200);
    assert.equal((await chunk(h, session, big, 0, big.length)).status, 200);
    await h.close();
  });

  test("a start on the full disk is refused with a one-line reason, not a crash", async () => {
    fill(filler, dir, 0);
    const bin = new URL("../../../bin/warrant.cjs", import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, "serve", "--state-dir", stateDir, "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    clearTimeout(killer);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /Cannot start: the disk holding the state directory .* is full/);
    assert.doesNotMatch(stderr, /looks like a bug/);
    rmSync(filler);
  });
});
