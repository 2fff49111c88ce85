/**
 * Checks on a jwt-bearer assertion's claims (RFC 7523), with Google's rules and wording. Pure:
 * the signature is verified by the caller; this decides whether the claims are acceptable.
 */
import { claimProblem } from "../tokens/claims.js";

export const GOOGLE_TOKEN_AUDIENCES: readonly string[] = [
  "https://oauth2.googleapis.com/token",
  "https://www.googleapis.com/oauth2/v4/token",
  "https://accounts.google.com/o/oauth2/token",
];
export const MAX_ASSERTION_LIFETIME_S = 3600;
/** How far a client's clock may run ahead or behind ours. */
export const ASSERTION_SKEW_S = 300;

export const SHORT_LIVED =
  "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

export interface AssertionClaims {
  iss?: unknown;
  sub?: unknown;
  aud?: unknown;
  iat?: unknown;
  exp?: unknown;
  nbf?: unknown;
  scope?: unknown;
  target_audience?: unknown;
}

/** Returns the invalid_grant description, or null when the claims are acceptable. */
export function assertionProblem(
  c: AssertionClaims,
  nowSeconds: number,
  ownAudiences: readonly string[],
): string | null {
  if (typeof c.iss !== "string" || c.iss === "") return "Invalid JWT: the iss claim is required.";
  if (c.sub !== undefined && c.sub !== c.iss)
    return "Invalid grant: domain-wide delegation (a sub claim naming another principal) is not supported.";
  const problem = claimProblem(c as Record<string, unknown>, {
    nowSeconds,
    toleranceSeconds: ASSERTION_SKEW_S,
    maxLifetimeSeconds: MAX_ASSERTION_LIFETIME_S,
    audience: (a) => GOOGLE_TOKEN_AUDIENCES.includes(a) || ownAudiences.includes(a),
  });
  if (problem === "audience") return "Invalid JWT: Failed audience check.";
  if (problem === "expired")
    return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. The token has expired.";
  if (problem) return SHORT_LIVED;
  if (c.scope !== undefined && typeof c.scope !== "string")
    return "Invalid JWT: the scope claim must be a string.";
  if (c.target_audience !== undefined && (typeof c.target_audience !== "string" || c.target_audience === ""))
    return "Invalid JWT: target_audience must be a non-empty string.";
  return null;
}

const SCOPE = /^(?:https:\/\/www\.googleapis\.com\/auth\/[A-Za-z0-9._-]+|openid|email|profile)$/;

/** Scopes of a space-separated claim; empty means "none asked". Returns a message for a bad scope. */
export function parseScopes(raw: string | undefined): string[] | string {
  const scopes = (raw ?? "").split(/\s+/).filter(Boolean);
  const bad = scopes.find((s) => !SCOPE.test(s));
  if (bad) return `Invalid OAuth scope or ID token audience provided: ${bad}`;
  return [...new Set(scopes)];
}
