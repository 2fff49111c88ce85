/**
 * The one HTTP load generator of every bench (bench/run.ts, bench/mds.ts, bench/storage.ts). It runs
 * in a child process (bench/load.ts, forked through `LoadChild`), so that on a small machine the
 * client's work lands on another core than the server under test instead of competing with it on
 * the same event loop. It speaks only to the loopback address it is given (127.0.0.x: metadata
 * servers listen on 127.0.0.2 and up), over a bounded number of keep-alive connections (≤ 256), for
 * a bounded time (≤ 30 s), and the child exits when its parent goes away.
 *
 * Two clients: `raw` (default) writes pre-serialized HTTP/1.1 requests on plain keep-alive TCP
 * sockets and parses only the status line and the body framing, so that one client core can outrun
 * one server core (node:http's client cannot: with it the bare baseline is client-bound on 2 cores);
 * `agent` uses node:http with a keep-alive Agent, for comparison.
 *
 * Protocol (IPC messages): the parent sends a `LoadJob`; the child answers `{ type: "measuring" }`
 * when the warm-up ends and the timed window starts, then a `LoadResult`.
 */
import { type ChildProcess, fork } from "node:child_process";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface LoadJob {
  type: "job";
  url: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  /** Request bodies, used in turn (e.g. a pool of pre-signed assertions); none for GET. */
  bodies?: string[];
  connections: number;
  client?: "raw" | "agent";
  warmupMs: number;
  durationMs: number;
  /**
   * Open loop (raw client only): requests are due at this many per second, spread over the
   * connections, whatever the answers' pace; each latency runs from when its request was due, so
   * a server falling behind shows in the percentiles (no coordinated omission). Default: closed
   * loop, each connection sending its next request as soon as the previous is answered.
   */
  ratePerSec?: number;
}

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface LoadResult {
  type: "result";
  /** Requests answered 2xx inside the timed window. */
  ok: number;
  /** Requests answered otherwise (or failed) inside the timed window. */
  failed: number;
  statuses: Record<string, number>;
  firstError?: string;
  elapsedMs: number;
  latencyMs: Latency;
  /** CPU time this load generator used in the timed window (to tell a client-bound run). */
  clientCpuMs: number;
}

const LOOPBACK = /^127\.0\.0\.\d{1,3}$/;
const MAX_SAMPLES = 500_000;
const MAX_CONNECTIONS = 256;
const MAX_DURATION_MS = 30_000;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs one job in this process (the load child); exported for the child entry only. */
export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const target = new URL(job.url);
  if (!LOOPBACK.test(target.hostname)) throw new Error(`load is for 127.0.0.x only, not ${target.hostname}`);
  const connections = Math.min(Math.max(1, Math.round(job.connections)), MAX_CONNECTIONS);
  const durationMs = Math.min(job.durationMs, MAX_DURATION_MS);
  const bodies = job.bodies?.map((b) => Buffer.from(b)) ?? [];
  let next = 0;
  let measuring = false;
  let stop = false;
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  const statuses: Record<string, number> = {};
  const samples = new Float64Array(MAX_SAMPLES);
  let n = 0;

  const record = (started: number, status: number, text: () => string) => {
    if (!measuring) return;
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status >= 200 && status < 300) {
      ok++;
      if (n < MAX_SAMPLES) samples[n++] = performance.now() - started;
    } else {
      failed++;
      firstError ??= `${status} ${text().slice(0, 300)}`;
    }
  };
  const recordError = (err: unknown) => {
    if (!measuring) return;
    failed++;
    firstError ??= String(err);
  };
  const pickBody = () => (bodies.length ? bodies[next++ % bodies.length] : undefined);

  let cleanup: () => void;
  let worker: () => Promise<void>;
  if (job.client === "agent") {
    const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
    cleanup = () => agent.destroy();
    const path = target.pathname + target.search;
    const once = () =>
      new Promise<void>((done) => {
        const started = performance.now();
        const body = pickBody();
        const headers: Record<string, string | number> = { ...job.headers };
        if (body) headers["content-length"] = body.length;
        const req = request(
          { agent, host: target.hostname, port: target.port, path, method: job.method, headers },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              record(started, res.statusCode ?? 0, () => Buffer.concat(chunks).toString("utf8"));
              done();
            });
          },
        );
        req.on("error", (err) => {
          recordError(err);
          done();
        });
        req.end(body);
      });
    worker = async () => {
      while (!stop) await once();
    };
  } else {
    const sockets = new Set<RawConnection>();
    cleanup = () => {
      for (const c of sockets) c.destroy();
    };
    const head = (body: Buffer | undefined) => {
      let h = `${job.method} ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n`;
      for (const [k, v] of Object.entries(job.headers)) h += `${k}: ${v}\r\n`;
      if (body) h += `Content-Length: ${body.length}\r\n`;
      return Buffer.from(`${h}\r\n`);
    };
    // Requests serialized once, before the clock starts.
    const requests = bodies.length ? bodies.map((b) => Buffer.concat([head(b), b])) : [head(undefined)];
    const rate = job.ratePerSec !== undefined && job.ratePerSec > 0 ? job.ratePerSec : undefined;
    const schedule0 = performance.now();
    let due = 0;
    /** When the next request is due (open loop), after waiting for it; now (closed loop). */
    const nextStart = async (): Promise<number> => {
      if (rate === undefined) return performance.now();
      const at = schedule0 + (due++ * 1000) / rate;
      const wait = at - performance.now();
      if (wait > 0.5) await new Promise((r) => setTimeout(r, wait));
      return at;
    };
    worker = async () => {
      let conn: RawConnection | undefined;
      while (!stop) {
        if (!conn || conn.closed) {
          conn = new RawConnection(Number(target.port), target.hostname);
          sockets.add(conn);
        }
        const started = await nextStart();
        if (stop) break;
        try {
          const r = await conn.exchange(requests[next++ % requests.length]!);
          record(started, r.status, () => r.body.toString("utf8"));
        } catch (err) {
          recordError(err);
          sockets.delete(conn);
          conn.destroy();
          conn = undefined;
          // A server refusing connections must not turn this loop into a busy spin.
          if (!stop) await new Promise((r) => setTimeout(r, 10));
        }
      }
    };
  }
  const workers = Array.from({ length: connections }, worker);
  await new Promise((r) => setTimeout(r, job.warmupMs));
  measuring = true;
  process.send?.({ type: "measuring" });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, durationMs));
  measuring = false;
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  stop = true;
  await Promise.all(workers);
  cleanup();
  const sorted = samples.subarray(0, n).sort();
  return {
    type: "result",
    ok,
    failed,
    statuses,
    ...(firstError ? { firstError } : {}),
    elapsedMs,
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: n ? sorted[n - 1]! : Number.NaN,
    },
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/**
 * One keep-alive HTTP/1.1 connection, one request in flight at a time. Parses the status line and
 * the body framing (Content-Length or chunked) only: enough to know where each response ends.
 */
class RawConnection {
  closed = false;
  private readonly socket: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private pending:
    | { ok: (r: { status: number; body: Buffer }) => void; fail: (e: Error) => void }
    | undefined;

  constructor(port: number, host: string) {
    this.socket = connect({ port, host, noDelay: true });
    this.socket.on("data", (chunk: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      this.parse();
    });
    const end = (err?: Error) => {
      this.closed = true;
      const p = this.pending;
      this.pending = undefined;
      p?.fail(err ?? new Error("connection closed by the server"));
    };
    this.socket.on("error", end);
    this.socket.on("close", () => end());
  }

  exchange(request: Buffer): Promise<{ status: number; body: Buffer }> {
    if (this.closed) return Promise.reject(new Error("connection closed"));
    return new Promise((ok, fail) => {
      this.pending = { ok, fail };
      this.socket.write(request);
    });
  }

  destroy() {
    this.closed = true;
    this.socket.destroy();
  }

  private parse() {
    const b = this.buf;
    const headEnd = b.indexOf("\r\n\r\n");
    if (headEnd < 0 || !this.pending) return;
    const head = b.toString("latin1", 0, headEnd).toLowerCase();
    const status = Number(head.slice(9, 12));
    let bodyStart = headEnd + 4;
    let body: Buffer;
    let end: number;
    const cl = /\r\ncontent-length:\s*(\d+)/.exec(head);
    if (cl) {
      end = bodyStart + Number(cl[1]);
      if (b.length < end) return;
      body = b.subarray(bodyStart, end);
    } else if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = b.indexOf("\r\n", bodyStart);
        if (lineEnd < 0) return;
        const size = Number.parseInt(b.toString("latin1", bodyStart, lineEnd), 16);
        if (size === 0) {
          end = lineEnd + 4;
          if (b.length < end) return;
          break;
        }
        if (b.length < lineEnd + 2 + size + 2) return;
        parts.push(b.subarray(lineEnd + 2, lineEnd + 2 + size));
        bodyStart = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      end = bodyStart;
      body = Buffer.alloc(0);
    }
    this.buf = b.subarray(end);
    const p = this.pending;
    this.pending = undefined;
    if (/\r\nconnection:\s*close/.test(head)) this.destroy();
    p.ok({ status, body });
  }
}

/** The parent's handle on the load child (bench/load.ts). */
export class LoadChild {
  private readonly child: ChildProcess;
  constructor() {
    const script = join(dirname(fileURLToPath(import.meta.url)), "load.js");
    this.child = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  }
  /** Runs a job; `onMeasuring` is called when the warm-up ends and the timed window starts. */
  run(job: Omit<LoadJob, "type">, onMeasuring: () => void): Promise<LoadResult> {
    return new Promise((ok, fail) => {
      const onMessage = (msg: { type: string; message?: string }) => {
        if (msg.type === "measuring") return onMeasuring();
        this.child.off("message", onMessage);
        this.child.off("exit", onExit);
        if (msg.type === "result") ok(msg as unknown as LoadResult);
        else fail(new Error(`load child: ${msg.message}`));
      };
      const onExit = (code: number | null) => fail(new Error(`load child exited (${code})`));
      this.child.on("message", onMessage);
      this.child.once("exit", onExit);
      this.child.send({ type: "job", ...job } satisfies LoadJob);
    });
  }
  close() {
    if (this.child.connected) this.child.disconnect();
  }
}
