/**
 * `warrant agent`: the metadata server of one instance. It enrolls with the control plane once,
 * keeps the instance's view current by long-polling it, serves Compute Engine's metadata surface
 * from that view, and obtains the instance's tokens from the control plane, caching them as GCE
 * does and limiting cache-miss mints per instance.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Dir } from "../domain/metadata/tree.js";
import { buildTree, effectiveScopes, type InstanceView, tokenProblem } from "../domain/metadata/view.js";
import {
  ConnectionGovernor,
  type ConnectionLimits,
  defaultMetadataLimits,
  rawResponse,
} from "../net/connection-governor.js";
import { KeepAliveResponse, keepAliveWithGrace } from "../net/keep-alive.js";
import { ControlPlane, ControlPlaneError } from "./control-plane.js";
import { type FaultSpec, faultInjector } from "./faults.js";
import { createMdsHandler, type MdsAnswer, type SessionTokenMode } from "./mds.js";
import { type CachedToken, RateLimiter, TokenCache } from "./token-cache.js";

/** A cache miss over the per-instance mint limit. */
class RateLimited extends Error {}

export interface AgentOptions {
  controlPlaneUrl: string;
  /** More nodes of the same control plane, tried in turn when the current one stops answering. */
  otherControlPlaneUrls?: string[];
  /** One-time enrollment token, exchanged at start for a short-lived agent credential. */
  enrollmentToken: string;
  /** When given, enrollment must yield exactly this instance (`projects/P/zones/Z/instances/N` or `zones/Z/instances/N`). */
  expectInstance?: string;
  host: string;
  port: number;
  /** Cached tokens are replaced when fewer seconds than this remain (GCE: 300). */
  refreshMarginSeconds?: number;
  /** Cache-miss token and identity mints allowed per second (default 50). */
  mintsPerSecond?: number;
  /** Limits of this metadata server's listener (defaults: defaultMetadataLimits()). */
  connectionLimits?: Partial<ConnectionLimits>;
  /** Scope sets whose tokens are cached at most (default DEFAULT_TOKEN_CACHE_ENTRIES). */
  tokenCacheEntries?: number;
  allowRemotePeers?: boolean;
  sessionTokens?: SessionTokenMode;
  faults?: FaultSpec;
  log?: (line: string) => void;
  /** Called once if the control plane refuses the credential (revoked or expired). */
  onCredentialRefused?: () => void;
  /** Test hook: the clock (ms) of the mint rate limiter. */
  clock?: () => number;
  /** Test hook: awaited by every token mint after the rate limit admits it, before it is asked for. */
  beforeMint?: () => Promise<void>;
}

export interface RunningAgent {
  url: string;
  host: string;
  port: number;
  cache: TokenCache;
  /** The agent id of its credential (it survives renewals). */
  agentId(): string;
  /** When the current credential expires (ms since the epoch); renewals move it. */
  credentialExpiresAt(): number;
  /** Whether the control plane has refused the credential: the agent must be re-enrolled. */
  credentialRefused(): boolean;
  /** Token cache hits, misses (mints started), single-flight joins and 429s since it started. */
  stats(): { hits: number; misses: number; joins: number; rateLimited: number };
  close(): Promise<void>;
}

const JSON_TYPE = "application/json";
const TEXT = "application/text";
const text = (status: number, body: string, headers?: Record<string, string>): MdsAnswer => ({
  status,
  contentType: TEXT,
  body: body.endsWith("\n") ? body : `${body}\n`,
  ...(headers ? { headers } : {}),
});

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const log = o.log ?? (() => {});
  const cp = await ControlPlane.enroll(
    [o.controlPlaneUrl, ...(o.otherControlPlaneUrls ?? [])],
    o.enrollmentToken,
    (why) => {
      log(
        `agent: the control plane refused this agent's credential (${why}); it serves no tokens until it is re-enrolled with a new token from \`warrant compute instances issue-enrollment-token\``,
      );
      o.onCredentialRefused?.();
    },
    log,
  );
  if (o.expectInstance && cp.instance && !cp.instance.endsWith(o.expectInstance))
    throw new ControlPlaneError(
      400,
      `the enrollment token is for ${cp.instance}, not ${o.expectInstance}; issue one for the right instance`,
    );
  const first = await cp.view();
  let view: InstanceView = first.view;
  let remoteVersion = first.version;
  let root: Dir = buildTree(view);
  let localVersion = 0;
  let wake = new Set<() => void>();
  const cache = new TokenCache(o.refreshMarginSeconds ?? 300, o.tokenCacheEntries);
  const limiter = new RateLimiter(o.mintsPerSecond ?? 50, undefined, o.clock);
  let rateLimited = 0;
  const faults = faultInjector(o.faults);

  function apply(next: InstanceView) {
    const before = JSON.stringify(view);
    if (JSON.stringify(next) === before) return;
    const sa = (v: InstanceView) => JSON.stringify(v.serviceAccount ?? null);
    if (sa(next) !== sa(view)) cache.clear();
    view = next;
    root = buildTree(view);
    localVersion++;
    const ws = wake;
    wake = new Set();
    for (const w of ws) w();
  }

  const stop = new AbortController();
  // Keep the view current: long-poll the control plane; back off on errors.
  const sync = (async () => {
    while (!stop.signal.aborted) {
      try {
        const r = await cp.view(remoteVersion, 55, stop.signal);
        remoteVersion = r.version;
        apply(r.view);
      } catch (err) {
        if (stop.signal.aborted || cp.refused !== undefined) break;
        log(`agent: view sync failed: ${(err as Error).message}`);
        await pause(1000, stop.signal);
      }
    }
  })();

  // Renew the credential half-way through its life; on failure retry until it expires.
  const renewal = (async () => {
    while (!stop.signal.aborted && cp.refused === undefined) {
      await pause(cp.renewAt() - Date.now(), stop.signal);
      if (stop.signal.aborted) break;
      try {
        await cp.renew();
      } catch (err) {
        if (stop.signal.aborted || cp.refused !== undefined) break;
        const left = cp.expireTime - Date.now();
        log(
          `agent: credential renewal failed (${(err as Error).message}); retrying, ${Math.round(left / 1000)} s left`,
        );
        await pause(Math.min(30_000, Math.max(200, left / 10)), stop.signal);
      }
    }
  })();

  const mintError = (err: unknown): MdsAnswer => {
    if (err instanceof ControlPlaneError && [403, 404, 503].includes(err.status))
      return text(err.status, err.message);
    log(`agent: mint failed: ${(err as Error).message}`);
    return text(503, "The metadata server could not obtain a token; retry.");
  };

  /**
   * What a token request resolves to under the current view: a refusal, or the account, effective
   * scopes and cache key. Memoized per (account, scopes) until the view changes: the hot path of a
   * cached token does no sorting or set building.
   */
  type Plan = { status: number; message: string } | { email: string; scopes: string[]; key: string };
  let plans = new Map<string, Plan>();
  let plannedFor = view;
  function tokenPlan(account: string, requested: string[]): Plan {
    if (plannedFor !== view) {
      plans = new Map();
      plannedFor = view;
    }
    const memoKey = `${account}\n${requested.join(",")}`;
    let plan = plans.get(memoKey);
    if (!plan) {
      const problem = tokenProblem(view, account);
      if (problem) plan = problem;
      else {
        const sa = view.serviceAccount!;
        const scopes = effectiveScopes(sa.scopes, requested);
        plan = { email: sa.email, scopes, key: `${sa.email}|${scopes.join(",")}` };
      }
      if (plans.size < 256) plans.set(memoKey, plan);
    }
    return plan;
  }

  /**
   * A cached token's answer changes once a second (its `expires_in`), so it is built once per token
   * and second, length included: the hot path of the metadata server.
   */
  const answers = new WeakMap<CachedToken, { second: number; answer: MdsAnswer }>();
  function tokenAnswer(hit: CachedToken): MdsAnswer {
    const second = Math.floor(Date.now() / 1000);
    const memo = answers.get(hit);
    if (memo && memo.second === second) return memo.answer;
    const body = `{"access_token":${JSON.stringify(hit.token)},"expires_in":${hit.expiresAt - second - 1},"token_type":"Bearer"}`;
    const answer = { status: 200, contentType: JSON_TYPE, body, bodyBytes: Buffer.byteLength(body) };
    answers.set(hit, { second, answer });
    return answer;
  }

  const handler = createMdsHandler(
    {
      tree: () => ({ root, version: localVersion }),
      changed: (version, ms, signal) =>
        new Promise<void>((resolve) => {
          if (version !== localVersion) return resolve();
          const done = () => {
            clearTimeout(t);
            wake.delete(done);
            signal.removeEventListener("abort", done);
            resolve();
          };
          const t = setTimeout(done, ms);
          wake.add(done);
          signal.addEventListener("abort", done);
        }),
      token(account, requested) {
        const plan = tokenPlan(account, requested);
        if ("status" in plan) return text(plan.status, plan.message);
        const cached = cache.peek(plan.key);
        if (cached) return tokenAnswer(cached);
        // Only an actual mint spends the rate limit: waiters of an in-flight mint never do.
        return cache
          .get(plan.key, async () => {
            if (!limiter.take()) throw new RateLimited();
            await o.beforeMint?.();
            const t = await cp.token(plan.email, plan.scopes);
            return { token: t.access_token, expiresAt: t.expires_at };
          })
          .then(tokenAnswer, (err: unknown) => {
            if (!(err instanceof RateLimited)) return mintError(err);
            rateLimited++;
            return text(429, "Too many token requests; retry later.", { "Retry-After": "1" });
          });
      },
      async identity(account, audience, format, licenses) {
        const problem = tokenProblem(view, account);
        if (problem) return text(problem.status, problem.message);
        if (!limiter.take()) {
          rateLimited++;
          return text(429, "Too many identity requests; retry later.", { "Retry-After": "1" });
        }
        try {
          const { token } = await cp.identity(account, audience, format, licenses);
          return { status: 200, contentType: TEXT, body: token };
        } catch (err) {
          return mintError(err);
        }
      },
      fault: faults,
    },
    {
      ...(o.allowRemotePeers ? { allowRemotePeers: true } : {}),
      ...(o.sessionTokens ? { sessionTokens: o.sessionTokens } : {}),
    },
  );

  const http: Server = createServer({ ServerResponse: KeepAliveResponse }, handler);
  keepAliveWithGrace(http);
  // A budget of its own: connections held open elsewhere in the process cannot starve this instance.
  const governor = new ConnectionGovernor({ ...defaultMetadataLimits(), ...o.connectionLimits }, () =>
    rawResponse(503, "Service Unavailable", TEXT, "Too many connections; retry.\n", {
      "Metadata-Flavor": "Google",
      "Retry-After": "1",
    }),
  );
  const server = governor.listener(http);
  server.on("error", (err) => log(`agent: listener: ${err.message}`));
  try {
    await new Promise<void>((ok, fail) => {
      server.once("error", fail);
      server.listen(o.port, o.host, () => {
        server.off("error", fail);
        ok();
      });
    });
  } catch (err) {
    stop.abort();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host}:${port}`,
    host: o.host,
    port,
    cache,
    agentId: () => cp.agentId,
    credentialExpiresAt: () => cp.expireTime,
    credentialRefused: () => cp.refused !== undefined,
    stats: () => ({ hits: cache.hits, misses: cache.mints, joins: cache.joins, rateLimited }),
    async close() {
      stop.abort();
      await new Promise<void>((ok) => {
        server.close(() => ok());
        governor.close();
      });
      await Promise.all([sync, renewal]);
    },
  };
}

/** Waits `ms` (at least 0), or less if `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done);
  });
}
