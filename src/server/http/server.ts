/**
 * The HTTP adapter: route → authenticate → handler (authorize, act) → respond → audit.
 * Every failure leaves as Google's error JSON; internal errors are logged with a request id and
 * never leak a stack trace.
 */
import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { Duplex } from "node:stream";
import { StoreUnavailable } from "../../datastore/datastore.js";
import {
  ApiError,
  diskFull,
  Internal,
  isDiskFull,
  NotFound,
  Unauthenticated,
  Unavailable,
} from "../../domain/errors.js";
import { ANONYMOUS, memberOf } from "../../domain/iam/principal.js";
import { KeepAliveResponse, keepAliveWithGrace } from "../../net/keep-alive.js";
import type { Logger } from "../log.js";
import type { AuthzCheck, Caller, RequestContext } from "./context.js";
import { JsonBytes } from "./json-text.js";
import type { Lifecycle } from "./lifecycle.js";
import { declaredAuthorizationGuard } from "./route-authz.js";
import type { Router } from "./router.js";

export interface Authenticator {
  /** The caller named by the request's credentials; throws Unauthenticated for bad ones, returns null for none. */
  authenticate(req: IncomingMessage): Promise<Caller | null>;
}

export interface AuditSink {
  record(entry: Record<string, unknown>): void;
}

export interface HttpServerDeps {
  router: Router;
  authenticator: Authenticator;
  audit: AuditSink;
  log: (line: string) => void;
  /** Fixed external base URL; when absent, derived from the Host header. */
  externalUrl?: string;
  /** The enforcement mode, stamped on every request's audit entry when it is not `enforce`. */
  enforcement?: string;
  /** Readiness and draining; without it the server is always ready (tests of the adapter alone). */
  lifecycle?: Lifecycle;
  /** Why the server itself closed a connection (limits, timeouts), if it did. */
  closeReason?: (socket: Duplex) => string | undefined;
  /**
   * The structured log: one line per request (debug below 400, info for 4xx, error for 5xx, with
   * the stack of an unexpected error). Without it, only unexpected errors are logged, to `log`.
   */
  logger?: Logger;
  /** Counts each request by route and status, and its failed checks (src/server/metrics.ts). */
  metrics?: {
    request(
      method: string,
      route: string | undefined,
      status: number,
      seconds: number,
      checks: AuthzCheck[],
    ): void;
  };
}

/** Audited status of a request whose client closed the connection before the response was complete. */
export const CLIENT_CLOSED = 499;

/**
 * node:http's response, with what the adapter watches on each one: the body bytes handed to the
 * connection, and a check run just before a success's headers leave (the route's declared
 * authorization). A subclass rather than per-request patches of `write` and `writeHead`, so that
 * every response has one shape.
 */
export class ApiResponse extends KeepAliveResponse {
  /** Body bytes given to `write` (streamed responses; `end(data)` does not go through it). */
  bodyBytesWritten = 0;
  /** The server's lifecycle, told when this response closes (`endOfRequest`). */
  lifecycle: Lifecycle | undefined = undefined;
  /** Runs once, before the headers of a status below 400 leave; it may throw to refuse them. */
  beforeSuccessHeaders: ((status: number) => void) | undefined = undefined;

  override write(chunk: unknown, ...rest: unknown[]): boolean {
    this.bodyBytesWritten +=
      typeof chunk === "string" ? Buffer.byteLength(chunk) : ((chunk as Uint8Array)?.length ?? 0);
    return (super.write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  }

  override writeHead(status: number, ...rest: unknown[]): this {
    const guard = this.beforeSuccessHeaders;
    if (guard !== undefined && status < 400) {
      this.beforeSuccessHeaders = undefined;
      guard(status);
    }
    return (super.writeHead as (...a: unknown[]) => this).call(this, status, ...rest);
  }

  /**
   * Whether every body byte the response declared (Content-Length) was handed to the connection: a
   * client such as curl closes as soon as it has them, sometimes before the stream feeding the
   * response has ended, and that download succeeded. The adapter sets X-Request-Id before any
   * handler runs, so node:http keeps every header writeHead is given where getHeader finds it.
   */
  delivered(): boolean {
    if (this.writableEnded) return true;
    const declared = Number(this.getHeader("content-length") ?? -1);
    return declared > 0 && this.bodyBytesWritten >= declared;
  }
}

/** A response closed: its request is no longer in flight. One function for all (hot path). */
function endOfRequest(this: ApiResponse) {
  this.lifecycle?.end();
}

/** The client went away before the whole response was handed to the connection. */
function clientGone(req: IncomingMessage, res: ServerResponse): boolean {
  return !res.writableEnded && (res.destroyed || req.socket?.destroyed === true);
}

/**
 * `/healthz`: the process answers. `/readyz`: it is serving (not starting, not draining) and its
 * dependencies answer. Unauthenticated, as probes are; the body names the checks and nothing else.
 */
async function health(lifecycle: Lifecycle | undefined, path: string, res: ServerResponse): Promise<void> {
  if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
  const phase = lifecycle?.phase ?? "serving";
  if (phase !== "serving") return sendJson(res, 503, { status: phase }, { "Retry-After": "1" });
  const checks = (await lifecycle?.checks()) ?? {};
  const ready = Object.values(checks).every(Boolean);
  sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "unavailable", checks });
}
const HEALTH_PATHS = new Set(["/healthz", "/readyz"]);

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  // Encoded once: the length is the buffer's, and the connection writes bytes, not a string it
  // would encode again (a 100-item list page is 60-150 KB).
  const data = body instanceof JsonBytes ? body.bytes : Buffer.from(JSON.stringify(body), "utf8");
  res.writeHead(status, {
    "Content-Type": "application/json; charset=UTF-8",
    "Content-Length": data.length,
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    ...headers,
  });
  res.end(res.req.method === "HEAD" ? undefined : data);
}

/** The `@type` of the error detail that carries the request id, as Google's APIs send it. */
export const REQUEST_INFO_TYPE = "type.googleapis.com/google.rpc.RequestInfo";

/**
 * Google's error JSON for `err`: `error.details` carries a `google.rpc.RequestInfo` with the
 * request id (quoted by users, found in the audit log and the server log); `explanation` on request.
 */
export function errorBody(err: ApiError, requestId: string | undefined, explain: boolean) {
  const body = err.toJSON() as { error: Record<string, unknown> };
  if (requestId !== undefined) body.error.details = [{ "@type": REQUEST_INFO_TYPE, requestId }];
  if (explain && err.explanation !== undefined) body.error.explanation = err.explanation;
  return body;
}

export function sendError(res: ServerResponse, err: ApiError, explain: boolean, requestId?: string) {
  sendJson(res, err.code, errorBody(err, requestId, explain), err.headers);
}

/** `X-Request-Id` values accepted from clients: short, and nothing that could break a log line. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** W3C trace context: version-traceid-parentid-flags; the trace id names the request. */
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}(?:-|$)/;
const NULL_TRACE = "0".repeat(32);

/**
 * The request's id: the client's `X-Request-Id` when well-formed, else the trace id of a valid
 * `traceparent`, else a fresh UUID. It is the caller's word, not a secret: it only ties the
 * response, the audit entry and the log lines of one request together.
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  if (typeof given === "string" && CLIENT_REQUEST_ID.test(given)) return given;
  const trace = req.headers.traceparent;
  if (typeof trace === "string") {
    const m = TRACEPARENT.exec(trace);
    if (m && m[1] !== NULL_TRACE) return m[1]!;
  }
  return randomUUID();
}

function baseUrlOf(req: IncomingMessage, fixed?: string): string {
  if (fixed) return fixed.replace(/\/$/, "");
  const host =
    req.headers.host && /^[A-Za-z0-9.:[\]-]+$/.test(req.headers.host) ? req.headers.host : "localhost";
  return `${(req.socket as { encrypted?: boolean }).encrypted ? "https" : "http"}://${host}`;
}

export function createHttpServer(deps: HttpServerDeps): Server {
  /** Each connection's response in progress: a parse error after its headers left must not answer again. */
  const inFlight = new WeakMap<Duplex, ServerResponse>();
  // The cast: node's types want a response class generic in its request class; ours serves one.
  const server: Server = createServer(
    { ServerResponse: ApiResponse as typeof ServerResponse },
    (req, res) => {
      inFlight.set(req.socket, res);
      void handle(deps, req, res as ApiResponse);
    },
  );
  // Requests Node's parser refuses (headers over 16 KiB, malformed lines, bytes after a body) get
  // Google's error JSON rather than Node's bare status line.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The connection's latest response, unless it has finished (then the error may be answered).
    const current = inFlight.get(socket);
    if (!socket.writable || (current?.headersSent && !current.writableFinished)) {
      socket.destroy();
      return;
    }
    const [code, reason, message] =
      err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "requestHeaderFieldsTooLarge", "The request's header fields are larger than 16 KiB."]
        : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "requestTimeout", "The request was not received in time."]
          : [400, "badRequest", "The request is not valid HTTP/1.1."];
    const body = JSON.stringify(new ApiError(code, "INVALID_ARGUMENT", reason, message).toJSON());
    socket.end(
      `HTTP/1.1 ${code} ${STATUS_CODES[code]}\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  server.headersTimeout = 20_000;
  // Uploads of large objects may take long; a request is bounded by inactivity instead of length.
  server.requestTimeout = 0;
  server.timeout = 120_000;
  keepAliveWithGrace(server);
  return server;
}

async function handle(deps: HttpServerDeps, req: IncomingMessage, res: ApiResponse) {
  const { lifecycle } = deps;
  if (lifecycle) {
    lifecycle.begin();
    res.lifecycle = lifecycle;
    res.on("close", endOfRequest);
    // Draining: whatever is answered on a kept-alive connection is its last.
    if (lifecycle.phase === "draining") res.shouldKeepAlive = false;
  }
  const started = process.hrtime.bigint();
  const requestId = requestIdOf(req);
  res.setHeader("X-Request-Id", requestId);
  let url: URL;
  try {
    url = new URL(req.url ?? "/", "http://internal");
  } catch {
    sendError(
      res,
      new ApiError(400, "INVALID_ARGUMENT", "badRequest", "Malformed request URL."),
      false,
      requestId,
    );
    return;
  }
  // `searchParams` parses the query into an object: not for the requests that have none.
  const explain =
    (url.search !== "" && url.searchParams.get("explain") === "true") ||
    req.headers["x-warrant-explain"] === "true";
  const ctx: RequestContext = {
    req,
    res,
    url,
    params: {},
    caller: { principal: ANONYMOUS },
    baseUrl: baseUrlOf(req, deps.externalUrl),
    explain,
    requestId,
    checks: [],
  };
  let status = 500;
  let error: string | undefined;
  let routePath: string | undefined;
  /** An unexpected error (a bug, not a client's mistake): logged once, with its stack. */
  let failure: unknown;
  // Probes are answered in every phase, and not audited: a probe a second would drown the log.
  if ((req.method === "GET" || req.method === "HEAD") && HEALTH_PATHS.has(url.pathname)) {
    await health(lifecycle, url.pathname, res).catch(() => {
      if (!res.headersSent) sendJson(res, 503, { status: "unavailable" });
    });
    return;
  }
  try {
    if (lifecycle && lifecycle.phase !== "serving")
      throw new Unavailable(
        lifecycle.phase === "starting"
          ? "The server is starting; retry shortly."
          : "The server is shutting down; retry on another server or after it restarts.",
      );
    const match = deps.router.match(req.method ?? "GET", url.pathname);
    if (!match) throw new NotFound(`The requested URL ${url.pathname} was not found on this server.`);
    if ("allowed" in match)
      throw Object.assign(
        new ApiError(
          405,
          "INVALID_ARGUMENT",
          "httpMethodNotAllowed",
          `Method ${req.method} is not allowed for ${url.pathname}.`,
        ),
        { headers: { Allow: [...new Set(match.allowed)].join(", ") } },
      );
    ctx.params = match.params;
    routePath = match.route.path;
    // `off` makes no checks at all, so there is nothing to hold the route to.
    if (deps.enforcement !== "off")
      res.beforeSuccessHeaders = declaredAuthorizationGuard(match.route, ctx, deps.log);
    if (match.route.auth !== "none") {
      const caller = await deps.authenticator.authenticate(req);
      if (caller) ctx.caller = caller;
      else if (match.route.auth === "required") throw Unauthenticated.missing();
    }
    const body = await match.route.handler(ctx);
    if (!res.headersSent) sendJson(res, 200, body ?? {});
    status = res.statusCode;
  } catch (err) {
    if (res.delivered() && !(err instanceof ApiError)) {
      // The whole response was handed over and the client closed the connection as it finished
      // reading (a download's pipeline reports that as a premature close): a success.
      status = res.statusCode;
    } else if (clientGone(req, res)) {
      // Not a server error, whatever the handler made of the broken stream: no stack, no 500.
      const closedByServer = req.socket ? deps.closeReason?.(req.socket) : undefined;
      status = closedByServer ? 408 : CLIENT_CLOSED;
      error = closedByServer
        ? `REQUEST_TIMEOUT: ${closedByServer}`
        : "CLIENT_CLOSED: the client closed the connection before the response was complete";
      res.destroy();
    } else {
      // A full disk is the server's condition, not a bug: 503 with Retry-After, whatever the write path.
      // So is a datastore that cannot be reached: 503 with Retry-After; the details go to the log only.
      const apiErr =
        err instanceof ApiError
          ? err
          : isDiskFull(err)
            ? diskFull()
            : err instanceof StoreUnavailable
              ? new Unavailable("The service is temporarily unavailable; retry shortly.", 5)
              : null;
      const unexpected = !(err instanceof ApiError) && !isDiskFull(err);
      if (unexpected && deps.logger) failure = err;
      else if (unexpected)
        deps.log(
          `request ${requestId} ${req.method} ${url.pathname} failed: ${(err as Error)?.stack ?? err}`,
        );
      const out = apiErr ?? new Internal(`Internal error encountered. Request id: ${requestId}.`);
      status = out.code;
      error = `${out.status}: ${out.message}`;
      if (!res.headersSent) sendError(res, out, explain, requestId);
      else res.destroy();
    }
  } finally {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    // Optional fields added only when present (no spreads: this runs for every request).
    const entry: Record<string, unknown> = {
      time: new Date().toISOString(),
      kind: "request",
      requestId,
      principal: memberOf(ctx.caller.principal),
      method: req.method,
      // The path only: query strings can carry tokens (`?access_token=`), which are never logged.
      path: url.pathname,
    };
    if (routePath) entry.route = routePath;
    entry.status = status;
    entry.ms = Math.round(ms * 10) / 10;
    if (ctx.checks.length) {
      entry.checks = ctx.checks;
      // audit-only: a check failed and the call went ahead anyway; `checks` says which and why.
      if (ctx.checks.some((c) => c.wouldDeny)) entry.wouldDeny = true;
    }
    if (deps.enforcement && deps.enforcement !== "enforce") entry.enforcement = deps.enforcement;
    if (error) entry.error = error;
    deps.audit.record(entry);
    deps.metrics?.request(req.method ?? "GET", routePath, status, ms / 1000, ctx.checks);
    if (deps.logger) logRequest(deps.logger, ctx, status, ms, routePath, error, failure);
  }
}

function logRequest(
  logger: Logger,
  ctx: RequestContext,
  status: number,
  ms: number,
  route: string | undefined,
  error: string | undefined,
  failure: unknown,
): void {
  const level = status >= 500 ? "error" : status >= 400 ? "info" : "debug";
  if (!logger.isLevelEnabled(level)) return;
  const denied = ctx.checks
    .filter((c) => !c.allowed)
    .map((c) => ({ permission: c.permission, resource: c.resource, denial: c.denial }));
  logger[level](
    {
      reqId: ctx.requestId,
      method: ctx.req.method,
      route: route ?? null,
      // The path only: query strings can carry tokens.
      path: ctx.url.pathname,
      status,
      ms: Math.round(ms * 10) / 10,
      principal: memberOf(ctx.caller.principal),
      ...(denied.length ? { denied } : {}),
      ...(failure !== undefined ? { err: failure } : error ? { error } : {}),
    },
    "request",
  );
}
