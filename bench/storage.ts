/**
 * `npm run bench:storage`: the Cloud Storage JSON API. See docs/performance.md, "Cloud Storage".
 *
 * 1. Authorized listing: `GET /storage/v1/b/B/o?maxResults=50` (a bucket of 200 objects) with the
 *    admin's bearer token, on a Warrant with `enforcement: "enforce"` and on one with `"off"` (the
 *    token is still verified; scope and IAM checks are skipped), both in child processes, driven by
 *    the shared load generator (bench/load-gen.ts) over keep-alive connections in fixed windows,
 *    the two servers alternating within each round. Ratio enforce/off per round, median reported.
 * 2. Large transfers (1 GiB by default) from a client in this process (node:http, streaming from a
 *    generated file; downloads into a discarding sink) against a bare node:http server that copies
 *    streams (bench/storage-server.ts, `bare`) and against Warrant: media upload, resumable
 *    single-shot (`PUT` with `Content-Range: bytes 0-*\/*`), `alt=media` download. MB/s (10^6
 *    bytes/s), ratio to the bare copy of the same round, the server's CPU, and Warrant's peak RSS
 *    (VmHWM in /proc/PID/status, and the largest VmRSS sampled every 20 ms during each transfer).
 * 3. In-process costs of the upload path: MD5, CRC32C, both (the Checksummer), and a BlobWriter fed
 *    from memory (streaming, then `publish()`: fdatasync and rename).
 *
 * Everything listens on 127.0.0.1 and stops by itself; the 1 GiB files live in a temporary
 * directory (os.tmpdir()) that is deleted at the end.
 *
 * Environment: BENCH_ROUNDS (listing rounds, default 5), BENCH_SECONDS (listing window, 3),
 * BENCH_CONNECTIONS (16), BENCH_TRANSFER_ROUNDS (3), BENCH_TRANSFER_MB (size in MiB, 1024),
 * BENCH_ONLY (`list` or `transfer`), BENCH_PROF_DIR (run the Warrant children under
 * `node --cpu-prof` and write their profiles there), BENCH_OUT (default /tmp/warrant-bench/storage.json).
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { request } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { crc32c } from "@node-rs/crc32";
import { Checksummer } from "../src/domain/storage/checksums.js";
import { BlobStore } from "../src/server/storage/blob-store.js";
import { LoadChild } from "./load-gen.js";
import { fmtRate, fmtRatio, log, median } from "./stats.js";
import type { Ready, ServerSpec } from "./storage-server.js";

const num = (name: string, dflt: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const MB = 1e6;
const MiB = 1 << 20;
const BUCKET = "bench-bucket";
const LIST_OBJECTS = 200;

// ---------- server children ----------

function procStatus(pid: number): { hwmKiB: number; rssKiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? Number.NaN);
  return { hwmKiB: field("VmHWM"), rssKiB: field("VmRSS") };
}

class ServerChild {
  private readonly child: ChildProcess;
  url = "";
  adminCredentialFile: string | undefined;

  constructor(
    readonly name: string,
    profDir?: string,
  ) {
    const script = join(dirname(fileURLToPath(import.meta.url)), "storage-server.js");
    this.child = fork(script, [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: profDir
        ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${name}.cpuprofile`]
        : [],
    });
  }

  get pid() {
    return this.child.pid!;
  }

  private next<T>(type: string): Promise<T> {
    return new Promise((ok, fail) => {
      const onMessage = (m: { type: string; message?: string }) => {
        if (m.type !== type && m.type !== "error") return;
        this.child.off("message", onMessage);
        this.child.off("exit", onExit);
        if (m.type === "error") fail(new Error(`${this.name}: ${m.message}`));
        else ok(m as T);
      };
      const onExit = (code: number | null) => fail(new Error(`${this.name} exited (${code})`));
      this.child.on("message", onMessage);
      this.child.once("exit", onExit);
    });
  }

  async start(spec: ServerSpec) {
    const ready = this.next<Ready>("ready");
    this.child.send(spec);
    const r = await ready;
    this.url = r.url;
    this.adminCredentialFile = r.adminCredentialFile;
    if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(this.url))
      throw new Error(`${this.name} not on 127.0.0.1: ${this.url}`);
    return this;
  }

  /** CPU time (user + system, µs) the child has used so far. */
  async cpuUs(): Promise<number> {
    const reply = this.next<{ us: number }>("cpu");
    this.child.send({ type: "cpu" });
    return (await reply).us;
  }

  status() {
    return procStatus(this.pid);
  }

  close(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.connected) return Promise.resolve();
    const exited = new Promise<void>((ok) => this.child.once("exit", () => ok()));
    this.child.disconnect();
    return exited;
  }
}

// ---------- HTTP helpers ----------

async function adminToken(url: string, credentialFile: string): Promise<string> {
  const cred = JSON.parse(readFileSync(credentialFile, "utf8")) as Record<string, string>;
  const res = await fetch(`${url}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "refresh_token",
      client_id: cred.client_id!,
      client_secret: cred.client_secret!,
      refresh_token: cred.refresh_token!,
    }),
  });
  const token = ((await res.json()) as { access_token?: string }).access_token;
  if (!token) throw new Error(`no admin token (${res.status})`);
  return token;
}

async function call(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...headers },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

async function expectOk<T extends { status: number; text: string }>(what: string, r: Promise<T>): Promise<T> {
  const x = await r;
  if (x.status < 200 || x.status >= 300) throw new Error(`${what}: ${x.status} ${x.text.slice(0, 300)}`);
  return x;
}

interface Transfer {
  status: number;
  bytes: number;
  body: string;
  ms: number;
}

/** Streams `file` (`size` bytes) as the request body; the answer's body is kept (it is small). */
function upload(url: string, method: string, headers: Record<string, string>, file: string, size: number) {
  return new Promise<Transfer>((ok, fail) => {
    const t0 = performance.now();
    const req = request(
      url,
      { method, headers: { ...headers, "content-length": size }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          ok({
            status: res.statusCode ?? 0,
            bytes: size,
            body: Buffer.concat(chunks).toString("utf8"),
            ms: performance.now() - t0,
          }),
        );
        res.on("error", fail);
      },
    );
    req.on("error", fail);
    pipeline(createReadStream(file, { highWaterMark: MiB }), req).catch(fail);
  });
}

/** Streams a response into a sink that counts and drops the bytes. */
function download(url: string, headers: Record<string, string>) {
  return new Promise<Transfer>((ok, fail) => {
    const t0 = performance.now();
    const req = request(url, { headers, agent: false }, (res) => {
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
      });
      res.on("end", () => ok({ status: res.statusCode ?? 0, bytes, body: "", ms: performance.now() - t0 }));
      res.on("error", fail);
    });
    req.on("error", fail);
    req.end();
  });
}

// ---------- 1. listing ----------

async function listBench(profDir: string | undefined) {
  const ROUNDS = Math.round(num("BENCH_ROUNDS", 5));
  const WINDOW_MS = num("BENCH_SECONDS", 3) * 1000;
  const CONNECTIONS = Math.round(num("BENCH_CONNECTIONS", 16));
  const root = mkdtempSync(join(tmpdir(), "warrant-bench-storage-list-"));
  const servers: ServerChild[] = [];
  let load: LoadChild | undefined;
  try {
    log(`listing: ${ROUNDS} rounds, ${WINDOW_MS / 1000} s windows, ${CONNECTIONS} connections`);
    const modes = ["enforce", "off"] as const;
    const targets: { mode: (typeof modes)[number]; server: ServerChild; url: string; token: string }[] = [];
    for (const mode of modes) {
      const server = new ServerChild(`warrant-${mode}`, profDir);
      servers.push(server);
      await server.start({ type: "start", kind: "warrant", stateDir: join(root, mode), enforcement: mode });
      const token = await adminToken(server.url, server.adminCredentialFile!);
      await expectOk(
        "create bucket",
        call(
          server.url,
          token,
          "POST",
          "/storage/v1/b?project=demo-project",
          JSON.stringify({ name: BUCKET }),
          {
            "content-type": "application/json",
          },
        ),
      );
      const names = Array.from(
        { length: LIST_OBJECTS },
        (_, i) => `dir/object-${String(i).padStart(4, "0")}.txt`,
      );
      for (let i = 0; i < names.length; i += 10)
        await Promise.all(
          names
            .slice(i, i + 10)
            .map((n) =>
              expectOk(
                `upload ${n}`,
                call(
                  server.url,
                  token,
                  "POST",
                  `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent(n)}`,
                  `contents of ${n}\n`,
                  { "content-type": "text/plain" },
                ),
              ),
            ),
        );
      const url = `${server.url}/storage/v1/b/${BUCKET}/o?maxResults=50`;
      const probe = await expectOk(
        "list",
        call(server.url, token, "GET", `/storage/v1/b/${BUCKET}/o?maxResults=50`),
      );
      const page = JSON.parse(probe.text) as { items?: unknown[]; nextPageToken?: string };
      if (page.items?.length !== 50 || !page.nextPageToken)
        throw new Error(`list: expected 50 items and a next page, got ${page.items?.length}`);
      targets.push({ mode, server, url, token });
    }
    const bytes = (
      await call(targets[0]!.server.url, targets[0]!.token, "GET", `/storage/v1/b/${BUCKET}/o?maxResults=50`)
    ).text.length;

    load = new LoadChild();
    const samples = new Map<
      string,
      { rps: number; p50: number; p99: number; usPerOp: number; cpuPct: number }[]
    >(modes.map((m) => [m, []]));
    for (let round = 0; round < ROUNDS; round++) {
      log(`  round ${round + 1}/${ROUNDS}`);
      const order = round % 2 ? [...targets].reverse() : targets;
      for (const t of order) {
        let cpu0: Promise<number> = t.server.cpuUs();
        let t0 = performance.now();
        const r = await load.run(
          {
            url: t.url,
            method: "GET",
            headers: { authorization: `Bearer ${t.token}` },
            connections: CONNECTIONS,
            warmupMs: round === 0 ? 1500 : 500,
            durationMs: WINDOW_MS,
          },
          () => {
            cpu0 = t.server.cpuUs();
            t0 = performance.now();
          },
        );
        const cpuUs = (await t.server.cpuUs()) - (await cpu0);
        const wallMs = performance.now() - t0;
        if (r.ok === 0) throw new Error(`list ${t.mode}: no successful request (${r.firstError})`);
        if (r.failed) log(`    ${t.mode}: ${r.failed} failed, first: ${r.firstError}`);
        const s = {
          rps: (r.ok * 1000) / r.elapsedMs,
          p50: r.latencyMs.p50,
          p99: r.latencyMs.p99,
          usPerOp: cpuUs / r.ok,
          cpuPct: cpuUs / 10 / wallMs,
        };
        samples.get(t.mode)!.push(s);
        log(
          `    ${t.mode.padEnd(8)} ${fmtRate(s.rps).padStart(7)} req/s  p50 ${s.p50.toFixed(2)} ms  (server CPU ${s.cpuPct.toFixed(0)}%, ${s.usPerOp.toFixed(0)} µs/req)`,
        );
      }
    }
    const en = samples.get("enforce")!;
    const off = samples.get("off")!;
    const perRound = en.map((s, i) => s.rps / off[i]!.rps);
    const cpuPerRound = en.map((s, i) => s.usPerOp / off[i]!.usPerOp);
    const row = (m: string) => {
      const ss = samples.get(m)!;
      return {
        mode: m,
        rounds: ss.map((s) => s.rps),
        median: median(ss.map((s) => s.rps)),
        p50Ms: median(ss.map((s) => s.p50)),
        p99Ms: median(ss.map((s) => s.p99)),
        serverCpuPct: median(ss.map((s) => s.cpuPct)),
        serverUsPerReq: median(ss.map((s) => s.usPerOp)),
      };
    };
    return {
      config: { rounds: ROUNDS, windowS: WINDOW_MS / 1000, connections: CONNECTIONS, objects: LIST_OBJECTS },
      responseBytes: bytes,
      rows: [row("enforce"), row("off")],
      ratio: {
        median: median(perRound),
        min: Math.min(...perRound),
        max: Math.max(...perRound),
        perRound,
      },
      cpuPerReqRatio: median(cpuPerRound),
    };
  } finally {
    load?.close();
    for (const s of servers) await s.close();
    rmSync(root, { recursive: true, force: true });
  }
}

// ---------- 2. large transfers ----------

async function writeSource(file: string, size: number) {
  const block = randomBytes(MiB);
  const fh = await open(file, "wx", 0o600);
  try {
    for (let off = 0; off < size; off += MiB) await fh.write(block, 0, Math.min(MiB, size - off));
  } finally {
    await fh.close();
  }
}

interface TransferSample {
  mbps: number;
  /** Server CPU (all threads) per MB moved. */
  serverCpuMsPerMB: number;
  seconds: number;
  serverCpuPct: number;
  peakRssMiB: number;
}

async function transferBench(profDir: string | undefined) {
  const ROUNDS = Math.round(num("BENCH_TRANSFER_ROUNDS", 3));
  const SIZE = Math.round(num("BENCH_TRANSFER_MB", 1024)) * MiB;
  const root = mkdtempSync(join(tmpdir(), "warrant-bench-storage-xfer-"));
  const servers: ServerChild[] = [];
  try {
    log(`transfers: ${ROUNDS} rounds of ${SIZE / MiB} MiB, files in ${root}`);
    const source = join(root, "source.bin");
    await writeSource(source, SIZE);
    const bare = new ServerChild("bare");
    servers.push(bare);
    await bare.start({ type: "start", kind: "bare", dir: root });
    const warrant = new ServerChild("warrant-transfer", profDir);
    servers.push(warrant);
    await warrant.start({
      type: "start",
      kind: "warrant",
      stateDir: join(root, "state"),
      enforcement: "enforce",
    });
    const hwmAtStart = warrant.status().hwmKiB;
    const token = await adminToken(warrant.url, warrant.adminCredentialFile!);
    const auth = { authorization: `Bearer ${token}` };
    await expectOk(
      "create bucket",
      call(
        warrant.url,
        token,
        "POST",
        "/storage/v1/b?project=demo-project",
        JSON.stringify({ name: BUCKET }),
        {
          "content-type": "application/json",
        },
      ),
    );
    const octets = { "content-type": "application/octet-stream" };
    const objectPath = (name: string) => `/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}`;
    // The object the download rows read (also a warm-up of the upload path).
    const seeded = await upload(
      `${warrant.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=big-download`,
      "POST",
      { ...auth, ...octets },
      source,
      SIZE,
    );
    if (seeded.status !== 200) throw new Error(`seed upload: ${seeded.status} ${seeded.body}`);
    const seededMeta = JSON.parse(seeded.body) as { size: string; md5Hash: string; crc32c: string };
    if (Number(seededMeta.size) !== SIZE) throw new Error(`seed upload stored ${seededMeta.size} bytes`);

    interface Row {
      id: string;
      label: string;
      vs?: string;
      server: ServerChild;
      run: () => Promise<Transfer>;
      after?: () => Promise<unknown>;
    }
    const rows: Row[] = [
      {
        id: "bare.up",
        label: "baseline: bare node:http, body piped to a file",
        server: bare,
        run: () => upload(`${bare.url}/up`, "PUT", octets, source, SIZE),
        after: () => fetch(`${bare.url}/up`, { method: "DELETE" }),
      },
      {
        id: "warrant.media",
        label: "Warrant media upload (uploadType=media)",
        vs: "bare.up",
        server: warrant,
        run: () =>
          upload(
            `${warrant.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=big-media`,
            "POST",
            { ...auth, ...octets },
            source,
            SIZE,
          ),
        after: () => expectOk("delete", call(warrant.url, token, "DELETE", objectPath("big-media"))),
      },
      {
        id: "warrant.resumable",
        label: "Warrant resumable, single PUT (bytes 0-*/*)",
        vs: "bare.up",
        server: warrant,
        run: async () => {
          const init = await expectOk(
            "initiate",
            call(
              warrant.url,
              token,
              "POST",
              `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=big-resumable`,
              "{}",
              { "content-type": "application/json", "x-upload-content-type": "application/octet-stream" },
            ),
          );
          const location = init.headers.get("location");
          if (!location?.startsWith(warrant.url)) throw new Error(`initiate: no Location (${location})`);
          return upload(location, "PUT", { "content-range": "bytes 0-*/*" }, source, SIZE);
        },
        after: () => expectOk("delete", call(warrant.url, token, "DELETE", objectPath("big-resumable"))),
      },
      {
        id: "bare.up.fsync",
        label: "reference: bare copy + fdatasync before answering",
        vs: "bare.up",
        server: bare,
        run: () => upload(`${bare.url}/up?fsync=1`, "PUT", octets, source, SIZE),
        after: () => fetch(`${bare.url}/up`, { method: "DELETE" }),
      },
      {
        id: "bare.down",
        label: "baseline: bare node:http, file streamed back",
        server: bare,
        run: () => download(`${bare.url}/down?file=source.bin`, {}),
      },
      {
        id: "warrant.down",
        label: "Warrant download (alt=media)",
        vs: "bare.down",
        server: warrant,
        run: () => download(`${warrant.url}${objectPath("big-download")}?alt=media`, auth),
      },
    ];
    const samples = new Map<string, TransferSample[]>(rows.map((r) => [r.id, []]));
    const measure = async (r: Row): Promise<TransferSample> => {
      const cpu0 = await r.server.cpuUs();
      let peak = r.server.status().rssKiB;
      const sampler = setInterval(() => {
        peak = Math.max(peak, r.server.status().rssKiB);
      }, 20);
      let t: Transfer;
      try {
        t = await r.run();
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, r.server.status().rssKiB);
      const cpuUs = (await r.server.cpuUs()) - cpu0;
      if (t.status !== 200) throw new Error(`${r.id}: ${t.status} ${t.body.slice(0, 300)}`);
      if (t.bytes !== SIZE) throw new Error(`${r.id}: ${t.bytes} bytes, expected ${SIZE}`);
      if (r.id.startsWith("warrant.") && r.id !== "warrant.down") {
        const meta = JSON.parse(t.body) as { size: string; md5Hash: string };
        if (Number(meta.size) !== SIZE || meta.md5Hash !== seededMeta.md5Hash)
          throw new Error(`${r.id}: stored ${meta.size} bytes, md5 ${meta.md5Hash}`);
      }
      await r.after?.();
      return {
        mbps: SIZE / MB / (t.ms / 1000),
        serverCpuMsPerMB: cpuUs / 1000 / (SIZE / MB),
        seconds: t.ms / 1000,
        serverCpuPct: cpuUs / 10 / t.ms,
        peakRssMiB: peak / 1024,
      };
    };
    for (let round = 0; round < ROUNDS; round++) {
      log(`  round ${round + 1}/${ROUNDS}`);
      // Alternate the order each round so drift within a round favours neither side.
      const order = round % 2 ? [...rows].reverse() : rows;
      for (const r of order) {
        const s = await measure(r);
        samples.get(r.id)!.push(s);
        log(
          `    ${r.id.padEnd(18)} ${s.mbps.toFixed(0).padStart(5)} MB/s  ${s.seconds.toFixed(2)} s  (server CPU ${s.serverCpuPct.toFixed(0)}%, ${s.serverCpuMsPerMB.toFixed(2)} ms/MB, RSS peak ${s.peakRssMiB.toFixed(0)} MiB)`,
        );
      }
    }
    const warrantStatus = warrant.status();
    const summary = rows.map((r) => {
      const ss = samples.get(r.id)!;
      const base = r.vs ? samples.get(r.vs)! : undefined;
      const per = base ? ss.map((s, i) => s.mbps / base[i]!.mbps) : [];
      return {
        id: r.id,
        label: r.label,
        rounds: ss.map((s) => s.mbps),
        medianMBps: median(ss.map((s) => s.mbps)),
        ratio: base
          ? { vs: r.vs, median: median(per), min: Math.min(...per), max: Math.max(...per), perRound: per }
          : undefined,
        serverCpuPct: median(ss.map((s) => s.serverCpuPct)),
        serverCpuMsPerMB: median(ss.map((s) => s.serverCpuMsPerMB)),
        peakRssMiB: Math.max(...ss.map((s) => s.peakRssMiB)),
      };
    });
    return {
      config: { rounds: ROUNDS, bytes: SIZE, tmpdir: tmpdir() },
      rows: summary,
      warrantVmHWMMiB: warrantStatus.hwmKiB / 1024,
      warrantVmHWMAtStartMiB: hwmAtStart / 1024,
      bareVmHWMMiB: bare.status().hwmKiB / 1024,
    };
  } finally {
    for (const s of servers) await s.close();
    rmSync(root, { recursive: true, force: true });
  }
}

// ---------- 3. in-process costs of the upload path ----------

async function inProcess() {
  const SIZE = Math.min(Math.round(num("BENCH_TRANSFER_MB", 1024)), 1024) * MiB;
  const chunk = randomBytes(MiB);
  /** MB/s of wall time, and MB per CPU-second (steadier on a shared machine). */
  const rate = (n: number, fn: () => void) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    const c = process.cpuUsage(c0);
    return {
      wall: (n * MiB) / MB / ((performance.now() - t0) / 1000),
      cpu: (n * MiB) / MB / ((c.user + c.system) / 1e6),
    };
  };
  const { createHash } = await import("node:crypto");
  const n = 256;
  rate(16, () => createHash("md5").update(chunk).digest());
  const md5 = createHash("md5");
  const md5MBps = rate(n, () => md5.update(chunk));
  let crc = 0;
  const crcMBps = rate(n, () => {
    crc = crc32c(chunk, crc);
  });
  const both = new Checksummer();
  const bothMBps = rate(n, () => both.update(chunk));

  const root = mkdtempSync(join(tmpdir(), "warrant-bench-storage-blob-"));
  try {
    const store = new BlobStore(root);
    await store.init();
    const w = store.writer();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let off = 0; off < SIZE; off += MiB)
      if (!w.sink.write(chunk)) await new Promise<void>((ok) => w.sink.once("drain", () => ok()));
    w.sink.end();
    await new Promise<void>((ok, fail) => {
      w.sink.once("finish", () => ok());
      w.sink.once("error", fail);
    });
    const t1 = performance.now();
    const c1 = process.cpuUsage(c0);
    await w.publish();
    const t2 = performance.now();
    return {
      md5MBps,
      crc32cMBps: crcMBps,
      checksummerMBps: bothMBps,
      blobWriter: {
        bytes: SIZE,
        streamMBps: SIZE / MB / ((t1 - t0) / 1000),
        /** CPU of this process (main thread and the fs thread pool) while streaming. */
        streamMBperCpuSecond: SIZE / MB / ((c1.user + c1.system) / 1e6),
        publishSeconds: (t2 - t1) / 1000,
        totalMBps: SIZE / MB / ((t2 - t0) / 1000),
      },
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// ---------- main ----------

export async function main() {
  const started = Date.now();
  const OUT = process.env.BENCH_OUT ?? "/tmp/warrant-bench/storage.json";
  const only = process.env.BENCH_ONLY;
  const profDir = process.env.BENCH_PROF_DIR;
  if (profDir) mkdirSync(profDir, { recursive: true });
  const list = only === "transfer" ? undefined : await listBench(profDir);
  const transfers = only === "list" ? undefined : await transferBench(profDir);
  const costs = only === "list" ? undefined : await inProcess();
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model,
    loadavgAtEnd: loadavg(),
    list,
    transfers,
    inProcess: costs,
    totalSeconds: (Date.now() - started) / 1000,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);

  const out = process.stdout;
  out.write(
    `\nWarrant Cloud Storage bench — ${result.date}, node ${result.node}, ${result.nproc} CPUs (${result.cpuModel}), load average ${result.loadavgAtEnd.map((x) => x.toFixed(2)).join(" ")}\n`,
  );
  if (list) {
    out.write(
      `\nList ${BUCKET} (${LIST_OBJECTS} objects), GET …/o?maxResults=50 (${list.responseBytes} bytes), admin token; ${list.config.rounds} rounds of ${list.config.windowS} s at ${list.config.connections} connections\n`,
    );
    for (const r of list.rows)
      out.write(
        `  enforcement ${r.mode.padEnd(8)} ${fmtRate(r.median).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  server CPU ${r.serverCpuPct.toFixed(0)}%  ${r.serverUsPerReq.toFixed(0)} µs/req\n`,
      );
    out.write(
      `  ratio enforce/off: ${fmtRatio(list.ratio.median)}× (${fmtRatio(list.ratio.min)}–${fmtRatio(list.ratio.max)}), target ≥ 0.8: ${list.ratio.median >= 0.8 ? "met" : "NOT met"}; server CPU per request enforce/off ${fmtRatio(list.cpuPerReqRatio)}×\n`,
    );
  }
  if (transfers) {
    out.write(
      `\nTransfers of ${transfers.config.bytes / MiB} MiB, ${transfers.config.rounds} rounds (MB = 10^6 bytes)\n`,
    );
    for (const r of transfers.rows)
      out.write(
        `  ${r.label.padEnd(50)} ${r.medianMBps.toFixed(0).padStart(5)} MB/s  ${r.ratio ? `${fmtRatio(r.ratio.median)}× (${fmtRatio(r.ratio.min)}–${fmtRatio(r.ratio.max)})` : "baseline".padEnd(20)}  server CPU ${r.serverCpuPct.toFixed(0)}%, ${r.serverCpuMsPerMB.toFixed(2)} ms/MB  RSS peak ${r.peakRssMiB.toFixed(0)} MiB\n`,
      );
    out.write(
      `  Warrant VmHWM ${transfers.warrantVmHWMMiB.toFixed(0)} MiB (at start ${transfers.warrantVmHWMAtStartMiB.toFixed(0)} MiB; target < 200 MB); bare server VmHWM ${transfers.bareVmHWMMiB.toFixed(0)} MiB\n`,
    );
  }
  if (costs)
    out.write(
      `\nIn-process (MB/s wall; MB per CPU-second): MD5 ${costs.md5MBps.wall.toFixed(0)}; ${costs.md5MBps.cpu.toFixed(0)}, CRC32C ${costs.crc32cMBps.wall.toFixed(0)}; ${costs.crc32cMBps.cpu.toFixed(0)}, both ${costs.checksummerMBps.wall.toFixed(0)}; ${costs.checksummerMBps.cpu.toFixed(0)}. BlobWriter, ${costs.blobWriter.bytes / MiB} MiB from memory: streaming ${costs.blobWriter.streamMBps.toFixed(0)}; ${costs.blobWriter.streamMBperCpuSecond.toFixed(0)}, then publish (fdatasync + rename) ${costs.blobWriter.publishSeconds.toFixed(2)} s; overall ${costs.blobWriter.totalMBps.toFixed(0)} MB/s\n`,
    );
  out.write(`\nJSON: ${OUT}  (total ${result.totalSeconds.toFixed(0)} s)\n`);
}
