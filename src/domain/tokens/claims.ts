/**
 * The registered-claim checks every JWT verifier shares (RFC 7519 §4.1: `exp`, `nbf`, `iat`, `aud`),
 * in one place so that no verifier forgets one. Pure: each verifier checks the signature and its
 * own claims (issuer, subject) and words the problem for its protocol.
 */

export type ClaimProblem =
  /** `aud` names no audience the verifier accepts. */
  | "audience"
  /** `iat` or `exp` is absent or not a number, or `nbf` is present and not a number. */
  | "missing"
  /** `exp` is not after `iat`, or the token lives longer than allowed. */
  | "lifetime"
  /** `iat` is in the future. */
  | "issuedInFuture"
  /** `nbf` is in the future. */
  | "notYetValid"
  /** `exp` has passed. */
  | "expired";

export interface ClaimRules {
  nowSeconds: number;
  /** Accepted difference between the issuer's clock and ours, in seconds. */
  toleranceSeconds: number;
  /** The longest `exp - iat` accepted; absent: any. */
  maxLifetimeSeconds?: number;
  /** Whether one audience is acceptable; absent: `aud` is not checked. */
  audience?: (aud: string) => boolean;
}

const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** The first problem with the claims, or null when they are acceptable now. */
export function claimProblem(claims: Record<string, unknown>, rules: ClaimRules): ClaimProblem | null {
  if (rules.audience) {
    const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!auds.some((a) => typeof a === "string" && rules.audience!(a))) return "audience";
  }
  const { iat, exp, nbf } = claims;
  if (!isTime(iat) || !isTime(exp) || (nbf !== undefined && !isTime(nbf))) return "missing";
  if (exp <= iat || (rules.maxLifetimeSeconds !== undefined && exp - iat > rules.maxLifetimeSeconds))
    return "lifetime";
  const { nowSeconds: now, toleranceSeconds: tolerance } = rules;
  if (iat > now + tolerance) return "issuedInFuture";
  if (nbf !== undefined && nbf > now + tolerance) return "notYetValid";
  if (exp <= now - tolerance) return "expired";
  return null;
}

/** A short English description of a problem, for verifiers without a protocol-specific wording. */
export const CLAIM_PROBLEM_TEXT: Record<ClaimProblem, string> = {
  audience: "the token's audience does not designate this service",
  missing: "the token lacks valid iat and exp claims (or has an invalid nbf)",
  lifetime: "the token's lifetime is invalid or too long",
  issuedInFuture: "the token was issued in the future",
  notYetValid: "the token is not valid yet (nbf)",
  expired: "token expired",
};

/**
 * The origins (`scheme://host[:port]`) a JWT's `aud` may name to designate this installation: the
 * URLs it is configured to answer at, never one taken from a request. An audience is accepted when
 * it parses as a URL whose origin is one of them (clients put the full request URL in `aud`).
 */
export function audienceMatcher(origins: Iterable<string>): (aud: string) => boolean {
  const accepted = new Set<string>();
  for (const o of origins) accepted.add(new URL(o).origin);
  return (aud) => {
    let url: URL;
    try {
      url = new URL(aud);
    } catch {
      return false;
    }
    return accepted.has(url.origin);
  };
}
