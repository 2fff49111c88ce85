/**
 * The authorization endpoint (RFC 6749 §4.1, Google's `/o/oauth2/auth` and `/o/oauth2/v2/auth`):
 * people sign in here, with a password or through the installation's upstream OpenID Connect
 * provider, and the client they came from gets an authorization code on its registered redirect
 * URI. Rules (spec user-sign-in.md §7.2, §8):
 *  - the client and its redirect URI are checked before anything is redirected; a problem with
 *    either is a page, never a redirect (no open redirector);
 *  - `response_type=code`, a `state`, and PKCE with S256 are required (no plain, no downgrade);
 *  - the sign-in form carries a CSRF token that must match a cookie of the same browser (login CSRF);
 *  - a browser that signed in within the session lifetime is not asked again, unless the client
 *    sends `prompt=login`/`consent`/`select_account`, which shows the page with "Continue as".
 */

import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { parseScopes } from "../../../domain/oauth/assertion.js";
import { newCsrfToken, SIGNIN_SESSION_LIFETIME_S } from "../../../domain/oauth/authorization.js";
import {
  type FirstPartyClient,
  firstPartyClient,
  type RedirectKind,
  redirectKind,
} from "../../../domain/oauth/first-party-clients.js";
import { challengeWellFormed } from "../../../domain/oauth/pkce.js";
import type { User } from "../../../domain/user.js";
import { SignIn } from "../../auth/sign-in.js";
import type { ServerDeps } from "../../deps.js";
import { readForm } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { codeBody, errorPage, sendPage, signInBody } from "./signin-page.js";

export const AUTHORIZE_PATHS = ["/o/oauth2/auth", "/o/oauth2/v2/auth"] as const;

/** A validated authorization request. */
export interface AuthorizationRequest {
  client: FirstPartyClient;
  redirectUri: string;
  kind: RedirectKind;
  state: string;
  scopes: string[];
  codeChallenge: string;
  offline: boolean;
  prompt: string[];
  /** The query string it came from, carried through the sign-in form. */
  query: string;
}

export type Parsed =
  | { ok: true; request: AuthorizationRequest }
  /** Before the redirect URI is trusted: shown as a page. */
  | { ok: false; page: string }
  /** After: sent back to the client's redirect URI. */
  | { ok: false; redirect: string; error: string; description: string };

const MAX_STATE = 2048;

/** One value of a parameter; repeated parameters are refused (RFC 6749 §3.1). */
function one(q: URLSearchParams, name: string): string | undefined | null {
  const all = q.getAll(name);
  if (all.length > 1) return null;
  return all[0] === "" ? undefined : all[0];
}

export function parseAuthorizationRequest(query: string, ownOrigins: readonly string[]): Parsed {
  const q = new URLSearchParams(query);
  const clientId = one(q, "client_id");
  if (clientId === null) return { ok: false, page: "The request names client_id more than once." };
  if (!clientId)
    return { ok: false, page: "The request does not name the application (client_id is missing)." };
  const client = firstPartyClient(clientId);
  if (!client) return { ok: false, page: `The application ${clientId} is not known to this server.` };
  const redirectUri = one(q, "redirect_uri");
  if (redirectUri === null) return { ok: false, page: "The request names redirect_uri more than once." };
  if (!redirectUri)
    return { ok: false, page: `The request does not say where to return to (redirect_uri is missing).` };
  const kind = redirectKind(client, redirectUri, ownOrigins);
  if (!kind)
    return {
      ok: false,
      page: `The redirect URI ${redirectUri} is not registered for ${client.displayName}; the sign-in was stopped.`,
    };
  // From here the redirect URI is trusted: problems go back to the client.
  const refuse = (error: string, description: string): Parsed => ({
    ok: false,
    redirect: redirectUri,
    error,
    description,
  });
  const state = one(q, "state");
  if (state === null || state === undefined)
    return refuse(
      "invalid_request",
      "state is required (once), to bind the response to the client's request.",
    );
  if (state.length > MAX_STATE) return refuse("invalid_request", "state is too long.");
  const responseType = one(q, "response_type");
  if (responseType !== "code")
    return refuse("unsupported_response_type", "Only response_type=code is supported.");
  const challenge = one(q, "code_challenge");
  const method = one(q, "code_challenge_method");
  if (!challenge || method === null || method === undefined)
    return refuse("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256.");
  if (method !== "S256")
    return refuse("invalid_request", "code_challenge_method must be S256 (plain is not accepted).");
  if (!challengeWellFormed(challenge))
    return refuse("invalid_request", "code_challenge must be 43 base64url characters (S256).");
  const scopeRaw = one(q, "scope");
  if (scopeRaw === null || scopeRaw === undefined) return refuse("invalid_scope", "scope is required.");
  const scopes = parseScopes(scopeRaw);
  if (typeof scopes === "string") return refuse("invalid_scope", scopes);
  if (scopes.length === 0) return refuse("invalid_scope", "scope is required.");
  const prompt = (one(q, "prompt") ?? "").split(" ").filter(Boolean);
  return {
    ok: true,
    request: {
      client,
      redirectUri,
      kind,
      state,
      scopes,
      codeChallenge: challenge,
      offline: one(q, "access_type") === "offline",
      prompt,
      query,
    },
  };
}

/** The redirect URI with the response parameters appended (RFC 6749 §4.1.2). */
export function withParams(redirectUri: string, params: Record<string, string>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

export function parseCookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  const header = req.headers.cookie;
  if (!header) return out;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    const name = part.slice(0, i).trim();
    if (!out.has(name)) out.set(name, part.slice(i + 1).trim());
  }
  return out;
}

/**
 * The authorization server's cookies. In a secure context they are `__Host-` cookies (Secure,
 * Path=/, no Domain: no other host or path can set or shadow them). A secure context is HTTPS, or
 * plain http on a loopback host: Chromium (checked with the Chromium the tests drive) keeps
 * `Secure` and `__Host-` cookies from http://127.0.0.1 and http://localhost, which count as
 * potentially trustworthy origins. Over plain http to any other host (a server bound to 0.0.0.0,
 * reached at its LAN address) a browser drops `Secure` cookies and refuses `__Host-` names, so
 * there the names carry no prefix, no Secure flag, and a path narrowed to the sign-in paths.
 */
export function cookieNames(secureContext: boolean) {
  return secureContext
    ? {
        session: "__Host-warrant_signin",
        csrf: "__Host-warrant_signin_csrf",
        sso: "__Host-warrant_sso_state",
        attrs: "; Path=/; Secure",
      }
    : {
        session: "warrant_signin",
        csrf: "warrant_signin_csrf",
        sso: "warrant_sso_state",
        attrs: "; Path=/o/oauth2/",
      };
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** HTTPS, or http on a loopback host (see cookieNames). */
export function isSecure(ctx: RequestContext): boolean {
  const url = new URL(ctx.baseUrl);
  return url.protocol === "https:" || LOOPBACK_HOSTS.has(url.hostname);
}

export function setCookie(ctx: RequestContext, name: string, value: string, maxAgeS: number): string {
  const { attrs } = cookieNames(isSecure(ctx));
  return `${name}=${value}${attrs}; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}`;
}

/**
 * Ends this browser's sign-in at the authorization server (the console's sign-out): the session the
 * cookie names is deleted, and the answer's `Set-Cookie` (returned) clears the cookie. Over plain
 * http to a non-loopback host the cookie's path is `/o/oauth2/` and the browser does not send it
 * elsewhere; clearing it still works from any path, and its session then expires unused.
 */
export async function endBrowserSignIn(signIn: SignIn, ctx: RequestContext): Promise<string> {
  const names = cookieNames(isSecure(ctx));
  await signIn.endSession(parseCookies(ctx.req).get(names.session));
  return setCookie(ctx, names.session, "", 0);
}

const sameToken = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** What an upstream identity provider contributes to the sign-in page (see upstream-sso.ts). */
export interface UpstreamSignIn {
  label: string;
  /** Starts the upstream leg for this authorization request: answers with a redirect. */
  begin(ctx: RequestContext, request: AuthorizationRequest): Promise<void>;
}

export interface Authorization {
  signIn: SignIn;
  /** Finishes an authorization request for a signed-in user: the code, by redirect or page. */
  complete(
    ctx: RequestContext,
    request: AuthorizationRequest,
    user: User,
    method: string,
    cookies: string[],
  ): Promise<void>;
}

export function registerAuthorization(
  router: Router,
  deps: ServerDeps,
  opts: { sso?: () => UpstreamSignIn | undefined; signIn?: SignIn } = {},
): Authorization {
  const signIn = opts.signIn ?? new SignIn(deps);

  function audit(ctx: RequestContext, entry: Record<string, unknown>) {
    deps.audit.record({ time: new Date().toISOString(), kind: "signin", requestId: ctx.requestId, ...entry });
  }

  function redirect(ctx: RequestContext, location: string, cookies: string[] = []) {
    ctx.res.writeHead(ctx.req.method === "POST" ? 303 : 302, {
      Location: location,
      "Cache-Control": "no-store",
      "Referrer-Policy": "no-referrer",
      ...(cookies.length ? { "Set-Cookie": cookies } : {}),
    });
    ctx.res.end();
  }

  async function complete(
    ctx: RequestContext,
    request: AuthorizationRequest,
    user: User,
    method: string,
    cookies: string[],
  ) {
    const code = await signIn.issueCode({
      clientId: request.client.clientId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      subject: `user:${user.email}`,
      uid: user.uniqueId!,
      email: user.email,
      scopes: request.scopes,
      offline: request.offline,
      authTime: new Date().toISOString(),
    });
    audit(ctx, {
      outcome: "code-issued",
      subject: `user:${user.email}`,
      clientId: request.client.clientId,
      method,
    });
    if (request.kind === "display")
      return sendPage(ctx.res, 200, "Copy this code", codeBody(code, request.client.displayName), {
        ...(cookies.length ? { "Set-Cookie": cookies } : {}),
      });
    redirect(
      ctx,
      withParams(request.redirectUri, { state: request.state, code, scope: request.scopes.join(" ") }),
      cookies,
    );
  }

  /** Shows a problem: a page before the redirect URI is trusted, a redirect after. */
  function refuse(ctx: RequestContext, parsed: Exclude<Parsed, { ok: true }>, query: string) {
    audit(ctx, {
      outcome: "refused",
      ...("page" in parsed ? { description: parsed.page } : { error: parsed.error }),
    });
    if ("page" in parsed) return errorPage(ctx.res, 400, "Sign-in request not valid", parsed.page);
    const states = new URLSearchParams(query).getAll("state");
    const state = states.length === 1 ? states[0] : undefined;
    return redirect(
      ctx,
      withParams(parsed.redirect, {
        error: parsed.error,
        error_description: parsed.description,
        ...(state ? { state } : {}),
      }),
    );
  }

  function showForm(
    ctx: RequestContext,
    request: AuthorizationRequest,
    status: number,
    extra: {
      error?: string;
      email?: string;
      signedInAs?: string;
      csrf?: string;
      headers?: Record<string, string>;
    },
  ) {
    const names = cookieNames(isSecure(ctx));
    const cookies = parseCookies(ctx.req);
    let csrf = extra.csrf ?? cookies.get(names.csrf);
    const setCookies: string[] = [];
    if (!csrf || !/^[A-Za-z0-9_-]{32}$/.test(csrf)) {
      csrf = newCsrfToken();
      setCookies.push(setCookie(ctx, names.csrf, csrf, 3600));
    }
    const sso = opts.sso?.();
    sendPage(
      ctx.res,
      status,
      "Sign in",
      signInBody({
        action: ctx.url.pathname,
        csrf,
        request: request.query,
        clientName: request.client.displayName,
        ...(extra.error ? { error: extra.error } : {}),
        ...(extra.email ? { email: extra.email } : {}),
        ...(extra.signedInAs ? { signedInAs: extra.signedInAs } : {}),
        ...(sso ? { ssoLabel: sso.label } : {}),
      }),
      { ...(setCookies.length ? { "Set-Cookie": setCookies } : {}), ...extra.headers },
    );
  }

  async function get(ctx: RequestContext) {
    const query = ctx.url.search.slice(1);
    const parsed = parseAuthorizationRequest(query, deps.ownOrigins);
    if (!parsed.ok) return refuse(ctx, parsed, query);
    const { request } = parsed;
    const names = cookieNames(isSecure(ctx));
    const live = await signIn.session(parseCookies(ctx.req).get(names.session));
    const ask = request.prompt.some((p) => p === "login" || p === "consent" || p === "select_account");
    if (live && !ask) return complete(ctx, request, live.user, "session", []);
    showForm(ctx, request, 200, {
      ...(live && !request.prompt.includes("login") ? { signedInAs: live.user.email } : {}),
    });
  }

  async function post(ctx: RequestContext) {
    const type = (ctx.req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/x-www-form-urlencoded")
      return errorPage(
        ctx.res,
        400,
        "Sign-in request not valid",
        "The sign-in form was not submitted as a form.",
      );
    const form = await readForm(ctx.req);
    const query = form.get("request") ?? "";
    const parsed = parseAuthorizationRequest(query, deps.ownOrigins);
    if (!parsed.ok) return refuse(ctx, parsed, query);
    const { request } = parsed;
    const names = cookieNames(isSecure(ctx));
    const cookies = parseCookies(ctx.req);
    // Login CSRF: the form must come from a page this server showed to this browser.
    const csrfCookie = cookies.get(names.csrf) ?? "";
    const csrfField = form.get("csrf") ?? "";
    if (!csrfCookie || !sameToken(csrfCookie, csrfField)) {
      audit(ctx, { outcome: "refused", error: "csrf", clientId: request.client.clientId });
      return errorPage(
        ctx.res,
        403,
        "Sign-in form expired",
        "This sign-in form was not issued to this browser (or it expired). Start the sign-in again from the application.",
      );
    }
    const action = form.get("action") ?? "password";
    if (action === "continue") {
      const live = await signIn.session(cookies.get(names.session));
      if (!live) return showForm(ctx, request, 200, { error: "Your session has ended; sign in again." });
      return complete(ctx, request, live.user, "session", []);
    }
    if (action === "sso") {
      const sso = opts.sso?.();
      if (!sso) return showForm(ctx, request, 400, { error: "Single sign-on is not configured here." });
      return sso.begin(ctx, request);
    }
    const email = (form.get("email") ?? "").trim();
    const password = form.get("password") ?? "";
    const address = ctx.req.socket.remoteAddress ?? "unknown";
    const outcome = await signIn.checkPassword(email, password, address);
    if (!outcome.ok) {
      audit(ctx, {
        outcome: "refused",
        error: outcome.reason === "limited" ? "rate-limited" : "invalid-credentials",
        clientId: request.client.clientId,
        // Who was tried, and from where (never the password).
        user: email.slice(0, 254).toLowerCase(),
        address,
      });
      if (outcome.reason === "limited") {
        const minutes = Math.max(1, Math.ceil(outcome.retryAfterMs / 60_000));
        return showForm(ctx, request, 429, {
          email,
          error: `Too many failed sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
          headers: { "Retry-After": String(Math.ceil(outcome.retryAfterMs / 1000)) },
        });
      }
      return showForm(ctx, request, 401, { email, error: "Wrong email or password." });
    }
    // A new session id at every sign-in (no fixation); the old one, if any, ends.
    await signIn.endSession(cookies.get(names.session));
    const { id } = await signIn.startSession(outcome.user, "password");
    return complete(ctx, request, outcome.user, "password", [
      setCookie(ctx, names.session, id, SIGNIN_SESSION_LIFETIME_S),
    ]);
  }

  for (const path of AUTHORIZE_PATHS) {
    router.add("GET", path, get, "none");
    router.add("POST", path, post, "none");
  }
  return { signIn, complete };
}
