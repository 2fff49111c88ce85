/**
 * The jwt-bearer grant: a service account proves itself with an assertion signed by one of its
 * keys and receives an access token, or an ID token when the assertion names a target_audience.
 */
import { decodeProtectedHeader } from "jose";
import { CLOUD_PLATFORM } from "../../../domain/compute/scopes.js";
import { type AssertionClaims, assertionProblem, parseScopes } from "../../../domain/oauth/assertion.js";
import { InvalidGrant, InvalidRequest, InvalidScope } from "../../../domain/oauth/errors.js";
import { mintIdToken } from "../../../domain/tokens/id-token.js";
import { rs256Verifies } from "../../../domain/tokens/jws.js";
import type { UsableKey } from "../../auth/service-account-directory.js";
import type { ServerDeps } from "../../deps.js";
import { issueAccessToken } from "../../tokens/issue.js";
import type { GrantResult } from "./token.js";

export const MAX_ASSERTION_BYTES = 8192;

export async function jwtBearerGrant(
  form: URLSearchParams,
  deps: ServerDeps,
  tokenUrls: readonly string[],
): Promise<GrantResult> {
  const assertion = form.get("assertion");
  if (!assertion) throw new InvalidRequest("Missing required parameter: assertion");
  if (assertion.length > MAX_ASSERTION_BYTES)
    throw new InvalidGrant("Invalid JWT: the assertion is too large.");
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: AssertionClaims;
  try {
    header = decodeProtectedHeader(assertion);
    claims = JSON.parse(
      Buffer.from(assertion.split(".")[1] ?? "", "base64url").toString("utf8"),
    ) as AssertionClaims;
  } catch {
    throw new InvalidGrant("Invalid JWT: the assertion is not a well-formed JWS.");
  }
  if (header.alg !== "RS256") throw new InvalidGrant("Invalid JWT Signature.");
  if (claims === null || typeof claims !== "object")
    throw new InvalidGrant("Invalid JWT: the payload is not a JSON object.");
  const email = typeof claims.iss === "string" ? claims.iss.toLowerCase() : "";
  const sa = email ? await deps.directory.account(email) : undefined;
  if (!sa) throw new InvalidGrant("Invalid grant: account not found");
  if (sa.disabled) throw new InvalidGrant(`Invalid grant: service account ${sa.email} is disabled.`);

  // Node's clients send no kid: then any enabled key of the issuer may have signed it.
  let candidates: UsableKey[];
  if (typeof header.kid === "string") {
    const k = await deps.directory.key(header.kid);
    candidates = k && k.key.email === sa.email ? [k] : [];
  } else candidates = await deps.directory.keysOf(sa.email);
  let signer: string | undefined;
  for (const c of candidates)
    if (rs256Verifies(assertion, c.publicKey)) {
      signer = c.key.keyId;
      break;
    }
  if (!signer) throw new InvalidGrant("Invalid JWT Signature.");

  const problem = assertionProblem(claims, Math.floor(Date.now() / 1000), tokenUrls);
  if (problem) throw new InvalidGrant(problem);

  if (typeof claims.target_audience === "string") {
    const idToken = await mintIdToken(deps.keyRing.primary(), deps.idTokenIssuer, {
      audience: claims.target_audience,
      subject: sa.uniqueId,
      azp: sa.uniqueId,
      email: sa.email,
    });
    return {
      body: { id_token: idToken },
      issued: {
        subject: `serviceAccount:${sa.email}`,
        tokenType: "id_token",
        audience: claims.target_audience,
        keyId: signer,
      },
    };
  }

  const scopes = parseScopes(claims.scope as string | undefined);
  if (typeof scopes === "string") throw new InvalidScope(scopes);
  // An assertion without scopes gets cloud-platform: IAM remains the limit.
  const granted = scopes.length ? scopes : [CLOUD_PLATFORM];
  const { token, claims: minted } = await issueAccessToken(deps, {
    sub: `serviceAccount:${sa.email}`,
    uid: sa.uniqueId,
    scopes: granted,
    azp: sa.uniqueId,
    via: "jwt-bearer",
  });
  return {
    body: { access_token: token, expires_in: minted.exp - minted.iat, token_type: "Bearer" },
    issued: {
      subject: `serviceAccount:${sa.email}`,
      tokenType: "access_token",
      scopes: granted,
      keyId: signer,
      jti: minted.jti,
      exp: minted.exp,
    },
  };
}
