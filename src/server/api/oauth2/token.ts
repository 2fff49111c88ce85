/**
 * The OAuth 2.0 token endpoint (`POST /token`, also Google's `/oauth2/v4/token`). This issue
 * serves the `refresh_token` grant (authorized_user credentials); the jwt-bearer grant for
 * service-account keys slots in beside it as another grant handler.
 */
import type { ServerResponse } from "node:http";
import { CLOUD_PLATFORM } from "../../../domain/compute/scopes.js";
import { ApiError } from "../../../domain/errors.js";
import { principalFromMember } from "../../../domain/iam/principal.js";
import {
  InvalidClient,
  InvalidGrant,
  InvalidRequest,
  InvalidScope,
  OAuthError,
  UnsupportedGrantType,
} from "../../../domain/oauth/errors.js";
import { secretMatches, sha256Hex } from "../../../domain/oauth/secrets.js";
import type { ServerDeps } from "../../deps.js";
import { readForm } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { issueAccessToken } from "../../tokens/issue.js";
import { authenticateFirstParty, authorizationCodeGrant, userIdToken } from "./authorization-code.js";
import { jwtBearerGrant } from "./jwt-bearer.js";

/** What a grant issued, for the audit log (never the token itself). */
export interface IssuedEvent {
  subject: string;
  tokenType: "access_token" | "id_token";
  scopes?: string[];
  audience?: string;
  clientId?: string;
  keyId?: string;
  jti?: string;
  exp?: number;
}

export interface GrantResult {
  body: Record<string, unknown>;
  issued: IssuedEvent;
}

type GrantHandler = (
  form: URLSearchParams,
  deps: ServerDeps,
  tokenUrls: readonly string[],
) => Promise<GrantResult>;

const grants: Record<string, GrantHandler> = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  "urn:ietf:params:oauth:grant-type:jwt-bearer": jwtBearerGrant,
};

function single(form: URLSearchParams, name: string, required = true): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw new InvalidRequest(`Parameter ${name} was given more than once.`);
  if (values.length === 0 || values[0] === "") {
    if (required) throw new InvalidRequest(`Missing required parameter: ${name}`);
    return undefined;
  }
  return values[0];
}

async function refreshTokenGrant(form: URLSearchParams, deps: ServerDeps): Promise<GrantResult> {
  const clientId = single(form, "client_id")!;
  // A first-party client (gcloud's, Warrant's CLI) refreshes the grant of a browser sign-in.
  const firstParty = authenticateFirstParty(form);
  const clientSecret = firstParty ? undefined : single(form, "client_secret")!;
  const refreshToken = single(form, "refresh_token")!;
  // From the user directory's cache: every revocation drops it there (and the change feed does so on
  // the other nodes), as for the client below.
  const record = await deps.users.refreshToken(sha256Hex(refreshToken));
  /** The client its access tokens name (`azp`): the grant's own record for a browser sign-in. */
  let azp = clientId;
  if (firstParty) {
    const grant = record ? await deps.repos.oauthClients.get(record.clientId) : undefined;
    if (!record || record.revoked || grant?.grantOf !== clientId || grant.revokeTime)
      throw new InvalidGrant("Token has been expired or revoked.");
    azp = grant.clientId;
  } else {
    // From the user directory's cache (dropped on revocation here and by the change feed elsewhere,
    // as for the bearer tokens of the same client): no datastore read for a known client.
    const client = await deps.users.client(clientId);
    // Compare even when the client is unknown so timing does not reveal which client ids exist.
    const secretOk = secretMatches(clientSecret!, client?.secretSha256 ?? "0".repeat(64));
    if (!client || !secretOk || client.grantOf) throw new InvalidClient("The OAuth client was not found.");
    if (!record || record.revoked || record.clientId !== clientId || client.revokeTime)
      throw new InvalidGrant("Token has been expired or revoked.");
  }
  // A user's grant ends with the user: deleted or disabled users get nothing.
  const subject = principalFromMember(record.subject);
  let uid: string | undefined;
  if (subject?.kind === "user") {
    const user = await deps.users.user(subject.email);
    // Issued to another user of that address (deleted since): never to this one.
    if (user?.state !== "ACTIVE" || (record.uid !== undefined && record.uid !== user.uniqueId))
      throw new InvalidGrant("Token has been expired or revoked.");
    uid = user.uniqueId;
  }
  const requested = single(form, "scope", false);
  let scopes = record.scopes;
  if (requested) {
    const asked = requested.split(/\s+/).filter(Boolean);
    const extra = asked.find(
      (s) =>
        !record.scopes.includes(s) &&
        !(record.scopes.includes(CLOUD_PLATFORM) && s.startsWith("https://www.googleapis.com/auth/")),
    );
    if (extra) throw new InvalidScope(`The requested scope ${extra} was not granted to this refresh token.`);
    scopes = asked;
  }
  const { token, claims } = await issueAccessToken(deps, {
    sub: record.subject,
    ...(uid !== undefined ? { uid } : {}),
    scopes,
    azp,
    via: "refresh_token",
  });
  // Spec §7.6: a browser sign-in's refresh answers an ID token too when the grant has openid.
  const idToken =
    firstParty && uid !== undefined && subject?.kind === "user" && record.scopes.includes("openid")
      ? await userIdToken(deps, clientId, uid, subject.email)
      : undefined;
  return {
    body: {
      access_token: token,
      expires_in: claims.exp - claims.iat,
      scope: scopes.join(" "),
      token_type: "Bearer",
      ...(idToken ? { id_token: idToken } : {}),
    },
    issued: {
      subject: record.subject,
      tokenType: "access_token",
      scopes,
      clientId,
      jti: claims.jti,
      exp: claims.exp,
    },
  };
}

/** An OAuth endpoint's JSON answer (token endpoint, STS): never cached, as RFC 6749 requires. */
export function sendOAuth(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    Pragma: "no-cache",
    ...headers,
  });
  res.end(text);
}

/**
 * What an OAuth endpoint answers for an error thrown under it: an OAuth error as it is; an API error
 * (a body over the limit, a malformed one) as `invalid_request` with its status and its headers, so
 * that a 413 still closes its connection; undefined for anything else (the adapter's 500).
 */
export function oauthErrorAnswer(
  err: unknown,
): { error: OAuthError; headers: Record<string, string> } | undefined {
  if (err instanceof OAuthError) return { error: err, headers: {} };
  if (err instanceof ApiError)
    return { error: new OAuthError("invalid_request", err.code, err.message), headers: err.headers };
  return undefined;
}

async function tokenEndpoint(ctx: RequestContext, deps: ServerDeps, tokenUrls: readonly string[]) {
  let grantType: string | undefined;
  const record = (entry: Record<string, unknown>) =>
    deps.audit.record({
      time: new Date().toISOString(),
      kind: "token",
      requestId: ctx.requestId,
      grant: grantType,
      ...entry,
    });
  try {
    const type = (ctx.req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/x-www-form-urlencoded")
      throw new InvalidRequest("The token endpoint accepts application/x-www-form-urlencoded bodies only.");
    const form = await readForm(ctx.req);
    // client_secret_basic (RFC 6749 §2.3.1), for clients other than gcloud (which posts both).
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(ctx.req.headers.authorization ?? "");
    if (basic) {
      if (form.has("client_secret"))
        throw new InvalidRequest("The client authenticated with more than one method.");
      const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) throw new InvalidClient("The OAuth client was not found.");
      const formDecode = (v: string) => {
        try {
          return decodeURIComponent(v.replace(/\+/g, " "));
        } catch {
          throw new InvalidClient("The OAuth client was not found.");
        }
      };
      const id = formDecode(decoded.slice(0, colon));
      if (form.has("client_id") && form.get("client_id") !== id)
        throw new InvalidRequest("client_id differs from the client's Basic credentials.");
      form.set("client_id", id);
      form.set("client_secret", formDecode(decoded.slice(colon + 1)));
    }
    grantType = single(form, "grant_type")!;
    const handler = Object.hasOwn(grants, grantType) ? grants[grantType] : undefined;
    if (!handler) throw new UnsupportedGrantType(grantType);
    const { body, issued } = await handler(form, deps, tokenUrls);
    record({ outcome: "issued", ...issued });
    sendOAuth(ctx.res, 200, body);
  } catch (err) {
    const answer = oauthErrorAnswer(err);
    if (!answer) throw err;
    const { error } = answer;
    record({ outcome: "refused", error: error.error, description: error.message });
    return sendOAuth(ctx.res, error.status, error.toJSON(), answer.headers);
  }
}

export function registerTokenEndpoint(router: Router, deps: ServerDeps) {
  // The token URLs of this server at its configured URLs are valid assertion audiences too (never
  // at a URL taken from the request's Host header, which would accept an assertion made for anyone).
  // Made on first use: registering a route reads nothing from `deps`.
  let tokenUrls: readonly string[] | undefined;
  const endpoint = (ctx: RequestContext) => {
    tokenUrls ??= deps.ownOrigins.flatMap((o) => ["/token", "/oauth2/v4/token"].map((p) => `${o}${p}`));
    return tokenEndpoint(ctx, deps, tokenUrls);
  };
  for (const path of ["/token", "/oauth2/v4/token"]) router.add("POST", path, endpoint, "none");
}
