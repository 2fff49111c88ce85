/** OpenID Connect ID tokens, shaped like Google's so stock verifiers accept them. */
import { SignJWT } from "jose";
import type { SigningKey } from "./signing-key.js";

export const GOOGLE_ISSUER = "https://accounts.google.com";
export const MAX_ID_TOKEN_LIFETIME_S = 3600;

export interface IdTokenRequest {
  audience: string;
  /** The subject's stable numeric id (a service account's uniqueId). */
  subject: string;
  /** Authorized party; Google uses the service account's unique id. */
  azp: string;
  email?: string;
  /** Extra claims (e.g. Compute Engine's `google` claim in format=full). */
  extra?: Record<string, unknown>;
  now?: number;
  lifetimeSeconds?: number;
}

export async function mintIdToken(key: SigningKey, issuer: string, req: IdTokenRequest): Promise<string> {
  const iat = Math.floor((req.now ?? Date.now()) / 1000);
  const lifetime = Math.min(req.lifetimeSeconds ?? MAX_ID_TOKEN_LIFETIME_S, MAX_ID_TOKEN_LIFETIME_S);
  return new SignJWT({
    azp: req.azp,
    ...(req.email ? { email: req.email, email_verified: true } : {}),
    ...req.extra,
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .setIssuer(issuer)
    .setAudience(req.audience)
    .setSubject(req.subject)
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetime)
    .sign(key.privateKey);
}
