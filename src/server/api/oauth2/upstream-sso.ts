/**
 * Single sign-on through the installation's upstream OpenID Connect provider (the corporate IdP):
 * the sign-in page's "Sign in with …" sends the browser there with Warrant's own state, nonce and
 * PKCE; `GET /o/oauth2/sso/callback` takes the code back, redeems it at the upstream's token
 * endpoint, verifies the ID token (signature against the upstream's JWKS, issuer, audience,
 * expiry through the shared claim checks, nonce), requires `email_verified` and an allowed
 * e-mail domain, and signs the browser in as `user:EMAIL` — adding the user to the directory on
 * first sign-in. Then the original authorization request is completed as for a password sign-in.
 *
 * The state is one-time and bound to the browser by a cookie (RFC 9700 §4.7.1); pending sign-ins
 * live in the datastore for 10 minutes (the PKCE verifier sealed under the master key), so the
 * upstream's callback may reach any node of the installation, and each is taken once.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { repositories, sweepEnded } from "../../../datastore/repositories.js";
import { parseJwks } from "../../../domain/iam/workload-identity.js";
import { type PendingSsoSignIn, SIGNIN_SESSION_LIFETIME_S } from "../../../domain/oauth/authorization.js";
import { newVerifier, s256 } from "../../../domain/oauth/pkce.js";
import { seal, unseal } from "../../../domain/tokens/sealed.js";
import { SubjectTokenRejected, verifySubjectToken } from "../../../domain/tokens/subject-token.js";
import { makeUser, normalizeEmail, type User } from "../../../domain/user.js";
import { fetchJsonBounded, ProviderKeysUnavailable } from "../../auth/workload-identity-directory.js";
import type { ServerDeps } from "../../deps.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { addUser } from "../users/users.js";
import {
  type Authorization,
  type AuthorizationRequest,
  cookieNames,
  isSecure,
  parseAuthorizationRequest,
  parseCookies,
  setCookie,
  type UpstreamSignIn,
} from "./authorize.js";
import { errorPage } from "./signin-page.js";

export const SSO_CALLBACK_PATH = "/o/oauth2/sso/callback";
const PENDING_TTL_MS = 10 * 60 * 1000;
/** Ended pending sign-ins are deleted at most this often, a page at a time. */
const SWEEP_EVERY_MS = 60_000;

export interface SsoConfig {
  /** The upstream's issuer URL; its discovery document is `ISSUER/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  /** Absent: a public client at the upstream (PKCE only). */
  clientSecret?: string;
  /** E-mail domains allowed to sign in (lower-case, exact). */
  allowedDomains: readonly string[];
  /** The button's label, "Sign in with NAME" (default the issuer's host). */
  name?: string;
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
}

interface Pending {
  verifier: string;
  nonce: string;
  /** The authorization request of the client that sent the browser here. */
  query: string;
  redirectUri: string;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** The e-mail's domain if it is allowed, else undefined. */
export function allowedDomainOf(email: string, allowed: readonly string[]): string | undefined {
  const domain = email.slice(email.lastIndexOf("@") + 1).toLowerCase();
  return email.includes("@") && allowed.includes(domain) ? domain : undefined;
}

export class UpstreamSso implements UpstreamSignIn {
  readonly label: string;
  private discovery?: { doc: Discovery; at: number };
  private keys?: { jwks: ReturnType<typeof parseJwks>; at: number };
  private lastSweep = 0;

  constructor(
    private readonly deps: ServerDeps,
    readonly config: SsoConfig,
    /** Seals the PKCE verifiers of pending sign-ins in the datastore. */
    private readonly masterKey: Buffer,
  ) {
    this.label = config.name ?? new URL(config.issuer).host;
  }

  /** Remembers a sign-in that left for the upstream, for whichever node its callback reaches. */
  private async remember(state: string, p: Pending): Promise<void> {
    await this.sweep();
    const key = sha(state);
    const record: PendingSsoSignIn = {
      stateSha256: key,
      verifier: seal(this.masterKey, p.verifier, `sso-signin:${key}`),
      nonce: p.nonce,
      query: p.query,
      redirectUri: p.redirectUri,
      expiresAt: Date.now() + PENDING_TTL_MS,
    };
    await repositories(this.deps.store).ssoSignIns.put(record);
  }

  /** Takes the pending sign-in of `state` (once, at whichever node), unless it has ended. */
  private async take(state: string): Promise<Pending | undefined> {
    const key = sha(state);
    const found = await this.deps.store.transaction(async (tx) => {
      const r = repositories(tx).ssoSignIns;
      const p = await r.get(key);
      if (p) await r.delete(key);
      return p;
    });
    if (!found || found.expiresAt <= Date.now()) return undefined;
    try {
      return {
        verifier: unseal(this.masterKey, found.verifier, `sso-signin:${key}`),
        nonce: found.nonce,
        query: found.query,
        redirectUri: found.redirectUri,
      };
    } catch {
      // Sealed under another master key (re-sealed since): the browser starts again.
      return undefined;
    }
  }

  /** Deletes ended pending sign-ins, at most once a minute on this node. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    const r = repositories(this.deps.store).ssoSignIns;
    await sweepEnded(r.page, r.delete, (p) => p.expiresAt <= now);
  }

  private async discover(): Promise<Discovery> {
    if (this.discovery && Date.now() - this.discovery.at < 3600_000) return this.discovery.doc;
    const url = `${this.config.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    const doc = (await fetchJsonBounded(url)) as Partial<Discovery> & { issuer?: unknown };
    if (doc?.issuer !== this.config.issuer)
      throw new ProviderKeysUnavailable(`the discovery document at ${url} names another issuer`);
    for (const k of ["authorization_endpoint", "token_endpoint", "jwks_uri"] as const)
      if (typeof doc[k] !== "string") throw new ProviderKeysUnavailable(`${url} has no ${k}`);
    this.discovery = { doc: doc as Discovery, at: Date.now() };
    return this.discovery.doc;
  }

  private async jwks(refresh: boolean) {
    const fresh = this.keys && Date.now() - this.keys.at < (refresh ? 30_000 : 300_000);
    if (fresh && typeof this.keys!.jwks !== "string") return this.keys!.jwks;
    const { jwks_uri } = await this.discover();
    const jwks = parseJwks(JSON.stringify(await fetchJsonBounded(jwks_uri)), true);
    if (typeof jwks === "string") throw new ProviderKeysUnavailable(`${jwks_uri}: ${jwks}`);
    this.keys = { jwks, at: Date.now() };
    return jwks;
  }

  /** Where the upstream sends the browser back: this server at the origin the browser used, if it is ours. */
  private callbackUrl(ctx: RequestContext) {
    const origin = this.deps.ownOrigins.includes(ctx.baseUrl) ? ctx.baseUrl : this.deps.ownOrigins[0]!;
    return `${origin}${SSO_CALLBACK_PATH}`;
  }

  async begin(ctx: RequestContext, request: AuthorizationRequest): Promise<void> {
    let discovery: Discovery;
    try {
      discovery = await this.discover();
    } catch (e) {
      this.deps.log(`sign-in: upstream ${this.config.issuer} unavailable: ${(e as Error).message}`);
      return errorPage(
        ctx.res,
        502,
        "Single sign-on unavailable",
        `${this.label} cannot be reached right now. Try again later, or sign in with a password.`,
      );
    }
    const state = randomBytes(24).toString("base64url");
    const nonce = randomBytes(24).toString("base64url");
    const verifier = newVerifier();
    const redirectUri = this.callbackUrl(ctx);
    await this.remember(state, { verifier, nonce, query: request.query, redirectUri });
    const url = new URL(discovery.authorization_endpoint);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: this.config.clientId,
      redirect_uri: redirectUri,
      scope: "openid email profile",
      state,
      nonce,
      code_challenge: s256(verifier),
      code_challenge_method: "S256",
    }))
      url.searchParams.set(k, v);
    ctx.res.writeHead(303, {
      Location: url.href,
      "Cache-Control": "no-store",
      "Referrer-Policy": "no-referrer",
      "Set-Cookie": setCookie(ctx, ssoCookie(ctx), state, PENDING_TTL_MS / 1000),
    });
    ctx.res.end();
  }

  /** The callback's work: a verified, allowed user, or a page explaining why not. */
  async finish(
    ctx: RequestContext,
  ): Promise<
    { user: User; request: AuthorizationRequest } | { status: number; title: string; message: string }
  > {
    const q = ctx.url.searchParams;
    const state = q.get("state") ?? "";
    const cookie = parseCookies(ctx.req).get(ssoCookie(ctx)) ?? "";
    if (!state || !cookie || !same(state, cookie))
      return {
        status: 400,
        title: "Sign-in not started here",
        message: "This sign-in response does not belong to a sign-in started in this browser.",
      };
    const pending = await this.take(state);
    if (!pending)
      return {
        status: 400,
        title: "Sign-in expired",
        message: "The sign-in took too long or was already used.",
      };
    const parsed = parseAuthorizationRequest(pending.query, this.deps.ownOrigins);
    if (!parsed.ok)
      return {
        status: 400,
        title: "Sign-in request not valid",
        message: "The application's request is no longer valid.",
      };
    const upstreamError = q.get("error");
    if (upstreamError)
      return {
        status: 403,
        title: "Sign-in refused",
        message: `${this.label} did not sign you in (${upstreamError.slice(0, 100)}).`,
      };
    const code = q.get("code");
    if (!code)
      return { status: 400, title: "Sign-in failed", message: `${this.label} sent no authorization code.` };

    let claims: Record<string, unknown>;
    try {
      const { token_endpoint } = await this.discover();
      const form = new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: pending.redirectUri,
        code_verifier: pending.verifier,
      });
      const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
      // client_secret_basic, OpenID Connect's default (RFC 6749 §2.3.1: form-encoded, then base64).
      if (this.config.clientSecret !== undefined)
        headers.authorization = `Basic ${Buffer.from(
          `${encodeURIComponent(this.config.clientId)}:${encodeURIComponent(this.config.clientSecret)}`,
        ).toString("base64")}`;
      else form.set("client_id", this.config.clientId);
      const answer = (await fetchJsonBounded(token_endpoint, 5000, {
        method: "POST",
        headers,
        body: form.toString(),
      })) as { id_token?: unknown; error?: unknown };
      if (typeof answer.id_token !== "string")
        throw new SubjectTokenRejected(
          `the token endpoint answered ${String(answer.error ?? "no id_token")}`,
        );
      const verify = async (refresh: boolean) =>
        verifySubjectToken(answer.id_token as string, {
          issuer: this.config.issuer,
          audience: (a) => a === this.config.clientId,
          keys: (await this.jwks(refresh)).keys,
          nowSeconds: Math.floor(Date.now() / 1000),
        });
      try {
        claims = await verify(false);
      } catch (e) {
        if (!(e instanceof SubjectTokenRejected) || !e.unknownKid) throw e;
        claims = await verify(true);
      }
      if (typeof claims.nonce !== "string" || !same(claims.nonce, pending.nonce))
        throw new SubjectTokenRejected("the ID token's nonce is not the one this sign-in sent");
      // Several audiences: this client must be the authorized party (OIDC Core §3.1.3.7).
      if (Array.isArray(claims.aud) && claims.aud.length > 1 && claims.azp !== this.config.clientId)
        throw new SubjectTokenRejected("the ID token's azp is not this client");
    } catch (e) {
      if (!(e instanceof SubjectTokenRejected || e instanceof ProviderKeysUnavailable)) throw e;
      const why = e.message.replace(/subject token/g, "ID token");
      this.deps.log(`sign-in: upstream ${this.config.issuer}: ${why}`);
      return {
        status: 502,
        title: "Sign-in failed",
        message: `${this.label}'s answer could not be verified: ${why}.`,
      };
    }
    const email = typeof claims.email === "string" ? normalizeEmail(claims.email) : "";
    if (!email)
      return {
        status: 403,
        title: "Sign-in refused",
        message: `${this.label} did not say which e-mail address you use.`,
      };
    if (claims.email_verified !== true)
      return {
        status: 403,
        title: "Sign-in refused",
        message: `${this.label} has not verified the e-mail address ${email}, so it cannot be used here.`,
      };
    if (!allowedDomainOf(email, this.config.allowedDomains))
      return {
        status: 403,
        title: "Account not allowed",
        message: `${email} is not allowed to sign in to this installation: only addresses at ${this.config.allowedDomains.join(", ")} are. Sign in with another account, or ask the administrator.`,
      };
    let user = await this.deps.repos.users.get(email);
    if (!user) {
      const fresh = makeUser(
        email,
        typeof claims.name === "string" && claims.name.length <= 100 ? { displayName: claims.name } : {},
      );
      if (await addUser(this.deps, fresh)) {
        this.deps.audit.record({
          time: new Date().toISOString(),
          kind: "admin",
          requestId: ctx.requestId,
          action: "users.create",
          user: email,
          via: "sso",
          issuer: this.config.issuer,
        });
        user = fresh;
      } else user = await this.deps.repos.users.get(email);
    }
    if (user?.state !== "ACTIVE")
      return {
        status: 403,
        title: "Account disabled",
        message: `The account ${email} is disabled in this installation.`,
      };
    return { user, request: parsed.request };
  }
}

const ssoCookie = (ctx: RequestContext) => cookieNames(isSecure(ctx)).sso;

export function registerSsoCallback(
  router: Router,
  deps: ServerDeps,
  authorization: Authorization,
  sso: UpstreamSso | undefined,
) {
  router.add(
    "GET",
    SSO_CALLBACK_PATH,
    async (ctx) => {
      const audit = (entry: Record<string, unknown>) =>
        deps.audit.record({
          time: new Date().toISOString(),
          kind: "signin",
          requestId: ctx.requestId,
          method: "sso",
          ...entry,
        });
      if (!sso)
        return errorPage(
          ctx.res,
          404,
          "Single sign-on is not configured",
          "This server has no upstream identity provider.",
        );
      const result = await sso.finish(ctx);
      const clear = `${setCookie(ctx, ssoCookie(ctx), "", 0)}`;
      if ("status" in result) {
        audit({ outcome: "refused", error: result.title });
        ctx.res.setHeader("Set-Cookie", clear);
        return errorPage(ctx.res, result.status, result.title, result.message);
      }
      const names = cookieNames(isSecure(ctx));
      await authorization.signIn.endSession(parseCookies(ctx.req).get(names.session));
      const { id } = await authorization.signIn.startSession(result.user, "sso");
      await authorization.complete(ctx, result.request, result.user, "sso", [
        clear,
        setCookie(ctx, names.session, id, SIGNIN_SESSION_LIFETIME_S),
      ]);
    },
    "none",
  );
}
