/**
 * `npm run bench:mds`: throughput and latency of a Warrant metadata server (the in-process agent of
 * `demo-vm`, src/agent/), reported as ratios to a bare node:http server measured in the same run
 * that answers the same request with the same bytes and headers. See docs/performance.md,
 * "Metadata server".
 *
 * Same method as bench/run.ts: servers in this process, HTTP load from one child process over a
 * bounded number of keep-alive connections with pre-serialized requests, fixed windows, several
 * rounds interleaving every row, ratios taken within a round, medians reported. The load child is
 * the shared one (bench/load-gen.ts), which accepts any 127.0.0.x address (metadata servers listen
 * on 127.0.0.2 and up).
 *
 * Rows: a cached token (`…/service-accounts/default/token`, cache warmed before timing) and a
 * metadata leaf (`…/project/project-id`), each beside its own bare baseline, at
 * BENCH_CONNECTIONS connections (throughput and loaded latency) and at 1 connection (unloaded
 * latency), and the cached token paced (open loop) at half the rate the metadata server reached at
 * full load in the same round, beside the bare server paced at the same rate (latency at half the
 * peak). Everything is on 127.0.0.x and stops by itself.
 *
 * Environment: BENCH_ROUNDS (default 5), BENCH_SECONDS (window at N connections, default 3),
 * BENCH_LATENCY_SECONDS (window at 1 connection, default 1), BENCH_CONNECTIONS (default 16),
 * BENCH_OUT (JSON file, default /tmp/warrant-bench/mds.json), BENCH_ONLY (row pairs to measure:
 * token, leaf, token.c1, leaf.c1, token.half; default all).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type OutgoingHttpHeaders, request } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startServer } from "../src/server/app.js";
import { type Latency, LoadChild } from "./load-gen.js";
import { fmtMs, fmtRate, fmtRatio, log, median } from "./stats.js";

// ---------- the parent ----------

const num = (name: string, dflt: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};

const LOOPBACK = /^127\.0\.0\.\d{1,3}$/;

interface Target {
  host: string;
  port: number;
}

interface Case {
  id: string;
  label: string;
  /** The baseline row of the same round, for subject rows. */
  vs?: string;
  target: Target;
  path: string;
  connections: number;
  /** Open loop at half the rate the row `halfOf` reached in the same round (latency at half load). */
  halfOf?: string;
}

interface Sample {
  value: number;
  latencyMs: Latency;
  serverCpuPct: number;
  serverCpuUsPerOp: number;
  clientCpuPct: number;
  failed: number;
  /** The open-loop rate asked for (half-peak rows). */
  pacedAt?: number;
}

/** One response exactly as received: status, raw headers (names as sent, in order), body. */
interface Captured {
  status: number;
  rawHeaders: string[];
  body: Buffer;
}

const MDS_HEADERS = { "Metadata-Flavor": "Google" };

function get(t: Target, path: string): Promise<Captured> {
  return new Promise((ok, fail) => {
    const req = request({ host: t.host, port: t.port, path, headers: MDS_HEADERS, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        ok({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", fail);
    req.end();
  });
}

/** Headers node:http writes by itself (same server settings give the same values). */
const AUTOMATIC = new Set(["date", "connection", "keep-alive"]);

function replayable(c: Captured): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < c.rawHeaders.length; i += 2)
    if (!AUTOMATIC.has(c.rawHeaders[i]!.toLowerCase())) pairs.push([c.rawHeaders[i]!, c.rawHeaders[i + 1]!]);
  return pairs;
}

/** Everything but the Date value, to check that a baseline answers the same bytes. */
const comparable = (c: Captured) => {
  const h: string[] = [];
  for (let i = 0; i < c.rawHeaders.length; i += 2)
    h.push(`${c.rawHeaders[i]}: ${c.rawHeaders[i]!.toLowerCase() === "date" ? "*" : c.rawHeaders[i + 1]}`);
  return `${c.status}\n${h.join("\n")}\n\n${c.body.toString("latin1")}`;
};

/**
 * The baseline: a bare node:http server on 127.0.0.1 answering every request with one captured
 * response (same status, header names, order and values, same body), with the agent's timeouts.
 */
async function startBare(c: Captured) {
  const headers: OutgoingHttpHeaders = {};
  for (const [k, v] of replayable(c)) headers[k] = v;
  const body = c.body;
  const server = createServer((_req, res) => {
    res.writeHead(c.status, headers);
    res.end(body);
  });
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    target: { host: "127.0.0.1", port: (server.address() as AddressInfo).port },
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

export async function main(): Promise<void> {
  const ROUNDS = Math.round(num("BENCH_ROUNDS", 5));
  const HTTP_MS = num("BENCH_SECONDS", 3) * 1000;
  const LAT_MS = num("BENCH_LATENCY_SECONDS", 1) * 1000;
  const CONNECTIONS = Math.min(256, Math.round(num("BENCH_CONNECTIONS", 16)));
  const OUT = process.env.BENCH_OUT ?? "/tmp/warrant-bench/mds.json";
  const FIRST_WARMUP_MS = 1500;
  const WARMUP_MS = 500;
  const LAT_WARMUP_MS = 200;

  const started = Date.now();
  const stateDir = mkdtempSync(join(tmpdir(), "warrant-bench-mds-"));
  const closers: (() => Promise<void>)[] = [];
  let load: LoadChild | undefined;
  try {
    log(
      `warrant metadata-server bench: ${ROUNDS} rounds, ${HTTP_MS / 1000} s windows at ${CONNECTIONS} connections, ${LAT_MS / 1000} s at 1`,
    );
    const serverLog: string[] = [];
    const server = await startServer({ stateDir, host: "127.0.0.1", port: 0, log: (l) => serverLog.push(l) });
    closers.push(() => server.close());
    const instance = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
    const addr = server.metadataServers()[instance];
    if (!addr)
      throw new Error(`no metadata server for ${instance}: ${JSON.stringify(server.metadataServers())}`);
    const [mdsHost, mdsPort] = addr.split(":") as [string, string];
    if (!LOOPBACK.test(mdsHost)) throw new Error(`metadata server not on 127.0.0.x: ${addr}`);
    const mds: Target = { host: mdsHost, port: Number(mdsPort) };

    const tokenPath = "/computeMetadata/v1/instance/service-accounts/default/token";
    const leafPath = "/computeMetadata/v1/project/project-id";
    // Warm the token cache (the first request mints through the control plane), then check a hit.
    const first = await get(mds, tokenPath);
    if (first.status !== 200) throw new Error(`token: ${first.status} ${first.body}`);
    const token = await get(mds, tokenPath);
    const leaf = await get(mds, leafPath);
    if (leaf.status !== 200) throw new Error(`leaf: ${leaf.status} ${leaf.body}`);
    const accessToken = (b: Buffer) =>
      (JSON.parse(b.toString("utf8")) as { access_token: string }).access_token;
    if (accessToken(first.body) !== accessToken(token.body))
      throw new Error("second token request missed the cache");

    const bareToken = await startBare(token);
    closers.push(bareToken.close);
    const bareLeaf = await startBare(leaf);
    closers.push(bareLeaf.close);
    for (const [name, real, bare] of [
      ["token", token, bareToken.target],
      ["leaf", leaf, bareLeaf.target],
    ] as const) {
      const again = await get(bare, name === "token" ? tokenPath : leafPath);
      if (comparable(again) !== comparable(real))
        throw new Error(`baseline (${name}) differs:\n${comparable(again)}\n--- vs ---\n${comparable(real)}`);
    }

    const cases: Case[] = [];
    for (const conns of [CONNECTIONS, 1]) {
      const at = conns === 1 ? ", 1 conn" : "";
      const sfx = conns === 1 ? ".c1" : "";
      cases.push(
        {
          id: `A.token${sfx}`,
          label: `baseline: bare node:http, token bytes${at}`,
          target: bareToken.target,
          path: tokenPath,
          connections: conns,
        },
        {
          id: `mds.token${sfx}`,
          label: `MDS cached token${at}`,
          vs: `A.token${sfx}`,
          target: mds,
          path: tokenPath,
          connections: conns,
        },
        {
          id: `A.leaf${sfx}`,
          label: `baseline: bare node:http, leaf bytes${at}`,
          target: bareLeaf.target,
          path: leafPath,
          connections: conns,
        },
        {
          id: `mds.leaf${sfx}`,
          label: `MDS leaf project/project-id${at}`,
          vs: `A.leaf${sfx}`,
          target: mds,
          path: leafPath,
          connections: conns,
        },
      );
    }
    // Latency at half the peak: the cached token paced at half of what the metadata server served
    // at full load in the same round, and the bare server paced at the same rate.
    cases.push(
      {
        id: "A.token.half",
        label: "baseline: bare node:http, token bytes, paced at half the MDS peak",
        target: bareToken.target,
        path: tokenPath,
        connections: CONNECTIONS,
        halfOf: "mds.token",
      },
      {
        id: "mds.token.half",
        label: "MDS cached token, paced at half its peak",
        vs: "A.token.half",
        target: mds,
        path: tokenPath,
        connections: CONNECTIONS,
        halfOf: "mds.token",
      },
    );
    // BENCH_ONLY: the pairs to measure, by the subject row's name without `mds.` (token, leaf,
    // token.c1, leaf.c1, token.half; the half-load pair needs `token`, which it then includes).
    const only = process.env.BENCH_ONLY?.split(",").filter(Boolean);
    if (only) {
      const keep = new Set(only);
      if (keep.has("token.half")) keep.add("token");
      const pairs: Case[] = [];
      for (let i = 0; i < cases.length; i += 2)
        if (keep.has(cases[i + 1]!.id.slice("mds.".length))) pairs.push(cases[i]!, cases[i + 1]!);
      if (pairs.length === 0) throw new Error(`BENCH_ONLY=${only.join(",")} names no row pair`);
      cases.splice(0, cases.length, ...pairs);
    }
    const samples = new Map<string, Sample[]>(cases.map((c) => [c.id, []]));

    load = new LoadChild();
    const measure = async (c: Case, warmupMs: number, ratePerSec?: number): Promise<Sample> => {
      let cpu0 = process.cpuUsage();
      let t0 = performance.now();
      const r = await load!.run(
        {
          url: `http://${c.target.host}:${c.target.port}${c.path}`,
          method: "GET",
          headers: MDS_HEADERS,
          connections: c.connections,
          warmupMs,
          durationMs: c.connections === 1 ? LAT_MS : HTTP_MS,
          ...(ratePerSec !== undefined ? { ratePerSec } : {}),
        },
        () => {
          cpu0 = process.cpuUsage();
          t0 = performance.now();
        },
      );
      const cpu = process.cpuUsage(cpu0);
      const wallMs = performance.now() - t0;
      const cpuMs = (cpu.user + cpu.system) / 1000;
      if (r.ok === 0) throw new Error(`${c.id}: no successful request (${r.firstError ?? "no answer"})`);
      if (r.failed) log(`  ${c.id}: ${r.failed} failed requests, first: ${r.firstError}`);
      return {
        value: (r.ok * 1000) / r.elapsedMs,
        latencyMs: r.latencyMs,
        serverCpuPct: (100 * cpuMs) / wallMs,
        serverCpuUsPerOp: (cpuMs * 1000) / r.ok,
        clientCpuPct: (100 * r.clientCpuMs) / r.elapsedMs,
        failed: r.failed,
      };
    };

    for (let round = 0; round < ROUNDS; round++) {
      log(`round ${round + 1}/${ROUNDS}`);
      // Alternate the order within pairs each round, so drift within a round favours neither side.
      const order: Case[] = [];
      for (let i = 0; i < cases.length; i += 2)
        order.push(...(round % 2 ? [cases[i + 1]!, cases[i]!] : [cases[i]!, cases[i + 1]!]));
      for (const c of order) {
        const warm = c.connections === 1 ? LAT_WARMUP_MS : round === 0 ? FIRST_WARMUP_MS : WARMUP_MS;
        const peak = c.halfOf ? samples.get(c.halfOf)![round]!.value : undefined;
        const s = await measure(c, warm, peak !== undefined ? peak / 2 : undefined);
        samples.get(c.id)!.push({ ...s, ...(peak !== undefined ? { pacedAt: peak / 2 } : {}) });
        log(
          `  ${c.id.padEnd(12)} ${fmtRate(s.value).padStart(8)} req/s  p50 ${fmtMs(s.latencyMs.p50)} p99 ${fmtMs(s.latencyMs.p99)} ms  (server CPU ${s.serverCpuPct.toFixed(0)}%, ${s.serverCpuUsPerOp.toFixed(0)} µs/op; client ${s.clientCpuPct.toFixed(0)}%)`,
        );
      }
    }
    // The token must still come from the cache: the same token as before the run.
    const after = await get(mds, tokenPath);
    const stillCached = accessToken(after.body) === accessToken(token.body);

    const summary = cases.map((c) => {
      const ss = samples.get(c.id)!;
      const values = ss.map((s) => s.value);
      const med = median(values);
      const opt = (f: (s: Sample) => number) => median(ss.map(f));
      let ratio: { vs: string; median: number; min: number; max: number; perRound: number[] } | undefined;
      let cpuRatio: number | undefined;
      if (c.vs) {
        const base = samples.get(c.vs)!;
        const per = ss.map((s, i) => s.value / base[i]!.value);
        ratio = {
          vs: c.vs,
          median: median(per),
          min: Math.min(...per),
          max: Math.max(...per),
          perRound: per,
        };
        cpuRatio = median(ss.map((s, i) => s.serverCpuUsPerOp / base[i]!.serverCpuUsPerOp));
      }
      return {
        id: c.id,
        label: c.label,
        connections: c.connections,
        rounds: values,
        median: med,
        min: Math.min(...values),
        max: Math.max(...values),
        spreadPct: (100 * (Math.max(...values) - Math.min(...values))) / med,
        ratio,
        /** Server CPU per request relative to the baseline (median of per-round ratios). */
        cpuPerOpVsBaseline: cpuRatio,
        latencyMs: {
          p50: opt((s) => s.latencyMs.p50),
          p90: opt((s) => s.latencyMs.p90),
          p99: opt((s) => s.latencyMs.p99),
          p999: opt((s) => s.latencyMs.p999),
          max: Math.max(...ss.map((s) => s.latencyMs.max)),
        },
        serverCpuPct: opt((s) => s.serverCpuPct),
        serverCpuUsPerOp: opt((s) => s.serverCpuUsPerOp),
        clientCpuPct: opt((s) => s.clientCpuPct),
        failed: ss.reduce((n, s) => n + s.failed, 0),
        ...(c.halfOf
          ? {
              pacedAtPerSec: ss.map((s) => s.pacedAt ?? 0),
              p99PerRoundMs: ss.map((s) => s.latencyMs.p99),
            }
          : {}),
      };
    });

    const result = {
      date: new Date().toISOString(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      nproc: cpus().length,
      cpuModel: cpus()[0]?.model,
      loadavgAtEnd: loadavg(),
      config: {
        rounds: ROUNDS,
        windowS: HTTP_MS / 1000,
        latencyWindowS: LAT_MS / 1000,
        warmupS: {
          first: FIRST_WARMUP_MS / 1000,
          later: WARMUP_MS / 1000,
          oneConnection: LAT_WARMUP_MS / 1000,
        },
        connections: CONNECTIONS,
        metadataServer: addr,
        loadGenerator: "child process, pre-serialized HTTP/1.1 GET on keep-alive TCP sockets",
      },
      responses: {
        token: { headers: replayable(token), bodyBytes: token.body.length },
        leaf: { headers: replayable(leaf), bodyBytes: leaf.body.length },
      },
      tokenStillCachedAfterRun: stillCached,
      rows: summary,
      serverErrorsLogged: serverLog.filter((l) => /fail|error/i.test(l)).length,
      totalSeconds: (Date.now() - started) / 1000,
    };
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);

    const head = [
      "row",
      "median req/s",
      "spread",
      "ratio (median, min–max)",
      "p50 ms",
      "p99 ms",
      "srv CPU",
      "µs/op",
    ];
    const lines = summary.map((s) => [
      s.label,
      fmtRate(s.median),
      `±${(s.spreadPct / 2).toFixed(0)}%`,
      s.ratio
        ? `${fmtRatio(s.ratio.median)}× (${fmtRatio(s.ratio.min)}–${fmtRatio(s.ratio.max)})`
        : "baseline",
      fmtMs(s.latencyMs.p50),
      fmtMs(s.latencyMs.p99),
      `${s.serverCpuPct.toFixed(0)}%`,
      s.serverCpuUsPerOp.toFixed(1),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const fmt = (cells: string[]) =>
      cells.map((c, i) => (i === 0 || i === 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
    const out = process.stdout;
    out.write(
      `\nWarrant metadata-server bench — ${result.date}, node ${result.node}, ${result.nproc} CPUs (${result.cpuModel}), load average ${result.loadavgAtEnd.map((x) => x.toFixed(2)).join(" ")}\n`,
    );
    out.write(
      `${ROUNDS} rounds; ${HTTP_MS / 1000} s windows at ${CONNECTIONS} keep-alive connections, ${LAT_MS / 1000} s at 1 connection; load from a child process; metadata server ${addr}\n\n`,
    );
    out.write(
      `${[fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmt)].join("\n")}\n\n`,
    );
    const row = (id: string) => summary.find((s) => s.id === id);
    const cpuVs = (id: string) => {
      const r = row(id);
      return r?.cpuPerOpVsBaseline !== undefined ? `${fmtRatio(r.cpuPerOpVsBaseline)}×` : "not measured";
    };
    out.write(
      `Server CPU per request vs baseline: token ${cpuVs("mds.token")}, leaf ${cpuVs("mds.leaf")}. Token still cached after the run: ${stillCached}.\n`,
    );
    const half = row("mds.token.half");
    const tokenRow = row("mds.token");
    if (tokenRow)
      out.write(
        `Cached token: ${fmtRatio(tokenRow.ratio!.median)}× bare at ${CONNECTIONS} connections (target ≥ 0.9)${half ? `; p99 ${fmtMs(half.latencyMs.p99)} ms at half its peak (${fmtRate(median(half.pacedAtPerSec ?? []))} req/s; target ≤ 2 ms)` : ""}.\n`,
      );
    out.write(`\nJSON: ${OUT}  (total ${result.totalSeconds.toFixed(0)} s)\n`);
    // The cached-token rows measure the cache only if every request of the run was a hit: a token
    // that changed means some were mints, and the numbers describe something else.
    if (!stillCached)
      throw new Error(
        "the metadata server's token changed during the run: the cached-token rows are not cache hits",
      );
  } finally {
    load?.close();
    for (const close of closers.reverse()) await close().catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  }
}
