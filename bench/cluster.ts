/**
 * `npm run bench:cluster`: authenticated requests and token mints per second on one SQLite node,
 * one PostgreSQL node and two PostgreSQL nodes (one installation, one database), as ratios to the
 * SQLite node measured in the same run. See docs/performance.md and docs/deployment.md.
 *
 * Every node is a `warrant serve` child process on 127.0.0.1; the load comes from two load-generator
 * children (bench/load-gen.ts), each with half the connections: both on the one node of a
 * one-node setup, one per node of the two-node setup, so the client side is the same in every row.
 * Rounds interleave the setups; each ratio is taken within a round and the median reported.
 *
 * Environment: BENCH_ROUNDS (default 3), BENCH_SECONDS (window, default 3), BENCH_CONNECTIONS
 * (default 16), BENCH_POSTGRES_URL (a maintenance database to create the bench databases from,
 * default postgres://postgres@127.0.0.1:5432/test), BENCH_OUT (default /tmp/warrant-bench/cluster.json).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { LoadChild, type LoadJob, type LoadResult } from "./load-gen.js";
import { fmtRate, fmtRatio, log, median } from "./stats.js";

const num = (name: string, dflt: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const ROUNDS = Math.round(num("BENCH_ROUNDS", 3));
const WINDOW_MS = num("BENCH_SECONDS", 3) * 1000;
const CONNECTIONS = Math.round(num("BENCH_CONNECTIONS", 16));
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const OUT = process.env.BENCH_OUT ?? "/tmp/warrant-bench/cluster.json";
const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), "../.."), "bin", "warrant.js");
const WARMUP_MS = 700;

interface Node {
  child: ChildProcess;
  url: string;
  stateDir: string;
  token: string;
  cred: { client_id: string; client_secret: string; refresh_token: string };
}

async function startNode(args: string[], env: Record<string, string>): Promise<Node> {
  const stateDir = mkdtempSync(join(tmpdir(), "warrant-bench-node-"));
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("WARRANT_")) clean[k] = v;
  const child = spawn(
    process.execPath,
    [BIN, "serve", "--state-dir", stateDir, "--port", "0", "--log-level=error", ...args],
    { env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const deadline = Date.now() + 30_000;
  while (!out.includes("Press Ctrl-C to stop.")) {
    if (child.exitCode !== null) throw new Error(`serve exited:\n${out}`);
    if (Date.now() > deadline) throw new Error(`serve did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const info = JSON.parse(readFileSync(join(stateDir, "server.json"), "utf8")) as { url: string };
  const cred = JSON.parse(readFileSync(join(stateDir, "admin-credentials.json"), "utf8"));
  const res = await fetch(`${info.url}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", ...cred }),
  });
  const { access_token } = (await res.json()) as { access_token: string };
  return { child, url: info.url, stateDir, token: access_token, cred };
}

interface Setup {
  id: string;
  label: string;
  nodes: Node[];
}

type Workload = "auth" | "mint";

/** Both load children at once, against the setup's nodes in turn; requests per second answered 2xx. */
async function measure(
  loads: LoadChild[],
  setup: Setup,
  w: Workload,
): Promise<{ rate: number; failed: number }> {
  const results: LoadResult[] = await Promise.all(
    loads.map((load, i) => {
      const node = setup.nodes[i % setup.nodes.length]!;
      const job: Pick<LoadJob, "url" | "method" | "headers" | "bodies"> =
        w === "auth"
          ? {
              url: `${node.url}/v1/projects/demo-project`,
              method: "GET" as const,
              headers: { authorization: `Bearer ${node.token}` },
            }
          : {
              url: `${node.url}/token`,
              method: "POST" as const,
              headers: { "content-type": "application/x-www-form-urlencoded" },
              bodies: [new URLSearchParams({ grant_type: "refresh_token", ...node.cred }).toString()],
            };
      return load.run(
        {
          ...job,
          connections: Math.max(1, Math.floor(CONNECTIONS / loads.length)),
          warmupMs: WARMUP_MS,
          durationMs: WINDOW_MS,
        },
        () => {},
      );
    }),
  );
  const rate = results.reduce((s, r) => s + (r.ok * 1000) / r.elapsedMs, 0);
  const failed = results.reduce((s, r) => s + r.failed, 0);
  const first = results.find((r) => r.firstError)?.firstError;
  if (failed && first) log(`  ${setup.id} ${w}: ${failed} failed, e.g. ${first}`);
  return { rate, failed };
}

const run = `warrant_bench_${process.pid}_${randomBytes(3).toString("hex")}`;
const databases = [`${run}_one`, `${run}_two`];
const admin = new pg.Client({ connectionString: ADMIN_URL });
await admin.connect();
for (const d of databases) await admin.query(`CREATE DATABASE ${d}`);
const dbUrl = (name: string) => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
};
const masterKey = { WARRANT_MASTER_KEY: randomBytes(32).toString("base64") };
const all: Node[] = [];
const loads = [new LoadChild(), new LoadChild()];
try {
  log(
    `bench:cluster: ${cpus().length} cores, ${ROUNDS} rounds of ${WINDOW_MS / 1000} s, ${CONNECTIONS} connections`,
  );
  const sqlite = await startNode([], {});
  const pgOne = await startNode([`--datastore=${dbUrl(databases[0]!)}`], masterKey);
  const blobDir = mkdtempSync(join(tmpdir(), "warrant-bench-blobs-"));
  const twoArgs = [`--datastore=${dbUrl(databases[1]!)}`, `--blob-dir=${blobDir}`];
  const pgA = await startNode(twoArgs, masterKey);
  const pgB = await startNode(twoArgs, masterKey);
  all.push(sqlite, pgOne, pgA, pgB);
  const setups: Setup[] = [
    { id: "sqlite-1", label: "1 node, SQLite", nodes: [sqlite] },
    { id: "postgres-1", label: "1 node, PostgreSQL", nodes: [pgOne] },
    { id: "postgres-2", label: "2 nodes, one PostgreSQL", nodes: [pgA, pgB] },
  ];
  const workloads: { id: Workload; label: string }[] = [
    { id: "auth", label: "authenticated requests/s (GET project, bearer token)" },
    { id: "mint", label: "token mints/s (POST /token, refresh_token grant)" },
  ];
  const samples = new Map<string, number[]>();
  const ratios = new Map<string, number[]>();
  const failures = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const w of workloads) {
      const rates: Record<string, number> = {};
      // Rotate the order each round, so no setup always runs first (or last) on a warming machine.
      const order = setups.map((_, i) => setups[(i + round) % setups.length]!);
      for (const s of order) {
        const { rate, failed } = await measure(loads, s, w.id);
        rates[s.id] = rate;
        const key = `${w.id}/${s.id}`;
        samples.set(key, [...(samples.get(key) ?? []), rate]);
        failures.set(key, (failures.get(key) ?? 0) + failed);
      }
      for (const s of setups) {
        const key = `${w.id}/${s.id}`;
        ratios.set(key, [...(ratios.get(key) ?? []), rates[s.id]! / rates["sqlite-1"]!]);
      }
    }
    log(`round ${round + 1}/${ROUNDS} done`);
  }
  const table: string[] = [];
  const json: Record<string, unknown>[] = [];
  for (const w of workloads) {
    table.push(`\n${w.label}`);
    table.push(`  ${"setup".padEnd(26)} ${"per second".padStart(12)} ${"vs 1 SQLite node".padStart(18)}`);
    for (const s of setups) {
      const key = `${w.id}/${s.id}`;
      const rate = median(samples.get(key)!);
      const ratio = median(ratios.get(key)!);
      table.push(
        `  ${s.label.padEnd(26)} ${fmtRate(rate).padStart(12)} ${`${fmtRatio(ratio)}×`.padStart(18)}`,
      );
      json.push({ workload: w.id, setup: s.id, perSecond: rate, ratio, failed: failures.get(key) ?? 0 });
    }
  }
  process.stdout.write(`${table.join("\n")}\n`);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(
    OUT,
    `${JSON.stringify({ rounds: ROUNDS, windowMs: WINDOW_MS, connections: CONNECTIONS, cores: cpus().length, rows: json }, null, 2)}\n`,
  );
  log(`wrote ${OUT}`);
  rmSync(blobDir, { recursive: true, force: true });
} finally {
  for (const l of loads) l.close();
  for (const n of all) {
    n.child.kill("SIGTERM");
    await new Promise((r) => (n.child.exitCode !== null ? r(undefined) : n.child.once("exit", r)));
    if (existsSync(n.stateDir)) rmSync(n.stateDir, { recursive: true, force: true });
  }
  for (const d of databases) await admin.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`);
  await admin.end();
}
