/**
 * The metadata server's HTTP surface, byte-compatible with Compute Engine's (docs/metadata-server.md):
 * header rules, listings and leaves, 301 to directory form, `recursive`/`alt`, `wait_for_change`,
 * and the token and identity endpoints backed by the agent. Headers are written explicitly:
 * clients compare Content-Type exactly.
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";
import {
  type Dir,
  etagOf,
  leafText,
  listing,
  lookup,
  type Node,
  toJson,
  toRecursiveText,
} from "../domain/metadata/tree.js";

export interface MdsBackend {
  /** The current tree and its version (bumped on every change of the view). */
  tree(): { root: Dir; version: number };
  /** Resolves after the view changes past `version`, or after `ms`. */
  changed(version: number, ms: number, signal: AbortSignal): Promise<void>;
  /** Synchronous for a cached token (the hot path); a promise when it has to mint. */
  token(account: string, scopes: string[]): MdsAnswer | Promise<MdsAnswer>;
  identity(account: string, audience: string, format: string, licenses: boolean): Promise<MdsAnswer>;
  /** Fault injection for tests of clients' retry logic: an answer to send instead, or a delay. */
  fault?(): Promise<MdsAnswer | undefined>;
}

export interface MdsAnswer {
  status: number;
  body: string;
  /** Byte length of `body` when the caller already knows it (cached answers). */
  bodyBytes?: number;
  contentType: string;
  headers?: Record<string, string>;
}

export type SessionTokenMode = "off" | "optional" | "required";

export interface MdsOptions {
  /**
   * IMDSv2-style session tokens (not a GCE feature): `PUT /computeMetadata/v1/instance/session-token`
   * with `X-Warrant-Metadata-Token-TTL-Seconds` returns a token to send as `X-Warrant-Metadata-Token`.
   * `required` refuses requests without one (stock Google clients cannot send it); default off.
   */
  sessionTokens?: SessionTokenMode;
  /** Accept peers outside loopback and link-local (default: refuse them). */
  allowRemotePeers?: boolean;
  /** Concurrent `wait_for_change` requests held at most (more get 503). */
  maxWaiters?: number;
}

export const MAX_URL_BYTES = 8192;
const MAX_REMEMBERED_PATHS = 1024;
const MAX_REMEMBERED_PATH = 512;
export const DEFAULT_WAIT_S = 60;
export const MAX_WAIT_S = 3600;

const BASE_HEADERS = {
  "Metadata-Flavor": "Google",
  Server: "Metadata Server for VM",
  "X-XSS-Protection": "0",
  "X-Frame-Options": "SAMEORIGIN",
};
const BASE_HEADER_LIST = Object.entries(BASE_HEADERS).flat();
const TEXT = "application/text";
const NO_QUERY = new URLSearchParams();
const NO_SCOPES: string[] = [];
const JSON_TYPE = "application/json";
const HTML = "text/html; charset=UTF-8";

function googleHtml(code: number, title: string, message: string): string {
  return `<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error ${code} (${title})!!1</title>\n  <p><b>${code}.</b> <ins>That’s an error.</ins>\n  <p>${message}  <ins>That’s all we know.</ins>\n`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const SESSION_PATH = "/computeMetadata/v1/instance/session-token";
export const MAX_SESSION_TTL_S = 21600;

export function createMdsHandler(backend: MdsBackend, opts: MdsOptions = {}) {
  let waiters = 0;
  const sessionMode = opts.sessionTokens ?? "off";
  const sessionKey = randomBytes(32);
  const sessionMac = (exp: string) => createHmac("sha256", sessionKey).update(exp).digest("base64url");
  function sessionValid(token: string): boolean {
    const [exp, mac] = token.split(".");
    if (!exp || !mac || !/^\d+$/.test(exp) || Number(exp) * 1000 < Date.now()) return false;
    const want = Buffer.from(sessionMac(exp));
    const got = Buffer.from(mac);
    return want.length === got.length && timingSafeEqual(want, got);
  }
  const maxWaiters = opts.maxWaiters ?? 1000;

  /**
   * Each answer's flat header list and encoded body, made once per answer object: cached answers
   * (a token's, once a second; a rendered leaf's, until the tree changes) are sent many times.
   */
  const wire = new WeakMap<MdsAnswer, { headers: string[]; bytes: Buffer }>();
  // A flat header list: writeHead validates it without walking spread objects (hot path).
  function send(res: ServerResponse, a: MdsAnswer, head: boolean) {
    let w = wire.get(a);
    if (w === undefined) {
      const bytes = Buffer.from(a.body);
      const headers = [
        ...BASE_HEADER_LIST,
        "Content-Type",
        a.contentType,
        "Content-Length",
        String(bytes.length),
      ];
      if (a.headers) for (const k in a.headers) headers.push(k, a.headers[k]!);
      w = { headers, bytes };
      wire.set(a, w);
    }
    res.writeHead(a.status, w.headers);
    res.end(head ? undefined : w.bytes);
  }
  const notFound = (path: string): MdsAnswer => ({
    status: 404,
    contentType: HTML,
    body: googleHtml(
      404,
      "Not Found",
      `The requested URL <code>${escapeHtml(path)}</code> was not found on this server.`,
    ),
  });
  const badRequest = (msg: string): MdsAnswer => ({ status: 400, contentType: TEXT, body: `${msg}\n` });
  const forbidden = (path: string, why: string): MdsAnswer => ({
    status: 403,
    contentType: HTML,
    body: googleHtml(
      403,
      "Forbidden",
      `Your client does not have permission to get URL <code>${escapeHtml(path)}</code> from this server. ${why}`,
    ),
  });

  // Decided once per connection: keep-alive clients reuse theirs.
  const peers = new WeakMap<object, boolean>();
  function peerAllowed(req: IncomingMessage): boolean {
    if (opts.allowRemotePeers) return true;
    let ok = peers.get(req.socket);
    if (ok === undefined) {
      const a = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
      ok =
        isIP(a) === 4
          ? a.startsWith("127.") || a.startsWith("169.254.")
          : a === "::1" || a.toLowerCase().startsWith("fe80:");
      peers.set(req.socket, ok);
    }
    return ok;
  }

  /**
   * A path's segments under `/computeMetadata/v1`, decoded, or undefined when it names nothing (a
   * bad escape, a dot segment, an encoded slash). Remembered: workloads ask the same few paths.
   */
  const parsedPaths = new Map<string, { segments: string[]; trailingSlash: boolean } | undefined>();
  function parsePath(path: string, prefix: string) {
    if (parsedPaths.has(path)) return parsedPaths.get(path);
    const rest = path.slice(prefix.length);
    const trailingSlash = rest.endsWith("/") || rest === "";
    let parsed: { segments: string[]; trailingSlash: boolean } | undefined;
    try {
      let segments = rest.split("/").filter((s) => s !== "");
      if (rest.includes("%")) segments = segments.map(decodeURIComponent);
      if (!segments.some((s) => s === "." || s === ".." || s.includes("/")))
        parsed = { segments: Object.freeze(segments) as string[], trailingSlash };
    } catch {
      parsed = undefined;
    }
    if (path.length <= MAX_REMEMBERED_PATH) {
      if (parsedPaths.size >= MAX_REMEMBERED_PATHS) parsedPaths.clear();
      parsedPaths.set(path, parsed);
    }
    return parsed;
  }

  /** Synchronous where it can be (cached tokens, data): only mints and long polls return a promise. */
  function answer(req: IncomingMessage, res: ServerResponse): MdsAnswer | Promise<MdsAnswer> {
    const rawUrl = req.url ?? "/";
    if (rawUrl.length > MAX_URL_BYTES) return badRequest("Request URL too long.");
    if (!peerAllowed(req)) return forbidden("/", "Requests from outside this host are refused.");
    if (req.headers["x-forwarded-for"] !== undefined || req.headers.forwarded !== undefined)
      return forbidden(rawUrl.split("?")[0]!, "Forwarded requests are not allowed.");
    const method = req.method ?? "GET";
    if (sessionMode !== "off" && rawUrl === SESSION_PATH && method === "PUT") {
      if (req.headers["metadata-flavor"] !== "Google")
        return forbidden(SESSION_PATH, "Missing Metadata-Flavor:Google header.");
      const ttl = Number(req.headers["x-warrant-metadata-token-ttl-seconds"]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_SESSION_TTL_S)
        return badRequest(
          `X-Warrant-Metadata-Token-TTL-Seconds must be an integer between 1 and ${MAX_SESSION_TTL_S}.`,
        );
      const exp = String(Math.floor(Date.now() / 1000) + ttl);
      return { status: 200, contentType: TEXT, body: `${exp}.${sessionMac(exp)}` };
    }
    if (method !== "GET" && method !== "HEAD")
      return {
        status: 405,
        contentType: TEXT,
        body: "Method not allowed.\n",
        headers: { Allow: "GET, HEAD" },
      };
    const q = rawUrl.indexOf("?");
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q < 0 ? "" : rawUrl.slice(q + 1);
    const query = rawQuery === "" ? NO_QUERY : new URLSearchParams(rawQuery);
    if (path === "/") return { status: 200, contentType: TEXT, body: "computeMetadata/\n" };

    if (req.headers["metadata-flavor"] !== "Google")
      return forbidden(path, "Missing Metadata-Flavor:Google header.");
    if (sessionMode !== "off") {
      const presented = req.headers["x-warrant-metadata-token"];
      const token = Array.isArray(presented) ? presented[0] : presented;
      if (token !== undefined ? !sessionValid(token) : sessionMode === "required")
        return { status: 401, contentType: TEXT, body: "A valid X-Warrant-Metadata-Token is required.\n" };
    }
    if (path === "/computeMetadata" || path === "/computeMetadata/") {
      if (path === "/computeMetadata") return redirect(req, path, rawQuery);
      return { status: 200, contentType: TEXT, body: "v1/\n" };
    }
    // The pattern only for paths that can match it (it ran on every cached token's request).
    if (
      (path.startsWith("/0.1") || path.startsWith("/computeMetadata/v1beta1")) &&
      /^\/(computeMetadata\/v1beta1|0\.1)(\/|$)/.test(path)
    )
      return {
        status: 403,
        contentType: TEXT,
        body: "Legacy metadata endpoints are disabled. Please use the /v1/ endpoint.\n",
      };
    const prefix = "/computeMetadata/v1";
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return notFound(path);

    const parsed = parsePath(path, prefix);
    if (parsed === undefined) return notFound(path);
    const { segments, trailingSlash } = parsed;

    // Token and identity are endpoints of an account, not data.
    if (segments.length === 4 && segments[0] === "instance" && segments[1] === "service-accounts") {
      const [, , account, leaf] = segments as [string, string, string, string];
      if ((leaf === "token" || leaf === "identity") && !trailingSlash) {
        const accounts = backend.tree().root.children.get("instance");
        const known = accounts?.kind === "dir" ? lookup(accounts, ["service-accounts", account]) : undefined;
        if (!known) return notFound(path);
        const rawScopes = query.get("scopes");
        const scopes = rawScopes
          ? rawScopes
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : NO_SCOPES;
        const endpoint = (): MdsAnswer | Promise<MdsAnswer> => {
          if (leaf === "token") return backend.token(account, scopes);
          const audience = query.get("audience");
          if (!audience) return badRequest("non-empty audience parameter required");
          const format = query.get("format") ?? "standard";
          if (format !== "standard" && format !== "full")
            return badRequest(`Invalid format '${format}': use standard or full.`);
          const licenses = (query.get("licenses") ?? "FALSE").toUpperCase() === "TRUE";
          return backend.identity(account, audience, format, licenses);
        };
        if (!backend.fault) return endpoint();
        return backend.fault().then((fault) => fault ?? endpoint());
      }
    }
    return data(req, res, path, segments, trailingSlash, rawQuery, query);
  }

  /** Cached renderings per tree node: the tree is rebuilt on every change, so a node's answer is stable. */
  const rendered = new WeakMap<Node, Map<string, MdsAnswer>>();

  function data(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    segments: string[],
    trailingSlash: boolean,
    rawQuery: string,
    query: URLSearchParams,
  ): MdsAnswer | Promise<MdsAnswer> {
    const { root, version } = backend.tree();
    const node = lookup(root, segments);
    if (!node) return notFound(path);
    if (node.kind === "dir" && !trailingSlash) return redirect(req, path, rawQuery);
    if (node.kind !== "dir" && trailingSlash) return notFound(path);

    const recursive = query.get("recursive")?.toLowerCase() === "true";
    const alt = query.get("alt");
    if (alt !== null && alt !== "json" && alt !== "text")
      return badRequest(`Invalid alt '${alt}': use json or text.`);
    if (node.kind === "dir" && !recursive && alt !== null)
      return badRequest("alt is only supported on leaves and recursive directories.");
    const render = (n: Node): MdsAnswer => {
      if (n.kind === "dir") {
        if (!recursive) return { status: 200, contentType: TEXT, body: listing(n) };
        return alt === "text"
          ? { status: 200, contentType: TEXT, body: toRecursiveText(n) }
          : { status: 200, contentType: JSON_TYPE, body: toJson(n) };
      }
      const asJson = alt === "json" || (alt === null && n.kind === "json");
      return asJson
        ? { status: 200, contentType: JSON_TYPE, body: toJson(n) }
        : { status: 200, contentType: TEXT, body: leafText(n) };
    };
    const withEtag = (n: Node): MdsAnswer => {
      const variant = `${recursive}|${alt}`;
      let byVariant = rendered.get(n);
      if (!byVariant) {
        byVariant = new Map();
        rendered.set(n, byVariant);
      }
      let a = byVariant.get(variant);
      if (!a) {
        const r = render(n);
        a = { ...r, headers: { ETag: etagOf(r.body) } };
        byVariant.set(variant, a);
      }
      return a;
    };
    const out = withEtag(node);
    if (query.get("wait_for_change")?.toLowerCase() !== "true") return out;
    return waitForChange(res, segments, path, node, version, out, query, withEtag);
  }

  /** `wait_for_change`: answer when the rendering's ETag differs from the client's, or at the timeout. */
  async function waitForChange(
    res: ServerResponse,
    segments: string[],
    path: string,
    node: Node,
    version: number,
    first: MdsAnswer,
    query: URLSearchParams,
    withEtag: (n: Node) => MdsAnswer,
  ): Promise<MdsAnswer> {
    if (node.kind === "dir" && query.get("recursive")?.toLowerCase() !== "true")
      return badRequest("wait_for_change is only supported on leaves and recursive directories.");
    const rawTimeout = query.get("timeout_sec");
    const timeout = rawTimeout === null ? DEFAULT_WAIT_S : Number(rawTimeout);
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_WAIT_S)
      return badRequest(`timeout_sec must be an integer between 1 and ${MAX_WAIT_S}.`);
    const start = first.headers!.ETag;
    const lastEtag = query.get("last_etag");
    if (lastEtag !== null && lastEtag !== start) return first;
    if (waiters >= maxWaiters)
      return { status: 503, contentType: TEXT, body: "Too many pending wait_for_change requests.\n" };
    waiters++;
    const aborted = new AbortController();
    res.once("close", () => aborted.abort());
    const deadline = Date.now() + timeout * 1000;
    let out = first;
    try {
      while (Date.now() < deadline && !aborted.signal.aborted) {
        await backend.changed(version, deadline - Date.now(), aborted.signal);
        const t = backend.tree();
        version = t.version;
        const next = lookup(t.root, segments);
        if (!next) return notFound(path);
        out = withEtag(next);
        if (out.headers!.ETag !== start) break;
      }
    } finally {
      waiters--;
    }
    return out;
  }

  /** To the directory form, keeping the query exactly as the client sent it. */
  function redirect(req: IncomingMessage, path: string, qs: string): MdsAnswer {
    const host =
      req.headers.host && /^[A-Za-z0-9.:[\]-]+$/.test(req.headers.host)
        ? req.headers.host
        : "metadata.google.internal";
    return {
      status: 301,
      contentType: "text/html",
      body: `${path}/\n`,
      headers: { Location: `http://${host}${path}/${qs ? `?${qs}` : ""}` },
    };
  }

  const failed = (res: ServerResponse) => {
    if (!res.headersSent) send(res, { status: 500, contentType: TEXT, body: "Internal error.\n" }, false);
    else res.destroy();
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    let a: MdsAnswer | Promise<MdsAnswer>;
    try {
      a = answer(req, res);
    } catch {
      return failed(res);
    }
    if (a instanceof Promise)
      a.then(
        (x) => send(res, x, req.method === "HEAD"),
        () => failed(res),
      );
    else send(res, a, req.method === "HEAD");
  };
}
