/**
 * The web console's back end (a "back end for front end"), served by `warrant serve` at /console:
 *
 * - the built single-page application (static.ts), with a strict CSP;
 * - sign-in as an OAuth client of Warrant's own authorization server: authorization code with
 *   PKCE S256 as the public client `warrant-console`, `state` (its digest) and the verifier kept
 *   server-side behind a short-lived HttpOnly cookie of the browser that started it;
 * - a server-side session in the datastore (sessions.ts), shared by the nodes, holding the user's
 *   tokens sealed, which never reach the browser;
 * - `/console/api/<public API path>`: forwards the request, bodies streamed both ways, to Warrant's
 *   public API with `Authorization: Bearer <the user's access token>` (refreshed with the user's
 *   refresh token when due). The console has no privileged path: the API checks IAM for the user
 *   exactly as it does for gcloud, and answers the user's denials with their explanation.
 *
 * CSRF: the session cookie is SameSite=Lax, and every state-changing request must also carry the
 * `X-Warrant-Console` header (which a cross-site page cannot send without a CORS preflight, never
 * granted) and an `Origin` that is this server's, with `Sec-Fetch-Site: same-origin` when the
 * browser sends it. See docs/console.md.
 */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import type { Datastore } from "../../datastore/datastore.js";
import { ApiError } from "../../domain/errors.js";
import { userPrincipal } from "../../domain/iam/principal.js";
import type { RequestContext } from "../http/context.js";
import type { Method, Router } from "../http/router.js";
import { sendJson } from "../http/server.js";
import { type ConsoleSession, newOpaqueId, type SessionLimits, SessionStore } from "./sessions.js";
import { type ConsoleFiles, loadConsoleFiles, SECURITY_HEADERS, type StaticFile } from "./static.js";

/** The first-party public OAuth client the console signs in as (its redirect URI is `{origin}/console/auth/callback`). */
export const CONSOLE_CLIENT_ID = "warrant-console";
/** What the console asks for: the user's identity and the API, as gcloud does. */
export const CONSOLE_SCOPES = "openid email https://www.googleapis.com/auth/cloud-platform";
/** The header the console's own script sends on every API call; its absence marks a forged request. */
export const CONSOLE_HEADER = "x-warrant-console";
/** Refresh the access token when less than this remains. */
const REFRESH_MARGIN_MS = 60_000;

export interface ConsoleOptions {
  /** This node's own API, e.g. `http://127.0.0.1:8080`: where the console's calls are forwarded. */
  apiUrl: string;
  /** Where sessions live (shared by the nodes of an installation). */
  store: Datastore;
  /** Seals the users' tokens in the stored sessions. */
  masterKey: Buffer;
  limits?: Partial<SessionLimits>;
  /** dist/console by default. */
  files?: ConsoleFiles;
  log: (line: string) => void;
  /**
   * Ends the browser's sign-in at the authorization server too, at sign-out (else "Sign in" would
   * pass straight through without a password); returns the `Set-Cookie` that clears its cookie.
   */
  endSignIn?: (ctx: RequestContext) => Promise<string>;
}

export interface ConsoleHandle {
  sessions: SessionStore;
}

// ---------------------------------------------------------------------------------------------
// Cookies

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    // The first occurrence wins (the most specific path), as browsers order them.
    if (!out.has(k)) out.set(k, part.slice(i + 1).trim());
  }
  return out;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Whether the console's cookies can be `Secure`: over HTTPS, and on loopback over plain HTTP, which
 * browsers treat as a secure context (Chromium keeps `Secure` and `__Host-` cookies set by
 * http://127.0.0.1 and http://localhost; test/console checks it). Over plain HTTP to any other
 * host a browser drops `Secure` cookies, so they are sent without it there.
 */
export function secureCookies(baseUrl: string): boolean {
  const u = new URL(baseUrl);
  return u.protocol === "https:" || LOOPBACK_HOSTS.has(u.hostname);
}
const secureOrigin = (ctx: RequestContext) => secureCookies(ctx.baseUrl);

/**
 * The session cookie's name: where cookies can be Secure, the `__Host-` prefix (Secure, Path=/, no
 * Domain: no other host or path can set or shadow it); elsewhere unprefixed (docs/console.md#sessions).
 */
export const sessionCookieName = (secure: boolean) => (secure ? "__Host-warrant_console" : "warrant_console");
const LOGIN_COOKIE = "warrant_console_login";
const LOGIN_COOKIE_PATH = "/console/auth";

function setCookie(name: string, value: string, opts: { secure: boolean; path: string; maxAge?: number }) {
  return [
    `${name}=${value}`,
    `Path=${opts.path}`,
    "HttpOnly",
    "SameSite=Lax",
    ...(opts.secure ? ["Secure"] : []),
    ...(opts.maxAge !== undefined ? [`Max-Age=${opts.maxAge}`] : []),
  ].join("; ");
}

function sessionIdOf(ctx: RequestContext): string | undefined {
  return cookies(ctx.req).get(sessionCookieName(secureOrigin(ctx)));
}

// ---------------------------------------------------------------------------------------------
// CSRF

/** Refuses a request another site could have made the browser send (403, Google's shape). */
export function requireSameOrigin(ctx: RequestContext, stateChanging: boolean): void {
  const h = ctx.req.headers;
  const site = h["sec-fetch-site"];
  const own = new URL(ctx.baseUrl).origin;
  const refuse = (why: string) => {
    throw new ApiError(
      403,
      "PERMISSION_DENIED",
      "forbidden",
      `The console refused a cross-site request: ${why}.`,
    );
  };
  if (!stateChanging) {
    // Reads: a cross-site page cannot read the answer, but refuse it anyway where the browser says so.
    if (typeof site === "string" && site !== "same-origin" && site !== "none")
      refuse(`Sec-Fetch-Site is ${site}`);
    return;
  }
  if (h[CONSOLE_HEADER] !== "1") refuse("the X-Warrant-Console header is missing");
  const origin = h.origin;
  if (typeof origin !== "string") refuse("the Origin header is missing");
  if (origin !== own) refuse(`Origin ${origin} is not ${own}`);
  if (typeof site === "string" && site !== "same-origin") refuse(`Sec-Fetch-Site is ${site}`);
}

// ---------------------------------------------------------------------------------------------
// Talking to Warrant's own OAuth endpoints

interface TokenAnswer {
  access_token?: string;
  expires_in?: number;
  refresh_token?: string;
  id_token?: string;
  error?: string;
  error_description?: string;
}

async function postForm(
  url: string,
  form: Record<string, string>,
): Promise<{ status: number; body: TokenAnswer }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams(form),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: TokenAnswer = {};
  try {
    body = JSON.parse(text) as TokenAnswer;
  } catch {
    body = { error: "invalid_response", error_description: `the token endpoint answered ${res.status}` };
  }
  return { status: res.status, body };
}

/** The signed-in user's e-mail, from the id_token's claims or else tokeninfo on the access token. */
async function emailOf(apiUrl: string, answer: TokenAnswer): Promise<string | undefined> {
  if (answer.id_token) {
    try {
      // The id_token came straight from our own token endpoint over this node's connection: its
      // claims are read, not verified again.
      const claims = JSON.parse(
        Buffer.from(answer.id_token.split(".")[1] ?? "", "base64url").toString("utf8"),
      );
      if (typeof claims.email === "string" && claims.email) return claims.email.toLowerCase();
    } catch {
      // fall through to tokeninfo
    }
  }
  const info = await fetch(`${apiUrl}/oauth2/v3/tokeninfo`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ access_token: answer.access_token ?? "" }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!info.ok) return undefined;
  const json = (await info.json()) as { email?: string };
  return json.email?.toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Pages and answers

function sendStatic(ctx: RequestContext, f: StaticFile, extra: Record<string, string> = {}) {
  const { req, res } = ctx;
  const headers: Record<string, string | number> = {
    ...SECURITY_HEADERS,
    "Content-Type": f.type,
    "Cache-Control": f.cacheControl,
    ETag: f.etag,
    Vary: "Accept-Encoding",
    ...extra,
  };
  if (req.headers["if-none-match"] === f.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const gzip = f.gzip && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
  const body = gzip ? f.gzip! : f.body;
  res.writeHead(200, {
    ...headers,
    "Content-Length": body.length,
    ...(gzip ? { "Content-Encoding": "gzip" } : {}),
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

function redirect(res: ServerResponse, location: string, setCookies: string[] = []) {
  res.writeHead(303, {
    ...SECURITY_HEADERS,
    Location: location,
    "Cache-Control": "no-store",
    ...(setCookies.length ? { "Set-Cookie": setCookies } : {}),
    "Content-Length": 0,
  });
  res.end();
}

/** A console path to return to after sign-in; anything else (another site, `//x`) becomes /console/. */
export function safeNext(next: string | null): string {
  if (!next || !/^\/console(?:[/?#]|$)/.test(next) || next.includes("\\") || /[\r\n]/.test(next))
    return "/console/";
  return next;
}

/** Headers not forwarded to the API: the browser's credentials, hop-by-hop, and what the console sets. */
const DROPPED_REQUEST_HEADERS = new Set([
  "cookie",
  "authorization",
  "connection",
  "keep-alive",
  "proxy-authorization",
  "te",
  "trailer",
  "upgrade",
  "origin",
  "referer",
  "x-request-id",
  "traceparent",
  "x-warrant-explain",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "expect",
  CONSOLE_HEADER,
]);
const DROPPED_RESPONSE_HEADERS = new Set([
  "set-cookie",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "trailer",
]);

/** What every /console/api answer carries: whatever the API returns (an uploaded object, say), it is never a page. */
const API_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Referrer-Policy": "no-referrer",
};

const METHODS: Method[] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

export function registerConsole(router: Router, opts: ConsoleOptions): ConsoleHandle {
  const sessions = new SessionStore(opts.store, opts.masterKey, opts.limits);
  const files = opts.files ?? loadConsoleFiles();
  const api = opts.apiUrl.replace(/\/$/, "");
  const upstream = new URL(api);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  if (!files.index)
    opts.log(
      "console: dist/console/index.html is missing (run `npm run build`); /console answers 503 until it is built",
    );

  /** In flight per session (its key), so this node's concurrent calls share one refresh. */
  const refreshing = new Map<string, Promise<boolean>>();

  async function refresh(s: ConsoleSession): Promise<boolean> {
    if (!s.refreshToken) return false;
    const r = await postForm(`${api}/token`, {
      grant_type: "refresh_token",
      client_id: CONSOLE_CLIENT_ID,
      refresh_token: s.refreshToken,
    });
    if (r.status !== 200 || !r.body.access_token) {
      opts.log(
        `console: refreshing ${s.principal}'s token failed: ${r.body.error ?? r.status}; the session ends`,
      );
      return false;
    }
    s.accessToken = r.body.access_token;
    s.accessExpiresAt = Date.now() + (r.body.expires_in ?? 3600) * 1000;
    if (r.body.refresh_token) s.refreshToken = r.body.refresh_token;
    await sessions.updateTokens(s);
    return true;
  }

  /** The session's access token, refreshed when due; undefined when the session cannot go on. */
  async function accessToken(s: ConsoleSession, sid: string | undefined): Promise<string | undefined> {
    if (s.accessExpiresAt - Date.now() > REFRESH_MARGIN_MS) return s.accessToken;
    let p = refreshing.get(s.key);
    if (!p) {
      p = refresh(s).finally(() => refreshing.delete(s.key));
      refreshing.set(s.key, p);
      return (await p) ? s.accessToken : undefined;
    }
    // Another call of this session refreshed: its token is in the store now.
    if (!(await p)) return undefined;
    return (await sessions.get(sid))?.accessToken;
  }

  function signInRequired(): ApiError {
    return new ApiError(
      401,
      "UNAUTHENTICATED",
      "consoleSignInRequired",
      "Sign in to the console: there is no session, or it has ended.",
    );
  }

  // --- sign-in -------------------------------------------------------------------------------

  router.add(
    "GET",
    "/console/auth/login",
    async (ctx) => {
      const state = newOpaqueId();
      const verifier = newOpaqueId();
      const redirectUri = `${ctx.baseUrl}/console/auth/callback`;
      const loginId = await sessions.beginLogin({
        state,
        codeVerifier: verifier,
        next: safeNext(ctx.url.searchParams.get("next")),
        redirectUri,
      });
      const q = new URLSearchParams({
        response_type: "code",
        client_id: CONSOLE_CLIENT_ID,
        redirect_uri: redirectUri,
        scope: CONSOLE_SCOPES,
        state,
        code_challenge: createHash("sha256").update(verifier).digest("base64url"),
        code_challenge_method: "S256",
        // A refresh token, so the session outlives the first access token (as gcloud asks for one).
        access_type: "offline",
      });
      redirect(ctx.res, `/o/oauth2/auth?${q}`, [
        setCookie(LOGIN_COOKIE, loginId, {
          secure: secureOrigin(ctx),
          path: LOGIN_COOKIE_PATH,
          maxAge: sessions.limits.loginSeconds,
        }),
      ]);
    },
    "none",
  );

  router.add(
    "GET",
    "/console/auth/callback",
    async (ctx) => {
      const secure = secureOrigin(ctx);
      const clearLogin = setCookie(LOGIN_COOKIE, "", { secure, path: LOGIN_COOKIE_PATH, maxAge: 0 });
      const fail = (why: string) =>
        redirect(ctx.res, `/console/?signInError=${encodeURIComponent(why)}`, [clearLogin]);
      const q = ctx.url.searchParams;
      const pending = await sessions.takeLogin(cookies(ctx.req).get(LOGIN_COOKIE), q.get("state") ?? "");
      if (!pending)
        return fail("this sign-in was not started in this browser, or took too long; start again");
      if (pending === "state-mismatch")
        return fail("the answer does not belong to the sign-in this browser started; start again");
      const error = q.get("error");
      if (error)
        return fail(
          error === "access_denied"
            ? "access was denied"
            : `the authorization server answered ${error.slice(0, 64)}`,
        );
      const code = q.get("code");
      if (!code) return fail("no authorization code came back");
      const r = await postForm(`${api}/token`, {
        grant_type: "authorization_code",
        code,
        redirect_uri: pending.redirectUri,
        client_id: CONSOLE_CLIENT_ID,
        code_verifier: pending.codeVerifier,
      });
      if (r.status !== 200 || !r.body.access_token) {
        opts.log(`console: code exchange failed: ${r.body.error ?? r.status}`);
        return fail(`the code could not be exchanged (${(r.body.error ?? String(r.status)).slice(0, 64)})`);
      }
      const email = await emailOf(api, r.body);
      if (!email) return fail("the token names no user");
      // Rotation at sign-in: whatever session this browser had (or was given) ends here.
      await sessions.delete(sessionIdOf(ctx));
      const id = await sessions.create({
        principal: `user:${email}`,
        email,
        accessToken: r.body.access_token,
        accessExpiresAt: Date.now() + (r.body.expires_in ?? 3600) * 1000,
        refreshToken: r.body.refresh_token,
      });
      redirect(ctx.res, pending.next, [
        clearLogin,
        setCookie(sessionCookieName(secure), id, { secure, path: "/" }),
      ]);
    },
    "none",
  );

  router.add(
    "GET",
    "/console/auth/session",
    async (ctx) => {
      requireSameOrigin(ctx, false);
      const s = await sessions.get(sessionIdOf(ctx));
      // Not signed in is a state of the page, not an error (no 401 in the browser's console).
      if (!s) return sendJson(ctx.res, 200, { signedIn: false }, API_RESPONSE_HEADERS);
      ctx.caller = { principal: userPrincipal(s.email) };
      sendJson(
        ctx.res,
        200,
        {
          signedIn: true,
          email: s.email,
          principal: s.principal,
          expiresAt: new Date(
            Math.min(s.expiresAt, s.lastSeenAt + sessions.limits.idleSeconds * 1000),
          ).toISOString(),
        },
        API_RESPONSE_HEADERS,
      );
    },
    "none",
  );

  router.add(
    "POST",
    "/console/auth/logout",
    async (ctx) => {
      requireSameOrigin(ctx, true);
      const secure = secureOrigin(ctx);
      const s = await sessions.delete(sessionIdOf(ctx));
      if (s) {
        ctx.caller = { principal: userPrincipal(s.email) };
        // The refresh token dies with the session (best effort: the session is gone either way).
        if (s.refreshToken)
          await postForm(`${api}/revoke`, { token: s.refreshToken }).catch((err: Error) =>
            opts.log(`console: revoking ${s.principal}'s refresh token at sign-out failed: ${err.message}`),
          );
      }
      const signInCookie = await opts.endSignIn?.(ctx);
      ctx.res.writeHead(204, {
        ...API_RESPONSE_HEADERS,
        "Cache-Control": "no-store",
        "Set-Cookie": [
          setCookie(sessionCookieName(secure), "", { secure, path: "/", maxAge: 0 }),
          ...(signInCookie ? [signInCookie] : []),
        ],
      });
      ctx.res.end();
    },
    "none",
  );

  // --- the API, forwarded with the user's token ------------------------------------------------

  const forward = async (ctx: RequestContext) => {
    const method = ctx.req.method ?? "GET";
    requireSameOrigin(ctx, method !== "GET" && method !== "HEAD");
    const sid = sessionIdOf(ctx);
    const s = await sessions.get(sid);
    if (!s) throw signInRequired();
    ctx.caller = { principal: userPrincipal(s.email) };
    const token = await accessToken(s, sid);
    if (!token) {
      await sessions.delete(sid);
      throw signInRequired();
    }
    const path = ctx.url.pathname.slice("/console/api".length) + ctx.url.search;
    // `//host/…` would read as another authority upstream; `/console/…` would loop back here.
    if (!path.startsWith("/") || path.startsWith("//") || path.startsWith("/console"))
      throw new ApiError(
        404,
        "NOT_FOUND",
        "notFound",
        `The requested URL ${ctx.url.pathname} was not found on this server.`,
      );
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(ctx.req.headers))
      if (!DROPPED_REQUEST_HEADERS.has(k) && !k.startsWith("sec-") && v !== undefined) headers[k] = v;
    headers.authorization = `Bearer ${token}`;
    // One id for the console's request and the API call it made: the id the user sees on a denial
    // finds the API's audit entry.
    headers["x-request-id"] = ctx.requestId;
    // The user's own denials, explained, as `?explain=true` gives them to any caller.
    headers["x-warrant-explain"] = "true";
    await new Promise<void>((resolve, reject) => {
      const up = httpRequest(
        {
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method,
          path,
          headers,
          agent,
        },
        (answer) => {
          // The API no longer takes the user's token (the user was disabled or deleted, the grant
          // revoked): the session ends with it, and the page asks to sign in again.
          if (answer.statusCode === 401)
            sessions
              .delete(sid)
              .catch((err: Error) => opts.log(`console: ending a session failed: ${err.message}`));
          const out: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(answer.headers))
            if (v !== undefined && !DROPPED_RESPONSE_HEADERS.has(k)) out[k] = v;
          // Resumable-upload session URIs and other absolute links to the API go through the console too.
          if (typeof out.location === "string")
            out.location = rewriteLocation(out.location, ctx.baseUrl, api);
          ctx.res.writeHead(answer.statusCode ?? 502, { ...out, ...API_RESPONSE_HEADERS });
          answer.pipe(ctx.res);
          answer.once("end", () => resolve());
          answer.once("error", reject);
        },
      );
      up.once("error", (err) => {
        if (ctx.res.headersSent) return reject(err);
        reject(
          new ApiError(
            502,
            "UNAVAILABLE",
            "backendError",
            `The console could not reach Warrant's API: ${err.message}`,
          ),
        );
      });
      // The browser went away: stop the API call too (an upload is left to its own session rules).
      ctx.res.once("close", () => {
        if (!ctx.res.writableFinished) up.destroy();
      });
      if (method === "GET" || method === "HEAD") up.end();
      else ctx.req.pipe(up);
    });
  };
  for (const m of METHODS) router.add(m, "/console/api/{path=**}", forward, "none");

  // --- the application --------------------------------------------------------------------------

  const app = async (ctx: RequestContext) => {
    const rest = ctx.params.path ?? "";
    if (rest.startsWith("assets/")) {
      const f = files.assets.get(rest.slice("assets/".length));
      if (!f)
        throw new ApiError(
          404,
          "NOT_FOUND",
          "notFound",
          `The requested URL ${ctx.url.pathname} was not found on this server.`,
        );
      return sendStatic(ctx, f);
    }
    if (!files.index) {
      const body =
        "The Warrant console is not built. Run `npm run build` (or `node scripts/build-console.mjs`) and restart.\n";
      ctx.res.writeHead(503, {
        ...SECURITY_HEADERS,
        "Content-Type": "text/plain; charset=utf-8",
        "Cache-Control": "no-store",
      });
      ctx.res.end(body);
      return;
    }
    return sendStatic(ctx, files.index);
  };
  router.add("GET", "/console", async (ctx) => redirect(ctx.res, `/console/${ctx.url.search}`), "none");
  router.add("GET", "/console/{path=**}", app, "none");

  return { sessions };
}

/** `http://host/upload/...?upload_id=x` from the API → `{console origin}/console/api/upload/...`. */
export function rewriteLocation(location: string, consoleBase: string, apiUrl: string): string {
  let u: URL;
  try {
    u = new URL(location);
  } catch {
    return location;
  }
  const base = new URL(consoleBase);
  const api = new URL(apiUrl);
  if (u.host !== base.host && u.host !== api.host) return location;
  return `${base.origin}/console/api${u.pathname}${u.search}`;
}
