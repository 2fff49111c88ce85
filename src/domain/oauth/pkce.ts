/** PKCE (RFC 7636) with S256 only: the challenge check and the syntax of verifiers and challenges. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** RFC 7636 §4.1: 43–128 characters of [A-Za-z0-9-._~]. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** BASE64URL(SHA-256(verifier)) without padding: exactly 43 characters. */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export const verifierWellFormed = (v: string) => VERIFIER.test(v);
export const challengeWellFormed = (c: string) => CHALLENGE.test(c);

export function s256(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

/** RFC 7636 §4.6, compared in constant time. */
export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!verifierWellFormed(verifier)) return false;
  const a = Buffer.from(s256(verifier), "ascii");
  const b = Buffer.from(challenge, "ascii");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A fresh verifier (for Warrant's own clients: the CLI and the upstream SSO leg). */
export const newVerifier = () => randomBytes(48).toString("base64url");
