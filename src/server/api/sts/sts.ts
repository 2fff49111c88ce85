/**
 * Security Token Service: `POST /v1/token` exchanges an external OIDC token for a short-lived
 * Warrant access token of a federated identity (RFC 8693), and `POST /v1/introspect` (RFC 7662)
 * answers about such a token (gcloud names its account from it). Both speak OAuth's error shape.
 */
import { CLOUD_PLATFORM, SCOPE_PREFIX } from "../../../domain/compute/scopes.js";
import { memberOf } from "../../../domain/iam/principal.js";
import {
  MappingRefused,
  mapIdentity,
  poolName,
  providerAudienceMatcher,
} from "../../../domain/iam/workload-identity.js";
import {
  InvalidGrant,
  InvalidRequest,
  OAuthError,
  UnsupportedGrantType,
} from "../../../domain/oauth/errors.js";
import { SubjectTokenRejected, verifySubjectToken } from "../../../domain/tokens/subject-token.js";
import type { BearerAuthenticator } from "../../auth/bearer-authenticator.js";
import {
  ProviderKeysUnavailable,
  type WorkloadIdentityDirectory,
} from "../../auth/workload-identity-directory.js";
import type { ServerDeps } from "../../deps.js";
import { readForm } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { issueAccessToken } from "../../tokens/issue.js";
import { resolveProject } from "../iam/workload-identity-pools.js";
import { oauthErrorAnswer, sendOAuth } from "../oauth2/token.js";

export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const SUBJECT_TYPES = ["urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token"];
/** Without sessionDuration, an STS token lives as long as its subject token, at most this. */
export const MAX_STS_LIFETIME_S = 3600;

const AUDIENCE =
  /^(?:\/\/|https:\/\/)iam\.googleapis\.com\/projects\/([^/]+)\/locations\/global\/workloadIdentityPools\/([^/]+)\/providers\/([^/]+)$/;

class InvalidTarget extends OAuthError {
  constructor(reason: string) {
    super(
      "invalid_target",
      400,
      `The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist. (${reason})`,
    );
  }
}

function single(form: URLSearchParams, name: string, required = true): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw new InvalidRequest(`Parameter ${name} was given more than once.`);
  if (values.length === 0 || values[0] === "") {
    if (required) throw new InvalidRequest(`Missing required parameter: ${name}`);
    return undefined;
  }
  return values[0];
}

async function readStsForm(ctx: RequestContext) {
  const type = (ctx.req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded")
    throw new InvalidRequest("The request body must be application/x-www-form-urlencoded.");
  return readForm(ctx.req);
}

/** `options` arrives single- (Node) or double-encoded (Python): parse, else decode and parse. */
function parseOptions(raw: string | undefined) {
  if (raw === undefined) return;
  for (const text of [
    raw,
    (() => {
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    })(),
  ]) {
    try {
      const v: unknown = JSON.parse(text);
      if (v !== null && typeof v === "object" && !Array.isArray(v)) return;
    } catch {}
  }
  throw new InvalidRequest("options must be a JSON object.");
}

export function registerSts(
  router: Router,
  deps: ServerDeps,
  wi: WorkloadIdentityDirectory,
  authenticator: BearerAuthenticator,
) {
  router.add(
    "POST",
    "/v1/token",
    async (ctx) => {
      let audience: string | undefined;
      const record = (entry: Record<string, unknown>) =>
        deps.audit.record({
          time: new Date().toISOString(),
          kind: "token",
          requestId: ctx.requestId,
          grant: "token-exchange",
          ...(audience !== undefined ? { audience } : {}),
          ...entry,
        });
      try {
        const form = await readStsForm(ctx);
        const grant = single(form, "grant_type")!;
        if (grant !== TOKEN_EXCHANGE) throw new UnsupportedGrantType(grant);
        audience = single(form, "audience")!;
        const requested = single(form, "requested_token_type")!;
        if (requested !== ACCESS_TOKEN_TYPE)
          throw new InvalidRequest(
            `Invalid value for "requested_token_type": only ${ACCESS_TOKEN_TYPE} is supported.`,
          );
        const subjectType = single(form, "subject_token_type")!;
        if (!SUBJECT_TYPES.includes(subjectType))
          throw new InvalidRequest(
            `Invalid value for "subject_token_type": OIDC providers accept ${SUBJECT_TYPES.join(" or ")}.`,
          );
        // Files are read verbatim by the clients: a trailing newline comes along.
        const subjectToken = single(form, "subject_token")!.trim();
        parseOptions(single(form, "options", false));
        const scopeText = single(form, "scope", false);
        // OpenID scopes (gcloud sends `openid`) name no API; the token gets the API scopes asked for.
        const scopes = [...new Set((scopeText ?? "").split(/\s+/).filter((s) => s.startsWith(SCOPE_PREFIX)))];
        if (scopes.length === 0) scopes.push(CLOUD_PLATFORM);
        const m = AUDIENCE.exec(audience);
        if (!m)
          throw new InvalidRequest(
            'Invalid value for "audience". This value should be the full resource name of the Identity Provider: //iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER.',
          );
        const [, projectGiven, poolId, providerId] = m as unknown as [string, string, string, string];
        const project = await resolveProject(deps, projectGiven);
        if (!project) throw new InvalidTarget(`project ${projectGiven} does not exist`);
        const pool = await deps.repos.workloadIdentityPools.get(poolName(project.projectNumber, poolId));
        if (!pool) throw new InvalidTarget(`workload identity pool ${poolId} does not exist`);
        if (pool.state !== "ACTIVE") throw new InvalidTarget(`workload identity pool ${poolId} is deleted`);
        if (pool.disabled) throw new InvalidTarget(`workload identity pool ${poolId} is disabled`);
        const provider = await deps.repos.workloadIdentityPoolProviders.get(
          `${pool.name}/providers/${providerId}`,
        );
        if (!provider) throw new InvalidTarget(`provider ${providerId} does not exist in pool ${poolId}`);
        if (provider.state !== "ACTIVE") throw new InvalidTarget(`provider ${providerId} is deleted`);
        if (provider.disabled) throw new InvalidTarget(`provider ${providerId} is disabled`);

        const nowSeconds = Math.floor(Date.now() / 1000);
        const rules = {
          issuer: provider.oidc.issuerUri,
          audience: providerAudienceMatcher(provider, project.projectId, project.projectNumber),
          nowSeconds,
        };
        let claims: Record<string, unknown>;
        try {
          try {
            claims = await verifySubjectToken(subjectToken, {
              ...rules,
              keys: (await wi.keysFor(provider)).keys,
            });
          } catch (err) {
            if (!(err instanceof SubjectTokenRejected) || err.unknownKid === undefined) throw err;
            // A key rotated at the issuer: refetch (rate-limited) and try once more.
            claims = await verifySubjectToken(subjectToken, {
              ...rules,
              keys: (await wi.keysFor(provider, true)).keys,
            });
          }
        } catch (err) {
          if (err instanceof SubjectTokenRejected) throw new InvalidGrant(err.message);
          if (err instanceof ProviderKeysUnavailable)
            throw new InvalidGrant(`The provider's signing keys could not be obtained: ${err.message}`);
          throw err;
        }
        let principal: ReturnType<typeof mapIdentity>;
        try {
          principal = mapIdentity(provider, pool.name, claims);
        } catch (err) {
          if (err instanceof MappingRefused)
            throw new InvalidGrant(`The subject token was refused: ${err.message}.`);
          throw err;
        }
        const session = pool.sessionDuration ? Number.parseInt(pool.sessionDuration, 10) : undefined;
        const remaining = (claims.exp as number) - nowSeconds;
        const lifetime = Math.max(
          1,
          Math.min(session ?? Math.min(remaining, MAX_STS_LIFETIME_S), deps.accessTokenLifetimeSeconds),
        );
        const subject = memberOf(principal);
        const { token, claims: minted } = await issueAccessToken(deps, {
          sub: subject,
          uid: pool.uid,
          scopes,
          azp: provider.name,
          via: "sts",
          lifetimeSeconds: lifetime,
          federated: {
            groups: [...principal.poolGroups],
            attributes: { ...principal.attributes } as Record<string, string | string[]>,
          },
        });
        record({
          outcome: "issued",
          subject,
          tokenType: "access_token",
          provider: provider.name,
          scopes,
          jti: minted.jti,
          exp: minted.exp,
        });
        sendOAuth(ctx.res, 200, {
          access_token: token,
          issued_token_type: ACCESS_TOKEN_TYPE,
          token_type: "Bearer",
          expires_in: minted.exp - minted.iat,
        });
      } catch (err) {
        const answer = oauthErrorAnswer(err);
        if (!answer) throw err;
        const { error } = answer;
        record({ outcome: "refused", error: error.error, description: error.message });
        sendOAuth(ctx.res, error.status, error.toJSON(), answer.headers);
      }
      return undefined;
    },
    "none",
  );

  router.add(
    "POST",
    "/v1/introspect",
    async (ctx) => {
      try {
        const form = await readStsForm(ctx);
        const token = single(form, "token")!.trim();
        let caller: Awaited<ReturnType<BearerAuthenticator["verify"]>>;
        try {
          caller = await authenticator.verify(token);
        } catch {
          sendOAuth(ctx.res, 200, { active: false });
          return undefined;
        }
        const t = caller.token!;
        sendOAuth(ctx.res, 200, {
          active: true,
          scope: t.scopes.join(" "),
          client_id: t.azp,
          username: memberOf(caller.principal),
          sub: memberOf(caller.principal),
          iss: deps.tokenIssuer,
          iat: t.iat,
          exp: t.exp,
        });
      } catch (err) {
        const answer = oauthErrorAnswer(err);
        if (!answer) throw err;
        sendOAuth(ctx.res, answer.error.status, answer.error.toJSON(), answer.headers);
      }
      return undefined;
    },
    "none",
  );
}
