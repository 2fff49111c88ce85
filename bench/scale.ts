/**
 * `npm run bench:scale`: Warrant at fleet scale (issue 17, target 3). For SQLite and for PostgreSQL:
 * generate an installation of 100,000 service accounts, 10,000 instances with enrolled agent
 * records, 1,000 projects whose policies hold 1,500 members, 100 custom roles and a bucket of 10,000
 * objects (bench/scale-gen.ts, through the datastore directly), then measure against the targets:
 *
 * - a permission check in process (`AccessControl.decide`, warm cache): p99 < 50 µs;
 * - authenticated `storage.objects.list` and `compute.instances.list` pages over HTTP at 16
 *   connections: p99 < 20 ms;
 * - every page of a project's service accounts, one after the other: p99 per page < 20 ms;
 * - cold start of `warrant serve` on that state (spawn → `/readyz` 200): < 5 s; its RSS < 500 MB;
 * - the memory each in-process metadata server (agent) costs: RSS of a `warrant serve` with N
 *   instances minus that of one with a single instance, divided by N − 1.
 *
 * Absolute numbers (there is no baseline to divide by: the targets are absolute). Everything runs
 * on 127.0.0.1, in temporary state directories and scratch PostgreSQL databases that are removed at
 * the end; every phase is bounded in time.
 *
 * Flags: `--quick` (a hundredth of the fleet), `--backend=sqlite|postgres|both` (default both),
 * `--skip-agents` (no agent-memory run), `--in-process-agents` (serve the fleet with a metadata
 * server per instance in process instead of `--external-agents`). Environment: BENCH_POSTGRES_URL (default WARRANT_TEST_POSTGRES_URL, else
 * postgres://postgres@127.0.0.1:5432/test), BENCH_SECONDS (HTTP window, default 5),
 * BENCH_CONNECTIONS (16), BENCH_AGENTS (instances of the agent-memory run, default 300),
 * BENCH_PROF_DIR (run the servers under --cpu-prof into that directory), BENCH_OUT (default
 * /tmp/warrant-bench/scale.json).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { Datastore } from "../src/datastore/datastore.js";
import { openDatastore } from "../src/datastore/open.js";
import { repositories } from "../src/datastore/repositories.js";
import { CLOUD_PLATFORM } from "../src/domain/compute/scopes.js";
import { type Principal, serviceAccountPrincipal } from "../src/domain/iam/principal.js";
import { childOf, instanceResource, projectRef, type ResourceRef } from "../src/domain/resources.js";
import { bucketResource } from "../src/domain/storage/bucket.js";
import { mintAccessToken } from "../src/domain/tokens/access-token.js";
import { loadSigningKey } from "../src/domain/tokens/signing-key.js";
import { AccessControl } from "../src/server/iam/access-control.js";
import { decide } from "../src/server/iam/decide.js";
import { LoadChild } from "./load-gen.js";
import { FLEET_ZONE, type Fleet, FULL_SCALE, generateFleet, projectIdOf, QUICK_SCALE } from "./scale-gen.js";
import { log } from "./stats.js";

const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const SKIP_AGENTS = argv.includes("--skip-agents");
/** Run the fleet's server with a metadata server per instance in process (as before `--external-agents`). */
const IN_PROCESS_AGENTS = argv.includes("--in-process-agents");
const BACKEND = argv.find((a) => a.startsWith("--backend="))?.slice(10) ?? "both";
const num = (name: string, dflt: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const WINDOW_MS = num("BENCH_SECONDS", QUICK ? 2 : 5) * 1000;
const CONNECTIONS = Math.round(num("BENCH_CONNECTIONS", 16));
const AGENTS = Math.round(num("BENCH_AGENTS", QUICK ? 50 : 300));
const PG_URL =
  process.env.BENCH_POSTGRES_URL ??
  process.env.WARRANT_TEST_POSTGRES_URL ??
  "postgres://postgres@127.0.0.1:5432/test";
const PROF_DIR = process.env.BENCH_PROF_DIR;
const OUT = process.env.BENCH_OUT ?? "/tmp/warrant-bench/scale.json";
const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), "../.."), "bin", "warrant.js");
const SCALE = QUICK ? QUICK_SCALE : FULL_SCALE;
/** No phase waits longer than this for a server to become ready. */
const READY_CAP_MS = 120_000;
const PAGE = 100;

const TARGETS = {
  checkP99Us: 50,
  listP99Ms: 20,
  pageP99Ms: 20,
  coldStartMs: 5_000,
  rssMiB: 500,
};

const pct = (sorted: ArrayLike<number>, p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN;
function summary(xs: number[]) {
  const s = Float64Array.from(xs).sort();
  return { n: s.length, p50: pct(s, 50), p99: pct(s, 99), max: s.at(-1) ?? Number.NaN };
}
const mib = (kb: number) => kb / 1024;

/** CPU time (user + system) of a process so far, ms. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

function procStatus(pid: number): { rssKiB: number; hwmKiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? Number.NaN);
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

interface Serve {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Spawn → /readyz 200, ms; undefined if not ready within the cap. */
  readyMs: number | undefined;
  /** Spawn → banner-less server.json written (routes registered), ms. */
  listeningMs: number;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("WARRANT_")) env[k] = v;
  return { ...env, ...extra };
}

async function startServe(stateDir: string, args: string[], env: Record<string, string>, tag: string) {
  const serverJson = join(stateDir, "server.json");
  rmSync(serverJson, { force: true });
  const nodeArgs = PROF_DIR
    ? ["--cpu-prof", `--cpu-prof-dir=${PROF_DIR}`, `--cpu-prof-name=${tag}.cpuprofile`]
    : [];
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [...nodeArgs, BIN, "serve", "--state-dir", stateDir, "--port", "0", "--log-level=error", ...args],
    { env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  let url: string | undefined;
  let listeningMs = Number.NaN;
  let readyMs: number | undefined;
  const deadline = t0 + READY_CAP_MS;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}:\n${out}`);
    if (!url && existsSync(serverJson)) {
      try {
        url = (JSON.parse(readFileSync(serverJson, "utf8")) as { url: string }).url;
        listeningMs = performance.now() - t0;
      } catch {
        // Being written: read it again next time.
      }
    }
    if (url) {
      const ok = await fetch(`${url}/readyz`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) {
        readyMs = performance.now() - t0;
        break;
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!url) throw new Error(`serve wrote no server.json within ${READY_CAP_MS} ms:\n${out}`);
  return { child, url, output: () => out, readyMs, listeningMs } satisfies Serve;
}

async function stopServe(s: Serve) {
  if (s.child.exitCode !== null) return;
  s.child.kill("SIGTERM");
  const killer = setTimeout(() => s.child.kill("SIGKILL"), 30_000);
  await new Promise((r) => (s.child.exitCode !== null ? r(undefined) : s.child.once("exit", r)));
  clearTimeout(killer);
}

interface BackendResult {
  backend: string;
  generate: { documents: number; ms: number };
  checks: Record<string, { n: number; p50: number; p99: number; max: number; firstUs: number }>;
  coldStart: { listeningMs: number; readyMs: number | undefined; rssMiB: number };
  http: Record<
    string,
    {
      rps: number;
      p50: number;
      p99: number;
      failed: number;
      statuses: Record<string, number>;
      cpuUsPerRequest: number;
    }
  >;
  pages:
    | { pages: number; accounts: number; p50: number; p99: number; max: number; totalMs: number }
    | undefined;
  rssAfterMiB: number;
  hwmMiB: number;
}

/** In-process permission checks on the generated state, through the server's `AccessControl`. */
async function inProcessChecks(store: Datastore, fleet: Fleet, orgId: string) {
  const access = new AccessControl(store, orgId);
  const bigProject = await repositories(store).projects.get(fleet.bigProject);
  const caller: Principal = serviceAccountPrincipal(
    fleet.caller.email,
    bigProject!.projectNumber,
    fleet.caller.uniqueId,
  );
  const project = projectRef(orgId, fleet.bigProject);
  const bucket: ResourceRef = childOf(project, bucketResource(fleet.bigBucket));
  const vm = childOf(project, instanceResource(fleet.bigProject, FLEET_ZONE, "vm-00000"));
  const other = projectIdOf(Math.floor(fleet.scale.projects / 2));
  const rows: [string, Principal, string, ResourceRef, boolean][] = [
    ["storage.objects.list on a bucket (allowed)", caller, "storage.objects.list", bucket, true],
    ["compute.instances.list on a project (allowed)", caller, "compute.instances.list", project, true],
    ["compute.instances.get on an instance (allowed)", caller, "compute.instances.get", vm, true],
    [
      "compute.instances.get on another project (denied)",
      caller,
      "compute.instances.get",
      childOf(projectRef(orgId, other), instanceResource(other, FLEET_ZONE, "vm-00000")),
      false,
    ],
  ];
  const out: BackendResult["checks"] = {};
  const ITER = QUICK ? 3_000 : 20_000;
  // Each check twice: evaluated (the policy chain walked on the cached policies: what a first call,
  // or any call after a policy change, costs) and remembered (AccessControl's decision cache: what
  // a repeated call costs).
  const evaluate = (who: Principal, permission: string, ref: ResourceRef) =>
    decide(access.policySource, orgId, who, permission, ref);
  for (const [label, who, permission, ref, expect] of rows)
    for (const [how, check] of [
      ["evaluated", evaluate],
      ["remembered", access.decide.bind(access)],
    ] as const) {
      let t = process.hrtime.bigint();
      const first = await check(who, permission, ref);
      const firstUs = Number(process.hrtime.bigint() - t) / 1000;
      if (first.allowed !== expect)
        throw new Error(`${label}: expected allowed=${expect}, got ${first.reason}`);
      for (let i = 0; i < 200; i++) await check(who, permission, ref);
      const times: number[] = [];
      const stop = Date.now() + 5_000;
      for (let i = 0; i < ITER && Date.now() < stop; i++) {
        t = process.hrtime.bigint();
        await check(who, permission, ref);
        times.push(Number(process.hrtime.bigint() - t) / 1000);
      }
      out[`${label}, ${how}`] = { ...summary(times), firstUs };
    }
  // Many principals over many projects' policies (all cached after the first pass).
  const sample = fleet.sample.map((s) => ({
    who: serviceAccountPrincipal(s.account.email, undefined, s.account.uniqueId),
    ref: projectRef(orgId, s.projectId),
  }));
  for (const [how, check] of [
    ["evaluated", evaluate],
    ["remembered", access.decide.bind(access)],
  ] as const) {
    for (const s of sample) await check(s.who, "iam.serviceAccounts.list", s.ref);
    const times: number[] = [];
    for (let i = 0; i < ITER; i++) {
      const s = sample[i % sample.length]!;
      const t = process.hrtime.bigint();
      await check(s.who, "iam.serviceAccounts.list", s.ref);
      times.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    out[`iam.serviceAccounts.list, ${sample.length} principals × projects, ${how}`] = {
      ...summary(times),
      firstUs: Number.NaN,
    };
  }
  return out;
}

async function mintCallerToken(store: Datastore, fleet: Fleet, orgId: string, masterKey: Buffer) {
  const keys = await repositories(store).signingKeys.all();
  const primary = keys.find((k) => k.state === "primary");
  if (!primary) throw new Error("no primary signing key");
  const { token } = await mintAccessToken(
    loadSigningKey(primary, masterKey),
    `urn:warrant:organizations:${orgId}`,
    {
      sub: `serviceAccount:${fleet.caller.email}`,
      uid: fleet.caller.uniqueId,
      scopes: [CLOUD_PLATFORM],
      azp: "bench",
      via: "bench",
      lifetimeSeconds: 3600,
    },
  );
  return token;
}

async function walkPages(url: string, token: string, projectId: string) {
  const times: number[] = [];
  let accounts = 0;
  let pages = 0;
  const t0 = performance.now();
  let pageToken: string | undefined;
  do {
    const t = performance.now();
    const res = await fetch(
      `${url}/v1/projects/${projectId}/serviceAccounts?pageSize=${PAGE}${pageToken ? `&pageToken=${pageToken}` : ""}`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    const body = (await res.json()) as { accounts?: unknown[]; nextPageToken?: string };
    times.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`serviceAccounts.list: ${res.status} ${JSON.stringify(body)}`);
    accounts += body.accounts?.length ?? 0;
    pages++;
    pageToken = body.nextPageToken;
  } while (pageToken);
  return { times, accounts, pages, totalMs: performance.now() - t0 };
}

async function runBackend(backend: "sqlite" | "postgres", load: LoadChild): Promise<BackendResult> {
  const stateDir = mkdtempSync(join(tmpdir(), `warrant-scale-${backend}-`));
  const masterKeyB64 = randomBytes(32).toString("base64");
  const env = { WARRANT_MASTER_KEY: masterKeyB64 };
  let database: string | undefined;
  let admin: pg.Client | undefined;
  let spec = join(stateDir, "warrant.db");
  const args: string[] = IN_PROCESS_AGENTS ? [] : ["--external-agents"];
  if (backend === "postgres") {
    database = `warrant_scale_${process.pid}_${randomBytes(3).toString("hex")}`;
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const u = new URL(PG_URL);
    u.pathname = `/${database}`;
    spec = u.toString();
    args.push(`--datastore=${spec}`);
  }
  try {
    log(`[${backend}] bootstrap`);
    await stopServe(await startServe(stateDir, args, env, `${backend}-bootstrap`));
    log(`[${backend}] generating the fleet`);
    let store = await openDatastore(spec);
    const orgId = (await repositories(store).meta.get("installation"))!.organizationId;
    let fleet: Fleet;
    try {
      fleet = await generateFleet(store, SCALE, log);
    } finally {
      await store.close();
    }
    log(`[${backend}] ${fleet.documents} documents in ${(fleet.millis / 1000).toFixed(1)} s`);
    if (backend === "sqlite") execFileSync("sync");

    log(`[${backend}] in-process permission checks`);
    store = await openDatastore(spec);
    let checks: BackendResult["checks"];
    let token: string;
    try {
      checks = await inProcessChecks(store, fleet, orgId);
      token = await mintCallerToken(store, fleet, orgId, Buffer.from(masterKeyB64, "base64"));
    } finally {
      await store.close();
    }

    log(`[${backend}] cold start`);
    const serve = await startServe(stateDir, args, env, `${backend}-fleet`);
    try {
      const afterStart = procStatus(serve.child.pid!);
      log(
        `[${backend}] listening after ${serve.listeningMs.toFixed(0)} ms, ready after ${serve.readyMs === undefined ? `> ${READY_CAP_MS}` : serve.readyMs.toFixed(0)} ms, RSS ${mib(afterStart.rssKiB).toFixed(0)} MiB`,
      );
      const coldStart = {
        listeningMs: serve.listeningMs,
        readyMs: serve.readyMs,
        rssMiB: mib(afterStart.rssKiB),
      };
      if (serve.readyMs === undefined) {
        log(`[${backend}] not ready: the other rows are not measured`);
        return {
          backend,
          generate: { documents: fleet.documents, ms: fleet.millis },
          checks,
          coldStart,
          http: {},
          pages: undefined,
          rssAfterMiB: mib(afterStart.rssKiB),
          hwmMiB: mib(afterStart.hwmKiB),
        };
      }
      const auth = { authorization: `Bearer ${token}` };
      const jobs: [string, string, number][] = [
        [
          "storage.objects.list",
          `${serve.url}/storage/v1/b/${fleet.bigBucket}/o?maxResults=${PAGE}`,
          Math.min(PAGE, fleet.scale.objects),
        ],
        [
          "compute.instances.list",
          `${serve.url}/compute/v1/projects/${fleet.bigProject}/zones/${FLEET_ZONE}/instances?maxResults=${PAGE}`,
          Math.min(PAGE, fleet.bigProjectInstances),
        ],
      ];
      // Sanity: each answers a full page with the caller's token.
      for (const [label, u, expected] of jobs) {
        const res = await fetch(u, { headers: auth });
        const body = (await res.json()) as { items?: unknown[] };
        if (res.status !== 200 || body.items?.length !== expected)
          throw new Error(
            `${label}: ${res.status}, ${body.items?.length} items: ${JSON.stringify(body).slice(0, 300)}`,
          );
      }
      const http: BackendResult["http"] = {};
      for (const [label, u] of jobs) {
        log(`[${backend}] ${label} at ${CONNECTIONS} connections, ${WINDOW_MS / 1000} s`);
        let cpu0 = 0;
        const r = await load.run(
          {
            url: u,
            method: "GET",
            headers: auth,
            connections: CONNECTIONS,
            warmupMs: 1_000,
            durationMs: WINDOW_MS,
          },
          () => {
            cpu0 = cpuMs(serve.child.pid!);
          },
        );
        const cpu = cpuMs(serve.child.pid!) - cpu0;
        http[label] = {
          rps: (r.ok * 1000) / r.elapsedMs,
          p50: r.latencyMs.p50,
          p99: r.latencyMs.p99,
          failed: r.failed,
          statuses: r.statuses,
          cpuUsPerRequest: (cpu * 1000) / Math.max(1, r.ok + r.failed),
        };
      }
      log(`[${backend}] service accounts of ${fleet.bigProject}, page by page`);
      const walks = [];
      for (let i = 0; i < (QUICK ? 2 : 3); i++)
        walks.push(await walkPages(serve.url, token, fleet.bigProject));
      const last = walks.at(-1)!;
      // The big project also holds its default compute account when the generator made none: count ours.
      if (last.accounts < fleet.bigProjectAccounts)
        throw new Error(`listed ${last.accounts} accounts, generated ${fleet.bigProjectAccounts}`);
      const pageTimes = summary(walks.flatMap((w) => w.times));
      const slowest = walks
        .flatMap((w, walk) => w.times.map((ms, page) => ({ walk, page, ms })))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 5);
      log(
        `[${backend}] slowest pages: ${slowest.map((x) => `walk ${x.walk} page ${x.page}: ${x.ms.toFixed(1)} ms`).join(", ")}`,
      );
      const after = procStatus(serve.child.pid!);
      return {
        backend,
        generate: { documents: fleet.documents, ms: fleet.millis },
        checks,
        coldStart,
        http,
        pages: {
          pages: last.pages,
          accounts: last.accounts,
          p50: pageTimes.p50,
          p99: pageTimes.p99,
          max: pageTimes.max,
          totalMs: last.totalMs,
        },
        rssAfterMiB: mib(after.rssKiB),
        hwmMiB: mib(after.hwmKiB),
      };
    } finally {
      await stopServe(serve);
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
    if (admin && database) {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  }
}

/**
 * Memory per metadata server: `warrant serve` runs an agent per instance in process. RSS of a
 * server with N instances (each agent enrolled and asked for a token once) minus that of the same
 * server with one instance, over N − 1.
 */
async function agentMemory(n: number) {
  const measure = async (instances: number) => {
    const stateDir = mkdtempSync(join(tmpdir(), "warrant-scale-agents-"));
    const env = { WARRANT_MASTER_KEY: randomBytes(32).toString("base64") };
    try {
      await stopServe(await startServe(stateDir, [], env, "agents-bootstrap"));
      if (instances > 1) {
        const store = await openDatastore(join(stateDir, "warrant.db"));
        try {
          const r = repositories(store);
          const demo = (await r.instances.list("demo-project"))[0]!;
          await store.transaction(async (tx) => {
            const t = repositories(tx);
            for (let i = 1; i < instances; i++)
              await t.instances.insert({
                ...demo,
                id: `${demo.id.slice(0, -6)}${String(i).padStart(6, "0")}`,
                name: `agent-vm-${i}`,
                hostname: `agent-vm-${i}.c.demo-project.internal`,
                networkIP: `10.128.${i >> 8}.${(i & 255) + 2 > 255 ? 2 : (i & 255) + 2}`,
              });
          });
        } finally {
          await store.close();
        }
      }
      const s = await startServe(stateDir, [], env, `agents-${instances}`);
      try {
        if (s.readyMs === undefined) throw new Error(`not ready with ${instances} agents`);
        const info = JSON.parse(readFileSync(join(stateDir, "server.json"), "utf8")) as {
          metadataServers: Record<string, string>;
        };
        const addrs = Object.values(info.metadataServers);
        if (addrs.length !== instances) throw new Error(`${addrs.length} metadata servers for ${instances}`);
        const idle = procStatus(s.child.pid!).rssKiB;
        for (let i = 0; i < addrs.length; i += 16)
          await Promise.all(
            addrs.slice(i, i + 16).map(async (a) => {
              const res = await fetch(
                `http://${a}/computeMetadata/v1/instance/service-accounts/default/token`,
                {
                  headers: { "Metadata-Flavor": "Google" },
                },
              );
              if (res.status !== 200) throw new Error(`token from ${a}: ${res.status}`);
              await res.arrayBuffer();
            }),
          );
        await new Promise((r) => setTimeout(r, 1_000));
        return {
          instances,
          readyMs: s.readyMs,
          idleKiB: idle,
          withTokenKiB: procStatus(s.child.pid!).rssKiB,
        };
      } finally {
        await stopServe(s);
      }
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  };
  const one = await measure(1);
  const many = await measure(n);
  return {
    n,
    one,
    many,
    perAgentIdleKiB: (many.idleKiB - one.idleKiB) / (n - 1),
    perAgentWithTokenKiB: (many.withTokenKiB - one.withTokenKiB) / (n - 1),
    startMsPerAgent: ((many.readyMs ?? Number.NaN) - (one.readyMs ?? Number.NaN)) / (n - 1),
  };
}

const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(1));
const f0 = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? "—" : Math.round(x).toLocaleString("en-US");
const mark = (ok: boolean) => (ok ? "met" : "MISSED");

function report(results: BackendResult[], agents: Awaited<ReturnType<typeof agentMemory>> | undefined) {
  const lines: string[] = [];
  const s = SCALE;
  lines.push(
    `\nFleet: ${s.projects} projects, ${s.serviceAccounts} service accounts, ${s.instances} instances (agent records), ${s.membersPerPolicy} members per project policy, ${s.customRoles} custom roles, ${s.objects} objects; ${cpus().length} cores${QUICK ? " (--quick)" : ""}; load average ${LOAD_AT_START.map((x) => x.toFixed(1)).join(" ")} at the start, ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")} at the end`,
  );
  for (const r of results) {
    lines.push(
      `\n[${r.backend}] generated ${r.generate.documents} documents in ${(r.generate.ms / 1000).toFixed(1)} s`,
    );
    lines.push(
      `  ${"row".padEnd(68)} ${"p50".padStart(9)} ${"p99".padStart(9)} ${"target".padStart(10)}  verdict`,
    );
    for (const [label, c] of Object.entries(r.checks))
      lines.push(
        `  ${`check: ${label}`.padEnd(68)} ${`${f1(c.p50)} µs`.padStart(9)} ${`${f1(c.p99)} µs`.padStart(9)} ${`< ${TARGETS.checkP99Us} µs`.padStart(10)}  ${mark(c.p99 < TARGETS.checkP99Us)} (first ${f0(c.firstUs)} µs)`,
      );
    for (const [label, h] of Object.entries(r.http))
      lines.push(
        `  ${`HTTP ${label}, ${PAGE}/page, ${CONNECTIONS} conn`.padEnd(68)} ${`${f1(h.p50)} ms`.padStart(9)} ${`${f1(h.p99)} ms`.padStart(9)} ${`< ${TARGETS.listP99Ms} ms`.padStart(10)}  ${mark(h.p99 < TARGETS.listP99Ms)} (${f0(h.rps)} req/s, server CPU ${f0(h.cpuUsPerRequest)} µs/req, ${h.failed} failed)`,
      );
    if (r.pages)
      lines.push(
        `  ${`serviceAccounts.list page by page (${r.pages.pages} pages)`.padEnd(68)} ${`${f1(r.pages.p50)} ms`.padStart(9)} ${`${f1(r.pages.p99)} ms`.padStart(9)} ${`< ${TARGETS.pageP99Ms} ms`.padStart(10)}  ${mark(r.pages.p99 < TARGETS.pageP99Ms)} (${r.pages.accounts} accounts in ${f0(r.pages.totalMs)} ms)`,
      );
    lines.push(
      `  ${"cold start: spawn → /readyz 200".padEnd(68)} ${`${f0(r.coldStart.readyMs)} ms`.padStart(19)} ${`< ${TARGETS.coldStartMs} ms`.padStart(10)}  ${mark(r.coldStart.readyMs !== undefined && r.coldStart.readyMs < TARGETS.coldStartMs)} (listening after ${f0(r.coldStart.listeningMs)} ms)`,
    );
    lines.push(
      `  ${"server RSS: ready / after the load / peak".padEnd(68)} ${`${f0(r.coldStart.rssMiB)} / ${f0(r.rssAfterMiB)} / ${f0(r.hwmMiB)} MiB`.padStart(19)} ${`< ${TARGETS.rssMiB} MB`.padStart(10)}  ${mark(r.hwmMiB * 1.048576 < TARGETS.rssMiB)}`,
    );
  }
  if (agents)
    lines.push(
      `\nMetadata servers in process: ${agents.n} instances vs 1: ${f0(agents.perAgentIdleKiB)} KiB RSS per agent once enrolled, ${f0(agents.perAgentWithTokenKiB)} KiB after each served a token; start-up ${f1(agents.startMsPerAgent)} ms per agent`,
    );
  return lines.join("\n");
}

const LOAD_AT_START = loadavg();
const load = new LoadChild();
const results: BackendResult[] = [];
let agents: Awaited<ReturnType<typeof agentMemory>> | undefined;
const started = Date.now();
try {
  if (PROF_DIR) mkdirSync(PROF_DIR, { recursive: true });
  const backends =
    BACKEND === "both" ? (["sqlite", "postgres"] as const) : [BACKEND as "sqlite" | "postgres"];
  for (const b of backends) {
    if (b !== "sqlite" && b !== "postgres") throw new Error(`--backend=${b}: sqlite, postgres or both`);
    results.push(await runBackend(b, load));
  }
  if (!SKIP_AGENTS) {
    log(`agent memory: ${AGENTS} in-process metadata servers vs 1`);
    agents = await agentMemory(AGENTS);
  }
} finally {
  load.close();
}
process.stdout.write(`${report(results, agents)}\n`);
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(
  OUT,
  `${JSON.stringify({ scale: SCALE, quick: QUICK, connections: CONNECTIONS, windowMs: WINDOW_MS, cores: cpus().length, loadAverage: { start: LOAD_AT_START, end: loadavg() }, node: process.version, elapsedMs: Date.now() - started, results, agents }, null, 2)}\n`,
);
log(`wrote ${OUT} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
