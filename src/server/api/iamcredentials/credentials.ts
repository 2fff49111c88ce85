/**
 * IAM Credentials API: short-lived credentials for a service account, issued to a caller allowed
 * to impersonate it (roles/iam.serviceAccountTokenCreator), optionally through a delegation chain
 * checked hop by hop.
 */
import { createSign } from "node:crypto";
import { SignJWT } from "jose";
import { ApiError, InvalidArgument, NotFound } from "../../../domain/errors.js";
import { memberOf, serviceAccountPrincipal } from "../../../domain/iam/principal.js";
import { parseScopes } from "../../../domain/oauth/assertion.js";
import type { ServiceAccount } from "../../../domain/service-account.js";
import { DEFAULT_ACCESS_TOKEN_LIFETIME_S } from "../../../domain/tokens/access-token.js";
import { mintIdToken } from "../../../domain/tokens/id-token.js";
import { recordIssued } from "../../audit.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { explanation } from "../../iam/access-control.js";
import { issueAccessToken } from "../../tokens/issue.js";
import { serviceAccountRef } from "../iam/service-accounts.js";

const NAME = /^projects\/-\/serviceAccounts\/([^/]+)$/;

export function registerIamCredentials(router: Router, deps: ServerDeps) {
  async function lookup(id: string): Promise<ServiceAccount | undefined> {
    return /^\d+$/.test(id)
      ? deps.repos.serviceAccounts.getByUniqueId(undefined, id)
      : deps.repos.serviceAccounts.get(id);
  }

  /**
   * Checks the chain caller → delegates… → target: each hop into a delegate needs
   * iam.serviceAccounts.implicitDelegation on it, the last hop needs `permission` on the target.
   */
  async function authorizeChain(ctx: RequestContext, permission: string, body: Record<string, unknown>) {
    if (ctx.params.project !== "-")
      throw new InvalidArgument(
        `The resource name must be projects/-/serviceAccounts/{ACCOUNT}; '${ctx.params.project}' is not allowed as the project.`,
      );
    const target = await lookup(ctx.params.account!);
    const raw = body.delegates ?? [];
    if (!Array.isArray(raw) || raw.some((d) => typeof d !== "string" || !NAME.test(d)))
      throw new InvalidArgument("delegates must be a list of projects/-/serviceAccounts/{ACCOUNT} names.");
    const delegates: ServiceAccount[] = [];
    for (const d of raw as string[]) {
      const sa = await lookup(NAME.exec(d)![1]!);
      if (!sa) throw new NotFound(`Delegate ${d} not found.`);
      delegates.push(sa);
    }
    if (!target) {
      // Do not confirm existence to callers who could not impersonate anyway.
      await deps.access.require(
        ctx,
        permission,
        { chain: [`projects/-/serviceAccounts/${ctx.params.account}`] },
        denied,
      );
      throw new NotFound(`Service account ${ctx.params.account} not found.`);
    }
    const hops = [...delegates, target];
    for (const [i, sa] of hops.entries()) {
      const needed = i === hops.length - 1 ? permission : "iam.serviceAccounts.implicitDelegation";
      if (i === 0) await deps.access.require(ctx, needed, serviceAccountRef(deps, sa), denied);
      else {
        const from = hops[i - 1]!;
        const d = await deps.access.decide(
          serviceAccountPrincipal(from.email, undefined, from.uniqueId),
          needed,
          serviceAccountRef(deps, sa),
        );
        ctx.checks.push({ permission: needed, resource: d.resource, allowed: d.allowed });
        if (!d.allowed) {
          const err = new ApiError(403, "PERMISSION_DENIED", "forbidden", denied(d));
          err.explanation = explanation(d);
          throw err;
        }
      }
    }
    if (target.disabled)
      throw new ApiError(
        400,
        "FAILED_PRECONDITION",
        "failedPrecondition",
        `Service account ${target.email} is disabled.`,
      );
    return target;
  }

  const base = "/v1/projects/{project}/serviceAccounts/{account}";

  router.add("POST", `${base}:generateAccessToken`, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const scope = body.scope;
    if (!Array.isArray(scope) || scope.length === 0 || scope.some((s) => typeof s !== "string"))
      throw new InvalidArgument("scope must be a non-empty list of OAuth scopes.");
    const scopes = parseScopes((scope as string[]).join(" "));
    if (typeof scopes === "string") throw new InvalidArgument(scopes);
    const lifetime = parseLifetime(body.lifetime);
    const target = await authorizeChain(ctx, "iam.serviceAccounts.getAccessToken", body);
    const { token, claims } = await issueAccessToken(deps, {
      sub: `serviceAccount:${target.email}`,
      uid: target.uniqueId,
      scopes,
      azp: target.uniqueId,
      via: "impersonation",
      lifetimeSeconds: Math.min(lifetime, deps.accessTokenLifetimeSeconds),
    });
    return {
      accessToken: token,
      expireTime: new Date(claims.exp * 1000).toISOString().replace(/\.\d+Z$/, "Z"),
    };
  });

  router.add("POST", `${base}:signBlob`, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    if (typeof body.payload !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(body.payload))
      throw new InvalidArgument("payload must be base64-encoded bytes.");
    const bytes = Buffer.from(body.payload, "base64");
    const target = await authorizeChain(ctx, "iam.serviceAccounts.signBlob", body);
    const signer = await deps.systemKeys.signerFor(target);
    const signedBlob = createSign("sha256").update(bytes).sign(signer.privateKey).toString("base64");
    recordSigning(ctx, target, "signBlob", signer.keyId, body);
    return { keyId: signer.keyId, signedBlob };
  });

  router.add("POST", `${base}:signJwt`, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const claims = signJwtClaims(body.payload, Math.floor(Date.now() / 1000));
    if (typeof claims === "string") throw new InvalidArgument(claims);
    const target = await authorizeChain(ctx, "iam.serviceAccounts.signJwt", body);
    const signer = await deps.systemKeys.signerFor(target);
    const signedJwt = await new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: signer.keyId })
      .sign(signer.privateKey);
    recordSigning(ctx, target, "signJwt", signer.keyId, body);
    return { keyId: signer.keyId, signedJwt };
  });

  function recordSigning(
    ctx: RequestContext,
    target: ServiceAccount,
    what: string,
    keyId: string,
    body: Record<string, unknown>,
  ) {
    recordIssued(deps.audit, ctx.requestId, "impersonation", {
      subject: `serviceAccount:${target.email}`,
      tokenType: what,
      keyId,
      actor: memberOf(ctx.caller.principal),
      delegates: body.delegates ?? [],
    });
  }

  router.add("POST", `${base}:generateIdToken`, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    if (typeof body.audience !== "string" || body.audience === "")
      throw new InvalidArgument("audience is required.");
    if (body.includeEmail !== undefined && typeof body.includeEmail !== "boolean")
      throw new InvalidArgument("includeEmail must be a boolean.");
    const target = await authorizeChain(ctx, "iam.serviceAccounts.getOpenIdToken", body);
    const token = await mintIdToken(deps.keyRing.primary(), deps.idTokenIssuer, {
      audience: body.audience,
      subject: target.uniqueId,
      azp: target.uniqueId,
      ...(body.includeEmail ? { email: target.email } : {}),
    });
    recordIssued(deps.audit, ctx.requestId, "impersonation", {
      subject: `serviceAccount:${target.email}`,
      tokenType: "id_token",
      audience: body.audience,
      actor: memberOf(ctx.caller.principal),
      delegates: body.delegates ?? [],
    });
    return { token };
  });
}

/** signJwt: an `exp` must be an integer, not past, at most 12 h ahead; absent, it is now + 1 h. */
export const MAX_SIGNED_JWT_AHEAD_S = 12 * 3600;

export function signJwtClaims(payload: unknown, nowSeconds: number): Record<string, unknown> | string {
  if (typeof payload !== "string" || payload === "")
    return "payload must be a JSON object serialized as a string.";
  let claims: unknown;
  try {
    claims = JSON.parse(payload);
  } catch {
    return "payload is not valid JSON.";
  }
  if (claims === null || typeof claims !== "object" || Array.isArray(claims))
    return "payload must be a JSON object.";
  const c = claims as Record<string, unknown>;
  if (c.exp === undefined) return { ...c, exp: nowSeconds + 3600 };
  if (typeof c.exp !== "number" || !Number.isInteger(c.exp))
    return "exp must be an integer (seconds since the epoch).";
  if (c.exp < nowSeconds) return "exp is in the past.";
  if (c.exp > nowSeconds + MAX_SIGNED_JWT_AHEAD_S) return "exp may be at most 12 hours in the future.";
  return c;
}

const denied = (d: { permission: string; reason: string }) =>
  `Permission '${d.permission}' denied on resource (or it may not exist). ${d.reason}`;

/** `"3600s"` → 3600; Google's Duration JSON form. At most one hour. */
export function parseLifetime(raw: unknown): number {
  if (raw === undefined || raw === null) return DEFAULT_ACCESS_TOKEN_LIFETIME_S;
  const m = typeof raw === "string" ? /^(\d+)(?:\.\d+)?s$/.exec(raw) : null;
  if (!m) throw new InvalidArgument(`lifetime must be a duration like "3600s"; got ${JSON.stringify(raw)}.`);
  const s = Number(m[1]);
  if (s < 1 || s > 3600)
    throw new InvalidArgument(`lifetime must be between 1s and 3600s; got ${raw as string}.`);
  return s;
}
