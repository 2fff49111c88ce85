/**
 * The load generator, run as a child process of bench/run.ts (`fork`), so that on a small machine
 * the client's work lands on another core than the server under test instead of competing with it
 * on the same event loop. It speaks only to the loopback URL it is given, over a bounded number of
 * keep-alive connections, for a bounded time, and exits when its parent goes away.
 *
 * Two clients: `raw` (default) writes pre-serialized HTTP/1.1 requests on plain keep-alive TCP
 * sockets and parses only the status line and the body framing, so that one client core can outrun
 * one server core (node:http's client cannot: with it the bare baseline is client-bound on 2 cores);
 * `agent` uses node:http with a keep-alive Agent (BENCH_CLIENT=agent), for comparison.
 *
 * Protocol (IPC messages): the parent sends a `LoadJob`; the child answers `{ type: "measuring" }`
 * when the warm-up ends and the timed window starts, then a `LoadResult`.
 */
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";

export interface LoadJob {
  type: "job";
  url: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  /** Request bodies, used in turn (e.g. a pool of pre-signed assertions); none for GET. */
  bodies?: string[];
  connections: number;
  client: "raw" | "agent";
  warmupMs: number;
  durationMs: number;
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
  latencyMs: { p50: number; p99: number };
  /** CPU time this load generator used in the timed window (to tell a client-bound run). */
  clientCpuMs: number;
}

const MAX_SAMPLES = 200_000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(job: LoadJob): Promise<LoadResult> {
  const target = new URL(job.url);
  if (target.hostname !== "127.0.0.1") throw new Error(`load is for 127.0.0.1 only, not ${target.hostname}`);
  const bodies = job.bodies?.map((b) => Buffer.from(b)) ?? [];
  let next = 0;
  let measuring = false;
  let stop = false;
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  const statuses: Record<string, number> = {};
  const samples: number[] = [];

  const record = (started: number, status: number, text: () => string) => {
    if (!measuring) return;
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status >= 200 && status < 300) {
      ok++;
      if (samples.length < MAX_SAMPLES) samples.push(performance.now() - started);
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
    const agent = new Agent({
      keepAlive: true,
      maxSockets: job.connections,
      maxFreeSockets: job.connections,
    });
    cleanup = () => agent.destroy();
    const once = () =>
      new Promise<void>((done) => {
        const started = performance.now();
        const body = pickBody();
        const headers: Record<string, string | number> = { ...job.headers };
        if (body) headers["content-length"] = body.length;
        const path = target.pathname + target.search;
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
    worker = async () => {
      let conn: RawConnection | undefined;
      while (!stop) {
        if (!conn || conn.closed) {
          conn = new RawConnection(Number(target.port), target.hostname);
          sockets.add(conn);
        }
        const started = performance.now();
        try {
          const r = await conn.exchange(requests[next++ % requests.length]!);
          record(started, r.status, () => r.body.toString("utf8"));
        } catch (err) {
          recordError(err);
          sockets.delete(conn);
          conn.destroy();
          conn = undefined;
        }
      }
    };
  }
  const workers = Array.from({ length: job.connections }, worker);
  await new Promise((r) => setTimeout(r, job.warmupMs));
  measuring = true;
  process.send?.({ type: "measuring" });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, job.durationMs));
  measuring = false;
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  stop = true;
  await Promise.all(workers);
  cleanup();
  samples.sort((a, b) => a - b);
  return {
    type: "result",
    ok,
    failed,
    statuses,
    ...(firstError ? { firstError } : {}),
    elapsedMs,
    latencyMs: { p50: percentile(samples, 50), p99: percentile(samples, 99) },
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

process.on("message", (msg: LoadJob) => {
  if (msg?.type !== "job") return;
  run(msg).then(
    (result) => process.send?.(result),
    (err) => process.send?.({ type: "error", message: String(err?.stack ?? err) }),
  );
});
process.on("disconnect", () => process.exit(0));
