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
import { ApiError, diskFull, Internal, isDiskFull, NotFound, Unauthenticated } from "../../domain/errors.js";
import { ANONYMOUS, memberOf } from "../../domain/iam/principal.js";
import type { Caller, RequestContext } from "./context.js";
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
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=UTF-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    ...headers,
  });
  res.end(res.req.method === "HEAD" ? undefined : text);
}

export function sendError(res: ServerResponse, err: ApiError, explain: boolean) {
  const body = err.toJSON() as { error: Record<string, unknown> };
  if (explain && err.explanation !== undefined) body.error.explanation = err.explanation;
  sendJson(res, err.code, body, err.headers);
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
  const server = createServer((req, res) => {
    inFlight.set(req.socket, res);
    res.once("finish", () => inFlight.get(req.socket) === res && inFlight.delete(req.socket));
    void handle(deps, req, res);
  });
  // Requests Node's parser refuses (headers over 16 KiB, malformed lines, bytes after a body) get
  // Google's error JSON rather than Node's bare status line.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || inFlight.get(socket)?.headersSent) {
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
  server.keepAliveTimeout = 5_000;
  return server;
}

async function handle(deps: HttpServerDeps, req: IncomingMessage, res: ServerResponse) {
  const started = process.hrtime.bigint();
  const requestId = randomUUID();
  let url: URL;
  try {
    url = new URL(req.url ?? "/", "http://internal");
  } catch {
    sendError(res, new ApiError(400, "INVALID_ARGUMENT", "badRequest", "Malformed request URL."), false);
    return;
  }
  const explain = url.searchParams.get("explain") === "true" || req.headers["x-warrant-explain"] === "true";
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
  try {
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
    if (match.route.auth !== "none") {
      const caller = await deps.authenticator.authenticate(req);
      if (caller) ctx.caller = caller;
      else if (match.route.auth === "required") throw Unauthenticated.missing();
    }
    const body = await match.route.handler(ctx);
    if (!res.headersSent) sendJson(res, 200, body ?? {});
    status = res.statusCode;
  } catch (err) {
    // A full disk is the server's condition, not a bug: 503 with Retry-After, whatever the write path.
    const apiErr = err instanceof ApiError ? err : isDiskFull(err) ? diskFull() : null;
    if (!apiErr)
      deps.log(`request ${requestId} ${req.method} ${url.pathname} failed: ${(err as Error)?.stack ?? err}`);
    const out = apiErr ?? new Internal(`Internal error encountered. Request id: ${requestId}.`);
    status = out.code;
    error = `${out.status}: ${out.message}`;
    if (!res.headersSent) sendError(res, out, explain);
    else res.destroy();
  } finally {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    deps.audit.record({
      time: new Date().toISOString(),
      kind: "request",
      requestId,
      principal: memberOf(ctx.caller.principal),
      method: req.method,
      // The path only: query strings can carry tokens (`?access_token=`), which are never logged.
      path: url.pathname,
      status,
      ms: Math.round(ms * 10) / 10,
      ...(ctx.checks.length ? { checks: ctx.checks } : {}),
      // audit-only: a check failed and the call went ahead anyway; `checks` says which and why.
      ...(ctx.checks.some((c) => c.wouldDeny) ? { wouldDeny: true } : {}),
      ...(deps.enforcement && deps.enforcement !== "enforce" ? { enforcement: deps.enforcement } : {}),
      ...(error ? { error } : {}),
    });
  }
}
