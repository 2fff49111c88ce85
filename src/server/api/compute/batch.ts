/**
 * Compute Engine's batch endpoint, `POST /batch/compute/v1`: a `multipart/mixed` body whose parts
 * are `application/http` requests to the Compute API, answered by a `multipart/mixed` body of
 * `application/http` responses in the same order, each part's `Content-ID` being `response-` and
 * the request's. gcloud sends one when a command makes several calls (`instances stop A B`,
 * `instances list --zones=X,Y`).
 *
 * Every part runs as the batch's caller, through the same handlers, scope checks and IAM checks as
 * a direct call, and its checks are recorded in the batch request's audit entry. A part may not
 * carry credentials of its own: Warrant answers it 401 rather than silently use the batch's.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { ApiError, Internal, InvalidArgument, NotFound } from "../../../domain/errors.js";
import { readBody } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import { requireDeclaredChecks } from "../../http/route-authz.js";
import type { Router } from "../../http/router.js";
import { errorBody } from "../../http/server.js";
import type { EnforcementMode } from "../../iam/access-control.js";

/** Google's limit on calls in one batch request. */
export const MAX_BATCH_PARTS = 1000;
const MAX_BATCH_BYTES = 4 << 20;

interface PartRequest {
  contentId: string | undefined;
  method: string;
  target: string;
  headers: Record<string, string>;
  body: Buffer;
}

interface PartResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const REASON: Record<number, string> = {
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Payload Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
};

/** `POST /batch/compute/v1`, dispatching each part to the Compute routes in `compute`. */
export function batchHandler(
  compute: Router,
  log: (line: string) => void,
  enforcement: () => EnforcementMode,
) {
  return async (ctx: RequestContext) => {
    const boundary = boundaryOf(ctx.req.headers["content-type"]);
    const raw = await readBody(ctx.req, MAX_BATCH_BYTES);
    const parts = splitMultipart(raw.toString("latin1"), boundary).map(parsePart);
    if (parts.length === 0) throw new InvalidArgument("The batch request has no parts.", "invalid");
    if (parts.length > MAX_BATCH_PARTS)
      throw new InvalidArgument(
        `A batch request may hold at most ${MAX_BATCH_PARTS} calls; this one holds ${parts.length}.`,
        "invalid",
      );
    const answers: { contentId: string | undefined; response: PartResponse }[] = [];
    for (const part of parts) answers.push({ contentId: part.contentId, response: await run(part) });

    const out = `batch_${randomBytes(12).toString("base64url")}`;
    const body = Buffer.from(
      answers.map(({ contentId, response }) => renderPart(out, contentId, response)).join("") +
        `--${out}--\r\n`,
      "utf8",
    );
    ctx.res.writeHead(200, {
      "Content-Type": `multipart/mixed; boundary=${out}`,
      "Content-Length": body.length,
      "Cache-Control": "private, no-store",
      "X-Content-Type-Options": "nosniff",
    });
    ctx.res.end(body);
    return undefined;

    async function run(part: PartRequest): Promise<PartResponse> {
      try {
        if (part.headers.authorization !== undefined)
          throw new ApiError(
            401,
            "UNAUTHENTICATED",
            "authError",
            "Warrant runs every call of a batch as the batch request's caller; send the credential on the batch request, not on its parts.",
          );
        const url = new URL(part.target, "http://internal");
        if (!url.pathname.startsWith("/compute/v1/"))
          throw new NotFound(`The requested URL ${url.pathname} is not a Compute Engine v1 method.`);
        const match = compute.match(part.method, url.pathname);
        if (!match) throw new NotFound(`The requested URL ${url.pathname} was not found on this server.`);
        if ("allowed" in match)
          throw new ApiError(
            405,
            "INVALID_ARGUMENT",
            "httpMethodNotAllowed",
            `Method ${part.method} is not allowed for ${url.pathname}.`,
          );
        const req = Object.assign(Readable.from(part.body.length ? [part.body] : []), {
          method: part.method,
          url: part.target,
          headers: { ...part.headers, "content-length": String(part.body.length) },
        }) as unknown as IncomingMessage;
        const sub: RequestContext = { ...ctx, req, url, params: match.params };
        const before = ctx.checks.length;
        const body = (await match.route.handler(sub)) ?? {};
        // The part is held to its own route's declaration, as a direct call is by the adapter.
        if (enforcement() !== "off")
          requireDeclaredChecks(match.route, ctx, ctx.checks.slice(before), 200, log);
        return { status: 200, body };
      } catch (err) {
        if (!(err instanceof ApiError))
          log(
            `request ${ctx.requestId} batch part ${part.method} ${part.target} failed: ${(err as Error)?.stack ?? err}`,
          );
        const apiErr =
          err instanceof ApiError
            ? err
            : new Internal(`Internal error encountered. Request id: ${ctx.requestId}.`);
        const body = errorBody(apiErr, ctx.requestId, ctx.explain);
        return { status: apiErr.code, body, headers: apiErr.headers };
      }
    }
  };
}

function boundaryOf(contentType: string | undefined): string {
  const m = /^\s*multipart\/mixed\s*;(?:.*;)?\s*boundary=(?:"([^"]{1,200})"|([^\s;"]{1,200}))/i.exec(
    contentType ?? "",
  );
  if (!m)
    throw new InvalidArgument(
      "A batch request must be multipart/mixed with a boundary parameter.",
      "invalid",
    );
  return (m[1] ?? m[2])!;
}

/** The bodies of the parts between `--boundary` delimiter lines (RFC 2046); CRLF or bare LF. */
function splitMultipart(text: string, boundary: string): string[] {
  const lines = text.split(/\r?\n/);
  const parts: string[] = [];
  let current: string[] | null = null;
  let closed = false;
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (trimmed === `--${boundary}--`) {
      if (current) parts.push(current.join("\n"));
      current = null;
      closed = true;
      break;
    }
    if (trimmed === `--${boundary}`) {
      if (current) parts.push(current.join("\n"));
      current = [];
      continue;
    }
    current?.push(line);
  }
  if (!closed)
    throw new InvalidArgument("The batch request's multipart body has no closing boundary.", "invalid");
  return parts;
}

/** Splits a header block from what follows the first empty line. */
function headersAndRest(text: string): { headers: Record<string, string>; rest: string } {
  const lines = text.split("\n");
  const headers: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") {
      i++;
      break;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) throw new InvalidArgument(`Malformed header line in a batch part: '${line}'.`, "invalid");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, rest: lines.slice(i).join("\n") };
}

function parsePart(text: string): PartRequest {
  const outer = headersAndRest(text);
  const type = outer.headers["content-type"] ?? "";
  if (!/^application\/http\b/i.test(type))
    throw new InvalidArgument(
      `Every part of a batch request must be application/http, not '${type}'.`,
      "invalid",
    );
  const firstBreak = outer.rest.indexOf("\n");
  const requestLine = (firstBreak < 0 ? outer.rest : outer.rest.slice(0, firstBreak)).trim();
  const m = /^([A-Z]+) (\S+)(?: HTTP\/1\.[01])?$/.exec(requestLine);
  if (!m) throw new InvalidArgument(`Malformed request line in a batch part: '${requestLine}'.`, "invalid");
  const inner = headersAndRest(firstBreak < 0 ? "" : outer.rest.slice(firstBreak + 1));
  // Trailing line breaks belong to the multipart framing, not to the JSON body.
  const body = Buffer.from(inner.rest.replace(/\n+$/, ""), "latin1");
  let target = m[2]!;
  // An absolute URI in the request line is allowed; only its path and query matter.
  if (/^https?:\/\//i.test(target)) {
    const u = new URL(target);
    target = u.pathname + u.search;
  }
  return { contentId: outer.headers["content-id"], method: m[1]!, target, headers: inner.headers, body };
}

function renderPart(boundary: string, contentId: string | undefined, r: PartResponse): string {
  const json = JSON.stringify(r.body);
  const id = contentId ? `Content-ID: <response-${contentId.replace(/^<|>$/g, "")}>\r\n` : "";
  const extra = Object.entries(r.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  return (
    `--${boundary}\r\nContent-Type: application/http\r\n${id}\r\n` +
    `HTTP/1.1 ${r.status} ${REASON[r.status] ?? "Error"}\r\n` +
    `Content-Type: application/json; charset=UTF-8\r\n${extra}` +
    `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}\r\n`
  );
}
