/**
 * `npm run bench`: throughput of Warrant's token service, reported as ratios to baselines measured
 * in the same run on the same machine (a bare node:http server; bare node:crypto RS256), with the
 * absolute numbers beside them for context. See docs/performance.md.
 *
 * Everything runs on 127.0.0.1 and stops by itself: Warrant and the bare server in this process, the
 * peer (oidc-provider) in a process of its own, HTTP load from one
 * child process (bench/load-gen.ts) over a bounded number of keep-alive connections for a fixed time.
 * Each measurement runs several rounds; rounds interleave all rows so slow phases of a noisy
 * machine hit every row alike; each ratio is taken within a round, then the median is reported.
 *
 * Environment: BENCH_ROUNDS (default 5), BENCH_SECONDS (HTTP window, default 3),
 * BENCH_MICRO_SECONDS (in-process window, default 1), BENCH_CONNECTIONS (default 16),
 * BENCH_CLIENT (raw | agent: the load generator's HTTP client, default raw; see bench/load-gen.ts),
 * BENCH_OUT (JSON file, default /tmp/warrant-bench/latest.json), BENCH_ONLY (comma-separated row ids
 * or id prefixes to measure, e.g. `A,warrant.project`; default: every row), BENCH_WORK_US (the
 * busy-wait of calibration row A.work, default 5).
 *
 * Two calibration rows say what the targets leave on this machine, in the same run: `A.work` is
 * baseline A spending BENCH_WORK_US µs of CPU per request before it answers (how much work an
 * authenticated call may do and still keep 0.8× of A), and `S` is node:http doing nothing but one
 * RS256 signature per request (the most any token endpoint can mint here, to set beside the peer).
 */
import {
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  randomUUID,
  sign,
  verify,
} from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { decodeJwt, decodeProtectedHeader, importPKCS8, SignJWT } from "jose";
import { startServer } from "../src/server/app.js";
import { LoadChild } from "./load-gen.js";
import { microCases, timed } from "./micro.js";
import { PEER_CLIENT_ID, PEER_CLIENT_SECRET, PEER_JWT_RESOURCE, startPeerProcess } from "./peer.js";
import { fmtRate, fmtRatio, log, median } from "./stats.js";
import { rerunWithServerThreadpool } from "./threadpool.js";

const num = (name: string, dflt: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const ROUNDS = Math.round(num("BENCH_ROUNDS", 5));
const HTTP_MS = num("BENCH_SECONDS", 3) * 1000;
const MICRO_MS = num("BENCH_MICRO_SECONDS", 1) * 1000;
const CONNECTIONS = Math.round(num("BENCH_CONNECTIONS", 16));
const CLIENT: "raw" | "agent" = process.env.BENCH_CLIENT === "agent" ? "agent" : "raw";
const OUT = process.env.BENCH_OUT ?? "/tmp/warrant-bench/latest.json";
/** Warrant's signing threads (default: the server's default, one per core; 0: the event loop). */
/** `BENCH_SIGN_ON_EVENT_LOOP=1`: the server signs mints on its event loop (the signing pool's effect). */
const SIGN_ON_EVENT_LOOP = process.env.BENCH_SIGN_ON_EVENT_LOOP === "1";
const ONLY = process.env.BENCH_ONLY?.split(",").filter(Boolean);
/** Busy-wait per request of calibration row A.work, in µs. */
const WORK_US = num("BENCH_WORK_US", 5);
/** Whether the row `id` is measured in this run (BENCH_ONLY). */
const selected = (id: string) => !ONLY || ONLY.some((p) => id === p || id.startsWith(p));
const FIRST_WARMUP_MS = 1500;
const WARMUP_MS = 500;
const MICRO_WARMUP_MS = 300;
const SA_EMAIL = "demo-sa@demo-project.iam.gserviceaccount.com";
const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
const FORM = "application/x-www-form-urlencoded";

interface HttpCase {
  id: string;
  label: string;
  unit: string;
  vs: string[];
  url: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  bodies?: string[];
  /** CPU time of the process serving this case, when it is not this one (the peer's). */
  cpuUsage?: () => Promise<NodeJS.CpuUsage>;
}

interface Sample {
  value: number;
  p50?: number;
  p99?: number;
  serverCpuPct?: number;
  serverCpuUsPerOp?: number;
  clientCpuPct?: number;
  failed?: number;
}

interface Row {
  id: string;
  label: string;
  unit: string;
  kind: "http" | "in-process";
  vs: string[];
  samples: Sample[];
}

async function measureHttp(load: LoadChild, c: HttpCase, warmupMs: number): Promise<Sample> {
  const cpuNow = c.cpuUsage ?? (async () => process.cpuUsage());
  let cpu0 = cpuNow();
  let t0 = performance.now();
  const r = await load.run(
    {
      url: c.url,
      method: c.method,
      headers: c.headers,
      ...(c.bodies ? { bodies: c.bodies } : {}),
      connections: CONNECTIONS,
      client: CLIENT,
      warmupMs,
      durationMs: HTTP_MS,
    },
    () => {
      cpu0 = cpuNow();
      t0 = performance.now();
    },
  );
  const [start, end] = [await cpu0, await cpuNow()];
  const cpu = { user: end.user - start.user, system: end.system - start.system };
  const wallMs = performance.now() - t0;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  if (r.ok === 0) throw new Error(`${c.id}: no successful request (${r.firstError ?? "no answer"})`);
  if (r.failed) log(`  ${c.id}: ${r.failed} failed requests, first: ${r.firstError}`);
  return {
    value: (r.ok * 1000) / r.elapsedMs,
    p50: r.latencyMs.p50,
    p99: r.latencyMs.p99,
    serverCpuPct: (100 * cpuMs) / wallMs,
    serverCpuUsPerOp: (cpuMs * 1000) / r.ok,
    clientCpuPct: (100 * r.clientCpuMs) / r.elapsedMs,
    failed: r.failed,
  };
}

/** A response as the client saw it: status, headers (lower-case names), body. */
interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
}

/** One request, to check a case answers 200 before it is measured. */
async function probe(c: HttpCase): Promise<Answer> {
  const res = await fetch(c.url, {
    method: c.method,
    headers: c.headers,
    ...(c.bodies ? { body: c.bodies[0] } : {}),
  });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${c.id}: probe answered ${res.status}: ${body.slice(0, 300)}`);
  return { status: res.status, headers: [...res.headers], body };
}

/** Headers node:http writes by itself, or whose value differs per request. */
const AUTOMATIC = new Set(["date", "connection", "keep-alive", "transfer-encoding"]);
const PER_REQUEST = new Set(["x-request-id"]);

/** Everything a client sees but the values that differ per request: two servers answer alike. */
const comparable = (a: Answer) =>
  `${a.status}\n${a.headers
    .filter(([k]) => !AUTOMATIC.has(k))
    .map(([k, v]) => `${k}: ${PER_REQUEST.has(k) ? "*" : v}`)
    .sort()
    .join("\n")}\n\n${a.body}`;

// ---------- setup ----------

async function setUpWarrant(stateDir: string) {
  const serverLog: string[] = [];
  const server = await startServer({
    stateDir,
    host: "127.0.0.1",
    port: 0,
    log: (l) => serverLog.push(l),
    ...(SIGN_ON_EVENT_LOOP ? { signOnEventLoop: true } : {}),
  });
  const cred = JSON.parse(readFileSync(server.adminCredentialFile, "utf8")) as Record<string, string>;
  const refreshBody = new URLSearchParams({
    grant_type: "refresh_token",
    client_id: cred.client_id!,
    client_secret: cred.client_secret!,
    refresh_token: cred.refresh_token!,
  }).toString();
  const tokenRes = await fetch(`${server.url}/token`, {
    method: "POST",
    headers: { "content-type": FORM },
    body: refreshBody,
  });
  const adminToken = ((await tokenRes.json()) as { access_token?: string }).access_token;
  if (!adminToken) throw new Error(`no admin token (${tokenRes.status})`);

  const keyRes = await fetch(`${server.url}/v1/projects/-/serviceAccounts/${SA_EMAIL}/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: "{}",
  });
  const keyJson = (await keyRes.json()) as { privateKeyData?: string };
  if (!keyJson.privateKeyData) throw new Error(`key creation failed (${keyRes.status})`);
  const keyFile = JSON.parse(Buffer.from(keyJson.privateKeyData, "base64").toString("utf8")) as {
    private_key: string;
    private_key_id: string;
    client_email: string;
    token_uri: string;
  };
  const saKey = await importPKCS8(keyFile.private_key, "RS256");
  const now = Math.floor(Date.now() / 1000);
  // A pool of distinct assertions, signed here before any timing: client-side signing is not measured.
  const assertions: string[] = [];
  for (let i = 0; i < 256; i++) {
    const jwt = await new SignJWT({ scope: CLOUD_PLATFORM })
      .setProtectedHeader({ alg: "RS256", kid: keyFile.private_key_id, typ: "JWT" })
      .setIssuer(keyFile.client_email)
      .setAudience(keyFile.token_uri)
      .setIssuedAt(now - i)
      .setExpirationTime(now - i + 3600)
      .sign(saKey);
    assertions.push(
      new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion: jwt,
      }).toString(),
    );
  }
  // A self-signed JWT as Google's clients send to APIs: audience = this server.
  const selfSigned = await new SignJWT({})
    .setProtectedHeader({ alg: "RS256", kid: keyFile.private_key_id, typ: "JWT" })
    .setIssuer(keyFile.client_email)
    .setSubject(keyFile.client_email)
    .setAudience(`${server.url}/`)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(saKey);

  // The public half of the key that signed the admin token, from the published JWKS (stable API;
  // how keys are stored is not), for the in-process verification rows.
  const kid = decodeProtectedHeader(adminToken).kid;
  const jwks = (await (await fetch(`${server.url}/oauth2/v3/certs`)).json()) as { keys: JsonWebKey[] };
  const jwk = jwks.keys.find((k) => (k as { kid?: string }).kid === kid);
  if (!kid || !jwk) throw new Error(`the key ${kid} of the admin token is not in /oauth2/v3/certs`);
  const verificationKey = createPublicKey({ key: jwk, format: "jwk" });
  const assertionKey = createPublicKey(keyFile.private_key);
  return {
    server,
    serverLog,
    adminToken,
    refreshBody,
    assertions,
    assertionKey,
    selfSigned,
    kid,
    verificationKey,
  };
}

/**
 * Baseline A: a bare node:http server answering every request with Warrant's answer for GET
 * /v1/projects/demo-project: same headers, same bytes. With `workUs`, it first spins that long
 * (calibration row A.work: a server with that much work per request and nothing else).
 */
async function startBare(answer: Answer, workUs = 0) {
  const headers: Record<string, string> = {};
  for (const [k, v] of answer.headers) if (!AUTOMATIC.has(k)) headers[k] = v;
  const body = answer.body;
  const workMs = workUs / 1000;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (workMs > 0) {
        const until = performance.now() + workMs;
        while (performance.now() < until);
      }
      res.writeHead(answer.status, headers);
      res.end(body);
    });
  });
  return listenBounded(server);
}

/**
 * Calibration row S: node:http answering each POST with an RS256 JWT and nothing else (no client
 * authentication, no grant, no audit), signed with `crypto.sign` on libuv's threads so that it
 * uses every core: the most a token endpoint can mint on this machine.
 *
 * With `assertionKey` (row S.verify), each request's body is a jwt-bearer form whose assertion's
 * RS256 signature is first checked with that key (`crypto.verify` on the event loop, as Warrant
 * does): the crypto of a jwt-bearer mint and nothing else, the most that grant can mint here.
 */
async function startSignOnly(assertionKey?: KeyObject) {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const header = Buffer.from(JSON.stringify({ alg: "RS256", kid: "sign-only", typ: "JWT" })).toString(
    "base64url",
  );
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (assertionKey) {
        const assertion = new URLSearchParams(Buffer.concat(chunks).toString()).get("assertion") ?? "";
        const dot = assertion.lastIndexOf(".");
        const valid =
          dot > 0 &&
          verify(
            "sha256",
            Buffer.from(assertion.slice(0, dot)),
            assertionKey,
            Buffer.from(assertion.slice(dot + 1), "base64url"),
          );
        if (!valid) {
          res.writeHead(400).end();
          return;
        }
      }
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: "urn:bench:sign-only",
        sub: SA_EMAIL,
        aud: "urn:bench:sign-only",
        scope: CLOUD_PLATFORM,
        iat: now,
        exp: now + 3600,
        jti: randomUUID(),
      };
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
      sign("sha256", Buffer.from(input), privateKey, (err, sig) => {
        if (err) {
          res.writeHead(500).end();
          return;
        }
        const token = `${input}.${sig.toString("base64url")}`;
        res.writeHead(200, {
          "Content-Type": "application/json; charset=UTF-8",
          "Cache-Control": "no-store",
        });
        res.end(JSON.stringify({ access_token: token, expires_in: 3599, token_type: "Bearer" }));
      });
    });
  });
  return listenBounded(server);
}

async function listenBounded(server: ReturnType<typeof createServer>) {
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

// ---------- report ----------

function summarize(rows: Row[]) {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return rows.map((r) => {
    const values = r.samples.map((s) => s.value);
    const med = median(values);
    const ratios = r.vs
      .filter((b) => byId.get(b)?.samples.length)
      .map((b) => {
        const base = byId.get(b)!;
        const per = r.samples
          .map((s, i) => (base.samples[i] ? s.value / base.samples[i]!.value : Number.NaN))
          .filter(Number.isFinite);
        return { vs: b, median: median(per), min: Math.min(...per), max: Math.max(...per), perRound: per };
      });
    const opt = (k: keyof Sample) => {
      const xs = r.samples.map((s) => s[k]).filter((x): x is number => typeof x === "number");
      return xs.length ? median(xs) : undefined;
    };
    return {
      id: r.id,
      label: r.label,
      unit: r.unit,
      kind: r.kind,
      rounds: values,
      median: med,
      min: Math.min(...values),
      max: Math.max(...values),
      spreadPct: (100 * (Math.max(...values) - Math.min(...values))) / med,
      ratios,
      latencyMs: r.kind === "http" ? { p50: opt("p50"), p99: opt("p99") } : undefined,
      serverCpuPct: opt("serverCpuPct"),
      serverCpuUsPerOp: opt("serverCpuUsPerOp"),
      clientCpuPct: opt("clientCpuPct"),
      failed: r.samples.reduce((n, s) => n + (s.failed ?? 0), 0),
    };
  });
}

function table(summary: ReturnType<typeof summarize>): string {
  const head = [
    "row",
    "median",
    "unit",
    "spread",
    "ratio (median, min–max over rounds)",
    "p50 ms",
    "srv CPU",
    "µs/op",
  ];
  const lines = summary.map((s) => [
    s.label,
    fmtRate(s.median),
    s.unit,
    `±${(s.spreadPct / 2).toFixed(0)}%`,
    s.ratios.length
      ? s.ratios
          .map((r) => `${fmtRatio(r.median)}× ${r.vs} (${fmtRatio(r.min)}–${fmtRatio(r.max)})`)
          .join("; ")
      : "baseline",
    s.latencyMs?.p50 !== undefined ? s.latencyMs.p50.toFixed(2) : "",
    s.serverCpuPct !== undefined ? `${s.serverCpuPct.toFixed(0)}%` : "",
    s.serverCpuUsPerOp !== undefined ? s.serverCpuUsPerOp.toFixed(0) : "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 1 || i >= 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
  return [fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmt)].join("\n");
}

// ---------- main ----------

async function main() {
  const started = Date.now();
  const stateDir = mkdtempSync(join(tmpdir(), "warrant-bench-"));
  const closers: (() => Promise<void>)[] = [];
  let load: LoadChild | undefined;
  try {
    log(`warrant bench: ${ROUNDS} rounds, ${HTTP_MS / 1000} s per HTTP window, ${CONNECTIONS} connections`);
    const w = await setUpWarrant(stateDir);
    closers.push(() => w.server.close());
    const adminAuth = { authorization: `Bearer ${w.adminToken}` };
    const projectUrl = `${w.server.url}/v1/projects/demo-project`;
    const cases: HttpCase[] = [
      {
        id: "warrant.project.admin",
        label: "GET project, admin access token",
        unit: "req/s",
        vs: ["A"],
        url: projectUrl,
        method: "GET",
        headers: adminAuth,
      },
      {
        id: "warrant.project.selfsigned",
        label: "GET project, self-signed SA JWT",
        unit: "req/s",
        vs: ["A"],
        url: projectUrl,
        method: "GET",
        headers: { authorization: `Bearer ${w.selfSigned}` },
      },
      {
        id: "warrant.mint.refresh",
        label: "POST /token refresh_token (Warrant)",
        unit: "tokens/s",
        vs: ["A", "C"],
        url: `${w.server.url}/token`,
        method: "POST",
        headers: { "content-type": FORM },
        bodies: [w.refreshBody],
      },
      {
        id: "warrant.mint.jwtbearer",
        label: "POST /token jwt-bearer (Warrant)",
        unit: "tokens/s",
        vs: ["A", "C"],
        url: `${w.server.url}/token`,
        method: "POST",
        headers: { "content-type": FORM },
        bodies: w.assertions,
      },
    ];
    const projectAnswer = await probe(cases[0]!);
    for (const c of cases.slice(1)) await probe(c);
    const bare = await startBare(projectAnswer);
    closers.push(bare.close);
    // Same request as the admin GET (same path and Authorization header), same response bytes.
    cases.unshift({
      id: "A",
      label: "baseline A: bare node:http, same request",
      unit: "req/s",
      vs: [],
      url: `${bare.url}/v1/projects/demo-project`,
      method: "GET",
      headers: adminAuth,
    });
    const bareAnswer = await probe(cases[0]!);
    if (comparable(bareAnswer) !== comparable(projectAnswer))
      throw new Error(
        `baseline A does not answer what Warrant answers:\n${comparable(bareAnswer)}\n---\n${comparable(projectAnswer)}`,
      );
    const working = await startBare(projectAnswer, WORK_US);
    closers.push(working.close);
    cases.splice(1, 0, {
      id: "A.work",
      label: `calibration: A + ${WORK_US} µs of work per request`,
      unit: "req/s",
      vs: ["A"],
      url: `${working.url}/v1/projects/demo-project`,
      method: "GET",
      headers: adminAuth,
    });
    const signOnly = await startSignOnly();
    closers.push(signOnly.close);
    cases.push({
      id: "S",
      label: "calibration: node:http that only signs",
      unit: "tokens/s",
      vs: ["C"],
      url: `${signOnly.url}/token`,
      method: "POST",
      headers: { "content-type": FORM },
      bodies: [w.refreshBody],
    });

    const verifyAndSign = await startSignOnly(w.assertionKey);
    closers.push(verifyAndSign.close);
    cases.push({
      id: "S.verify",
      label: "calibration: node:http that verifies and signs",
      unit: "tokens/s",
      vs: ["C"],
      url: `${verifyAndSign.url}/token`,
      method: "POST",
      headers: { "content-type": FORM },
      bodies: w.assertions,
    });

    let peerStatus: Record<string, unknown>;
    // The peer's process starts when any of its rows is measured.
    const peerSelected = !ONLY || ONLY.some((p) => p.startsWith("peer") || "peer".startsWith(p));
    const outcome = peerSelected ? await startPeerProcess() : { skipped: "not selected (BENCH_ONLY)" };
    if ("peer" in outcome) {
      const { peer } = outcome;
      closers.push(peer.close);
      const base = {
        client_id: PEER_CLIENT_ID,
        client_secret: PEER_CLIENT_SECRET,
        grant_type: "client_credentials",
      };
      const peerCases: HttpCase[] = [
        {
          id: "peer.cc.jwt",
          label: `client_credentials, RS256 JWT (${peer.name})`,
          unit: "tokens/s",
          vs: ["A", "C"],
          url: peer.tokenUrl,
          method: "POST",
          headers: { "content-type": FORM },
          bodies: [new URLSearchParams({ ...base, scope: "api", resource: PEER_JWT_RESOURCE }).toString()],
          cpuUsage: peer.cpuUsage,
        },
        {
          id: "peer.cc.opaque",
          label: `client_credentials, opaque (${peer.name})`,
          unit: "tokens/s",
          vs: ["A"],
          url: peer.tokenUrl,
          method: "POST",
          headers: { "content-type": FORM },
          bodies: [new URLSearchParams(base).toString()],
          cpuUsage: peer.cpuUsage,
        },
      ];
      try {
        const jwt = JSON.parse((await probe(peerCases[0]!)).body) as { access_token: string };
        const claims = decodeJwt(jwt.access_token);
        const opaque = JSON.parse((await probe(peerCases[1]!)).body) as { access_token: string };
        if (opaque.access_token.split(".").length === 3) throw new Error("the opaque variant answered a JWT");
        cases.push(...peerCases);
        peerStatus = {
          status: "measured",
          name: peer.name,
          version: peer.version,
          auth: "client_secret_post",
          jwtAccessToken: { alg: "RS256", aud: claims.aud },
          opaqueAccessToken: { length: opaque.access_token.length, store: "in-memory adapter" },
        };
      } catch (err) {
        peerStatus = {
          status: "skipped",
          reason: `${peer.name} did not issue tokens: ${(err as Error).message}`,
        };
      }
    } else peerStatus = { status: "skipped", reason: outcome.skipped };
    // The comparison is the point of the token rows: without the peer the run is no result.
    if (peerStatus.status === "skipped" && peerSelected)
      throw new Error(`the peer did not run: ${String(peerStatus.reason)}`);

    const micro = microCases(w.kid, w.verificationKey, w.adminToken, decodeJwt(w.adminToken).iss!).filter(
      (m) => selected(m.id),
    );
    cases.splice(0, cases.length, ...cases.filter((c) => selected(c.id)));
    const rows: Row[] = [
      ...cases.map((c) => ({
        id: c.id,
        label: c.label,
        unit: c.unit,
        kind: "http" as const,
        vs: c.vs,
        samples: [],
      })),
      ...micro.map((m) => ({
        id: m.id,
        label: m.label,
        unit: "calls/s",
        kind: "in-process" as const,
        vs: m.id === "B.cold" ? ["B"] : m.baseline ? [m.baseline] : [],
        samples: [],
      })),
    ];
    const row = (id: string) => rows.find((r) => r.id === id)!;

    load = new LoadChild();
    for (let round = 0; round < ROUNDS; round++) {
      log(`round ${round + 1}/${ROUNDS}`);
      for (const c of cases) {
        const s = await measureHttp(load, c, round === 0 ? FIRST_WARMUP_MS : WARMUP_MS);
        row(c.id).samples.push(s);
        log(
          `  ${c.id.padEnd(28)} ${fmtRate(s.value).padStart(8)} ${c.unit}  (server CPU ${s.serverCpuPct?.toFixed(0)}%)`,
        );
      }
      for (const m of micro) {
        if (round === 0) await timed(m.run, MICRO_WARMUP_MS);
        const value = await timed(m.run, MICRO_MS);
        row(m.id).samples.push({ value });
        log(`  ${m.id.padEnd(28)} ${fmtRate(value).padStart(8)} calls/s`);
      }
    }

    const summary = summarize(rows);
    const get = (id: string) => summary.find((s) => s.id === id);
    const derived: Record<string, number> = {};
    const pairs: [string, string, string][] = [
      ["warrantRefreshOverPeerJwt", "warrant.mint.refresh", "peer.cc.jwt"],
      ["warrantJwtBearerOverPeerJwt", "warrant.mint.jwtbearer", "peer.cc.jwt"],
      ["jwtBearerOverRefresh", "warrant.mint.jwtbearer", "warrant.mint.refresh"],
      ["signOnlyOverPeerJwt", "S", "peer.cc.jwt"],
      ["warrantRefreshOverSignOnly", "warrant.mint.refresh", "S"],
      ["verifyAndSignOverPeerJwt", "S.verify", "peer.cc.jwt"],
      ["warrantJwtBearerOverVerifyAndSign", "warrant.mint.jwtbearer", "S.verify"],
    ];
    for (const [name, a, b] of pairs) {
      const ra = rows.find((r) => r.id === a);
      const rb = rows.find((r) => r.id === b);
      if (!ra?.samples.length || !rb?.samples.length) continue;
      derived[name] = median(ra.samples.map((s, i) => s.value / rb.samples[i]!.value));
    }
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      nproc: cpus().length,
      cpuModel: cpus()[0]?.model,
      loadavgAtEnd: loadavg(),
      config: {
        rounds: ROUNDS,
        httpWindowS: HTTP_MS / 1000,
        microWindowS: MICRO_MS / 1000,
        warmupS: { first: FIRST_WARMUP_MS / 1000, later: WARMUP_MS / 1000 },
        connections: CONNECTIONS,
        // Warrant, the bare servers and S share this process's libuv threadpool (bench/threadpool.ts).
        threadpool: Number(process.env.UV_THREADPOOL_SIZE),
        loadGenerator:
          CLIENT === "raw"
            ? "child process, pre-serialized HTTP/1.1 on keep-alive TCP sockets"
            : "child process, node:http Agent keep-alive",
      },
      peer: peerStatus,
      rows: summary,
      derived,
      serverErrorsLogged: w.serverLog.filter((l) => l.includes("failed")).length,
      totalSeconds: (Date.now() - started) / 1000,
    };
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);

    const out = process.stdout;
    out.write(
      `\nWarrant token-service bench — ${result.date}, node ${result.node}, ${result.nproc} CPUs (${result.cpuModel})\n`,
    );
    out.write(
      `${ROUNDS} rounds; HTTP: ${HTTP_MS / 1000} s windows, ${CONNECTIONS} keep-alive connections from a child process; in-process: ${MICRO_MS / 1000} s windows; libuv threadpool ${process.env.UV_THREADPOOL_SIZE}\n`,
    );
    out.write(`spread = half the min–max range over rounds, relative to the median\n\n`);
    out.write(`${table(summary)}\n\n`);
    const get2 = (id: string) => get(id)?.median;
    if (derived.warrantRefreshOverPeerJwt !== undefined)
      out.write(
        `Warrant refresh_token mint / ${String(peerStatus.name)} ${String(peerStatus.version)} JWT mint: ${fmtRatio(derived.warrantRefreshOverPeerJwt)}×${derived.warrantJwtBearerOverPeerJwt !== undefined ? `; jwt-bearer / peer JWT: ${fmtRatio(derived.warrantJwtBearerOverPeerJwt)}×` : ""}\n`,
      );
    else out.write(`peer skipped: ${String(peerStatus.reason)}\n`);
    if (derived.signOnlyOverPeerJwt !== undefined)
      out.write(
        `Ceiling: node:http that only signs / peer JWT mint: ${fmtRatio(derived.signOnlyOverPeerJwt)}× (no token endpoint on this machine can beat the peer by more)\n`,
      );
    if (derived.verifyAndSignOverPeerJwt !== undefined)
      out.write(
        `Ceiling of jwt-bearer: node:http that verifies the assertion and signs / peer JWT mint: ${fmtRatio(derived.verifyAndSignOverPeerJwt)}×\n`,
      );
    const work = get("A.work")?.ratios[0]?.median;
    if (work !== undefined)
      out.write(
        `Calibration: a bare server doing ${WORK_US} µs of work per request keeps ${fmtRatio(work)}× of baseline A\n`,
      );
    // Per core: the server's CPU time per mint (all its threads), inverted, beside bare crypto.sign
    // on one core: how much of a core's signing rate a mint keeps once HTTP and the grant are added.
    const perCore = (id: string) => {
      const us = summary.find((r) => r.id === id)?.serverCpuUsPerOp;
      return us ? 1e6 / us : undefined;
    };
    const mintRows: [string, string][] = [
      ["warrant.mint.refresh", "refresh_token"],
      ["warrant.mint.jwtbearer", "jwt-bearer"],
      ["peer.cc.jwt", "oidc-provider RS256 JWT"],
      ["S", "node:http that only signs"],
      ["S.verify", "node:http that verifies and signs"],
    ];
    const perCoreText = mintRows
      .filter(([id]) => perCore(id) !== undefined)
      .map(([id, name]) => `${name} ${fmtRate(perCore(id)!)}`);
    if (perCoreText.length > 0 && get2("C") !== undefined)
      out.write(
        `Mints per core-second (server CPU per mint, inverted): ${perCoreText.join(", ")}; bare crypto.sign ${fmtRate(get2("C")!)} per core-second.\n`,
      );
    if (get2("C") !== undefined && get2("B") !== undefined)
      out.write(
        `In-process, one core: RS256 sign ${fmtRate(get2("C")!)}/s, RS256 verify ${fmtRate(get2("B")!)}/s (bare node:crypto).\n`,
      );
    out.write(`\nJSON: ${OUT}  (total ${result.totalSeconds.toFixed(0)} s)\n`);
  } finally {
    load?.close();
    for (const close of closers.reverse()) await close().catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  }
}

const rerun = rerunWithServerThreadpool();
if (rerun !== undefined) process.exitCode = rerun;
else
  main().catch((err) => {
    process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  });
