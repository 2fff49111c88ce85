/** Verification keys of Warrant's own tokens (Google's `/oauth2/v1/certs`, `/oauth2/v3/certs`) and OIDC discovery. */
import { exportJWK } from "jose";
import type { ServerDeps } from "../../deps.js";
import type { Router } from "../../http/router.js";
import { sendJson } from "../../http/server.js";

/** Verifiers cache the key set this long; a staged key is published longer than this before it signs. */
export const CERTS_MAX_AGE_S = 300;

export function registerCerts(router: Router, deps: ServerDeps) {
  const headers = { "Cache-Control": `public, max-age=${CERTS_MAX_AGE_S}, must-revalidate, no-transform` };
  router.add(
    "GET",
    "/oauth2/v1/certs",
    async (ctx) =>
      sendJson(
        ctx.res,
        200,
        Object.fromEntries(deps.keyRing.all().map((k) => [k.kid, k.certificatePem])),
        headers,
      ),
    "none",
  );
  router.add(
    "GET",
    "/oauth2/v3/certs",
    async (ctx) => {
      const keys = await Promise.all(
        deps.keyRing
          .all()
          .map(async (k) => ({ ...(await exportJWK(k.publicKey)), alg: k.alg, use: "sig", kid: k.kid })),
      );
      sendJson(ctx.res, 200, { keys }, headers);
    },
    "none",
  );
  router.add(
    "GET",
    "/.well-known/openid-configuration",
    async (ctx) =>
      sendJson(
        ctx.res,
        200,
        {
          issuer: deps.idTokenIssuer,
          authorization_endpoint: `${ctx.baseUrl}/o/oauth2/v2/auth`,
          token_endpoint: `${ctx.baseUrl}/token`,
          revocation_endpoint: `${ctx.baseUrl}/revoke`,
          jwks_uri: `${ctx.baseUrl}/oauth2/v3/certs`,
          tokeninfo_endpoint: `${ctx.baseUrl}/tokeninfo`,
          response_types_supported: ["code", "id_token"],
          code_challenge_methods_supported: ["S256"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
          grant_types_supported: [
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
          ],
          token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic", "none"],
          claims_supported: ["aud", "azp", "email", "email_verified", "exp", "iat", "iss", "sub"],
        },
        headers,
      ),
    "none",
  );
}
