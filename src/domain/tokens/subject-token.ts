/**
 * Verification of an STS subject token (an OIDC ID token or JWT from an external issuer) against
 * one provider's keys: header (`alg` RS256 or ES256, `kid` required), signature, `iss`, then the
 * shared registered-claim checks (`claims.ts`: `aud`, `iat`, `nbf`, `exp`, lifetime ≤ 48 h).
 * Pure apart from jose's signature check; the keys are supplied by the caller.
 */
import { compactVerify, importJWK } from "jose";
import { CLAIM_PROBLEM_TEXT, claimProblem } from "./claims.js";

/** Google's bound: `exp` at most 48 h after `iat`. */
export const MAX_SUBJECT_TOKEN_LIFETIME_S = 48 * 3600;
/** Google documents 12 KB as the largest STS request token. */
export const MAX_SUBJECT_TOKEN_BYTES = 12 * 1024;
export const SUBJECT_TOKEN_TOLERANCE_S = 30;
const ALGORITHMS: Record<string, { kty: string; crv?: string }> = {
  RS256: { kty: "RSA" },
  ES256: { kty: "EC", crv: "P-256" },
};

export class SubjectTokenRejected extends Error {
  override name = "SubjectTokenRejected";
  constructor(
    message: string,
    /** Set when the token names a key the provider's key set does not hold (a refetch may help). */
    readonly unknownKid?: string,
  ) {
    super(message);
  }
}

export interface SubjectTokenRules {
  issuer: string;
  audience: (aud: string) => boolean;
  keys: readonly (JsonWebKey & { kid?: string; alg?: string })[];
  nowSeconds: number;
}

function part(b64: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(b64, "base64url").toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The header of a subject token, or a rejection: lets the caller pick the key set before verifying. */
export function subjectTokenHeader(token: string): { alg: string; kid: string } {
  if (Buffer.byteLength(token) > MAX_SUBJECT_TOKEN_BYTES)
    throw new SubjectTokenRejected(`the subject token is larger than ${MAX_SUBJECT_TOKEN_BYTES} bytes`);
  const parts = token.split(".");
  // One token, one spelling: non-canonical base64url (spare bits set) is refused, so a token cannot
  // be altered while its signature still verifies.
  if (
    parts.length !== 3 ||
    parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p) || Buffer.from(p, "base64url").toString("base64url") !== p)
  )
    throw new SubjectTokenRejected("the subject token is not a compact signed JWT");
  const header = part(parts[0]!);
  if (!header) throw new SubjectTokenRejected("the subject token's header is not a JSON object");
  const alg = header.alg;
  if (typeof alg !== "string" || !Object.hasOwn(ALGORITHMS, alg))
    throw new SubjectTokenRejected(
      `the subject token's alg ${JSON.stringify(alg)} is not allowed: only RS256 and ES256 are accepted`,
    );
  if ("crit" in header) throw new SubjectTokenRejected("the subject token has critical header parameters");
  if (typeof header.kid !== "string" || header.kid === "")
    throw new SubjectTokenRejected("the subject token's header has no kid");
  return { alg, kid: header.kid };
}

/** The verified claims of `token`, or SubjectTokenRejected with a reason safe to show the caller. */
export async function verifySubjectToken(
  token: string,
  rules: SubjectTokenRules,
): Promise<Record<string, unknown>> {
  const { alg, kid } = subjectTokenHeader(token);
  const want = ALGORITHMS[alg]!;
  const jwk = rules.keys.find((k) => k.kid === kid);
  if (!jwk)
    throw new SubjectTokenRejected(
      `the subject token is signed with a key (kid ${kid}) the provider does not trust`,
      kid,
    );
  // The key decides the algorithm family: an RSA key never verifies an ES256 token and vice versa,
  // and a key that names its alg is used with that alg only.
  if (
    jwk.kty !== want.kty ||
    (want.crv && jwk.crv !== want.crv) ||
    (jwk.alg !== undefined && jwk.alg !== alg)
  )
    throw new SubjectTokenRejected(`the subject token's alg ${alg} does not match the provider's key ${kid}`);
  let payload: Record<string, unknown> | null;
  try {
    const key = await importJWK({ ...jwk, alg }, alg);
    const { payload: raw } = await compactVerify(token, key, { algorithms: [alg] });
    payload = part(Buffer.from(raw).toString("base64url"));
  } catch {
    throw new SubjectTokenRejected("the subject token's signature does not verify");
  }
  if (!payload) throw new SubjectTokenRejected("the subject token's payload is not a JSON object");
  if (payload.iss !== rules.issuer)
    throw new SubjectTokenRejected(
      `the subject token's issuer ${JSON.stringify(payload.iss)} is not the provider's issuer ${rules.issuer}`,
    );
  const problem = claimProblem(payload, {
    nowSeconds: rules.nowSeconds,
    toleranceSeconds: SUBJECT_TOKEN_TOLERANCE_S,
    maxLifetimeSeconds: MAX_SUBJECT_TOKEN_LIFETIME_S,
    audience: rules.audience,
  });
  if (problem === "audience")
    throw new SubjectTokenRejected(
      `the subject token's audience ${JSON.stringify(payload.aud)} is not accepted by the provider`,
    );
  if (problem === "lifetime")
    throw new SubjectTokenRejected("the subject token's lifetime is invalid or longer than 48 hours");
  if (problem) throw new SubjectTokenRejected(`the subject token is invalid: ${CLAIM_PROBLEM_TEXT[problem]}`);
  return payload;
}
