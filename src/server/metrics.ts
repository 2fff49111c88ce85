/**
 * Prometheus metrics of one server (its own registry: tests run many servers in one process).
 * Requests and denials are counted by the HTTP adapter as each request ends; tokens issued are
 * counted from the audit stream (`observeAudit`), so every grant that audits an issued token is
 * counted without the handlers knowing; metadata-server caches, connections and audit write
 * errors are read when scraped, so their hot paths pay no more than an integer increment.
 * The list and who may read it: docs/operations.md.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Datastore } from "../datastore/datastore.js";
import { ApiError } from "../domain/errors.js";
import type { AuthzCheck } from "./http/context.js";
import type { AuditSink } from "./http/server.js";
import { type HistogramSeries, SeriesHistogram } from "./metric-histogram.js";

/** Per metadata server (instance): what its token cache and mint limit did since it started. */
export interface MdsStats {
  hits: number;
  misses: number;
  joins: number;
  rateLimited: number;
}

export interface MetricSources {
  /** Connections the API port holds now, and those it refused, shed or timed out so far. */
  connections?: () => { connections: number; refused: number; shed: number; timedOut: number };
  /** Each running metadata server's counters, by instance resource name. */
  metadataServers?: () => Record<string, MdsStats>;
  /** Audit lines that could not be written so far. */
  auditWriteErrors?: () => number;
  /** The threads that sign minted tokens (0: the event loop signs), and signatures made on the loop so far. */
  signing?: () => { threads: number; inline: number };
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const PRINCIPAL_KINDS = new Set(["user", "serviceAccount", "group", "domain"]);

/** The API a route belongs to, for the `api` label. */
export function apiOf(route: string): string {
  if (route.startsWith("/compute/") || route.startsWith("/batch/compute/")) return "compute";
  if (/^\/(storage|upload|resumable|download)\/|^\/b(\/|$)/.test(route)) return "storage";
  if (/:(generateAccessToken|generateIdToken|signBlob|signJwt)$/.test(route)) return "iamcredentials";
  if (/^\/v1\/(projects\/\{project\}\/)?(serviceAccounts|roles)|^\/(service_accounts|robot)\//.test(route))
    return "iam";
  if (route.startsWith("/v1/projects")) return "resourcemanager";
  if (route.startsWith("/warrant/v1/agent")) return "agent";
  if (route.startsWith("/warrant/")) return "warrant";
  if (route === "/metrics") return "metrics";
  if (/^\/v[^/]+\/iam:troubleshoot$/.test(route)) return "policytroubleshooter";
  if (route.startsWith("/v2/entries")) return "logging";
  return "oauth2";
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"api" | "method" | "route" | "status">;
  private readonly latency: SeriesHistogram;
  private readonly tokens: Counter<"grant" | "principal_kind" | "token_type">;
  private readonly denials: Counter<"permission" | "reason">;
  private readonly storeLatency: SeriesHistogram;
  /** The series of each datastore operation. */
  private readonly storeSeries = new Map<string, HistogramSeries>();
  private readonly storeErrors: Counter<"op">;
  /** The children of each (method, status, route): a request's count costs no label hashing. */
  private readonly series = new Map<
    string,
    { count: { inc(): void }; latency: { observe(v: number): void } }
  >();

  constructor(sources: MetricSources = {}, defaults = true) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "warrant_http_requests_total",
      help: "API requests answered, by API, method, route template and status (499: the client closed first).",
      labelNames: ["api", "method", "route", "status"],
      registers,
    });
    this.latency = new SeriesHistogram(
      "warrant_http_request_duration_seconds",
      "Time from a request's arrival to its audit entry, by API, method and route template.",
      ["api", "method", "route"],
      LATENCY_BUCKETS,
      this.registry,
    );
    this.tokens = new Counter({
      name: "warrant_tokens_issued_total",
      help: "Access and ID tokens issued, by grant (token endpoint grant_type, impersonation, metadata), principal kind and token type.",
      labelNames: ["grant", "principal_kind", "token_type"],
      registers,
    });
    this.denials = new Counter({
      name: "warrant_authz_denials_total",
      help: "Failed authorization checks, by permission and reason (scope: the token's OAuth scopes; iam: no role grants it). audit-only would-denies count too.",
      labelNames: ["permission", "reason"],
      registers,
    });
    this.storeLatency = new SeriesHistogram(
      "warrant_datastore_operation_duration_seconds",
      "Datastore operations (get, list, put, insert, delete, transaction) by operation.",
      ["op"],
      LATENCY_BUCKETS,
      this.registry,
    );
    this.storeErrors = new Counter({
      name: "warrant_datastore_errors_total",
      help: "Datastore operations that failed, by operation (not counting a transaction its own code refused with an API error).",
      labelNames: ["op"],
      registers,
    });
    const mds = (name: string, help: string, field: keyof MdsStats) =>
      new Counter({
        name,
        help: `${help} Per metadata server (instance); restarts with the instance's agent.`,
        labelNames: ["instance"],
        registers,
        collect() {
          this.reset();
          for (const [instance, s] of Object.entries(sources.metadataServers?.() ?? {}))
            this.inc({ instance }, s[field]);
        },
      });
    mds("warrant_metadata_token_cache_hits_total", "Token requests answered from the cache.", "hits");
    mds(
      "warrant_metadata_token_cache_misses_total",
      "Token requests that started a mint (cache miss).",
      "misses",
    );
    mds(
      "warrant_metadata_token_cache_joins_total",
      "Token requests that joined a mint already in flight (single-flight).",
      "joins",
    );
    mds(
      "warrant_metadata_rate_limited_total",
      "Token and identity requests refused with 429 (over the mint limit).",
      "rateLimited",
    );
    new Gauge({
      name: "warrant_open_connections",
      help: "Connections the API port holds now.",
      registers,
      collect() {
        this.set(sources.connections?.().connections ?? 0);
      },
    });
    new Counter({
      name: "warrant_connections_closed_total",
      help: "Connections the API port refused (at its limit), shed (stalled, for a new one) or timed out.",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset();
        const s = sources.connections?.();
        if (!s) return;
        this.inc({ reason: "refused" }, s.refused);
        this.inc({ reason: "shed" }, s.shed);
        this.inc({ reason: "timed_out" }, s.timedOut);
      },
    });
    new Counter({
      name: "warrant_audit_write_errors_total",
      help: "Audit log lines that could not be written.",
      registers,
      collect() {
        this.reset();
        this.inc(sources.auditWriteErrors?.() ?? 0);
      },
    });
    new Gauge({
      name: "warrant_signing_threads",
      help: "Threads that sign minted access tokens (libuv's threadpool, UV_THREADPOOL_SIZE); 0 when the event loop signs them.",
      registers,
      collect() {
        this.set(sources.signing?.().threads ?? 0);
      },
    });
    new Counter({
      name: "warrant_signatures_on_event_loop_total",
      help: "Minted tokens signed on the event loop because the signing threads had a full queue (or were closed).",
      registers,
      collect() {
        this.reset();
        this.inc(sources.signing?.().inline ?? 0);
      },
    });
    // Process metrics and event-loop lag (nodejs_eventloop_lag_seconds and its percentiles).
    if (defaults) collectDefaultMetrics({ register: this.registry });
  }

  /** One request answered; `route` is its template, or undefined when no route matched. */
  request(method: string, route: string | undefined, status: number, seconds: number, checks: AuthzCheck[]) {
    const r = route ?? "unmatched";
    const key = `${method} ${status} ${r}`;
    let series = this.series.get(key);
    if (series === undefined) {
      const api = route === undefined ? "none" : apiOf(route);
      series = {
        count: this.requests.labels({ api, method, route: r, status }),
        latency: this.latency.of({ api, method, route: r }),
      };
      // Bounded: methods, statuses and route templates are few; a request never names one.
      this.series.set(key, series);
    }
    series.count.inc();
    series.latency.observe(seconds);
    for (const c of checks)
      if (!c.allowed) this.denials.inc({ permission: c.permission, reason: c.denial ?? "iam" });
  }

  /** An audit entry written: an issued token is counted by grant, principal kind and type. */
  observeAudit(entry: Record<string, unknown>): void {
    if (entry.kind !== "token" || entry.outcome !== "issued") return;
    const subject = typeof entry.subject === "string" ? entry.subject : "";
    const kind = subject.slice(0, subject.indexOf(":"));
    this.tokens.inc({
      grant: String(entry.grant ?? "unknown"),
      principal_kind: PRINCIPAL_KINDS.has(kind) ? kind : "other",
      token_type: String(entry.tokenType ?? "access_token"),
    });
  }

  /** `sink`, with every entry also observed here. */
  auditing(sink: AuditSink): AuditSink {
    return {
      record: (entry) => {
        sink.record(entry);
        this.observeAudit(entry);
      },
    };
  }

  /** Runs a datastore operation, timing it and counting its failure. */
  async timed<T>(op: string, run: () => Promise<T>): Promise<T> {
    let series = this.storeSeries.get(op);
    if (series === undefined) {
      series = this.storeLatency.of({ op });
      this.storeSeries.set(op, series);
    }
    const started = performance.now();
    try {
      return await run();
    } catch (err) {
      // A transaction's callback refusing the change (AlreadyExists, say) is no datastore failure.
      if (!(err instanceof ApiError)) this.storeErrors.inc({ op });
      throw err;
    } finally {
      series.observe((performance.now() - started) / 1000);
    }
  }

  /**
   * `store`, with each operation (a transaction as one) timed and its failures counted. A proxy,
   * so that whatever else the datastore offers passes through unchanged.
   */
  measuring(store: Datastore): Datastore {
    const m = this;
    const wrapped = new Map<PropertyKey, unknown>();
    return new Proxy(store, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== "function") return v;
        let w = wrapped.get(prop);
        if (w === undefined) {
          const fn = v as (...a: unknown[]) => unknown;
          w = TIMED_OPS.has(prop)
            ? (...args: unknown[]) => m.timed(String(prop), () => fn.apply(target, args) as Promise<unknown>)
            : fn.bind(target);
          wrapped.set(prop, w);
        }
        return w;
      },
    });
  }
}

const TIMED_OPS: ReadonlySet<PropertyKey> = new Set([
  "get",
  "getUnique",
  "list",
  "put",
  "insert",
  "delete",
  "transaction",
]);
