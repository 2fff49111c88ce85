/**
 * RS256 compact JWS signatures checked with `crypto.verify` directly (synchronous, no JOSE stack):
 * for the fixed formats Warrant accepts on its hot paths (jwt-bearer assertions).
 */
import { verify as cryptoVerify, type KeyObject } from "node:crypto";

/**
 * Whether `jws` is a compact JWS in canonical base64url whose header says RS256 (and asks for no
 * critical extension or unencoded payload) and whose signature `key` verifies.
 */
export function rs256Verifies(jws: string, key: KeyObject): boolean {
  const parts = jws.split(".");
  if (
    parts.length !== 3 ||
    parts.some((p) => p === "" || Buffer.from(p, "base64url").toString("base64url") !== p)
  )
    return false;
  const [h, p, s] = parts as [string, string, string];
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
  } catch {
    return false;
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) return false;
  const hdr = header as Record<string, unknown>;
  if (hdr.alg !== "RS256" || "crit" in hdr || "b64" in hdr) return false;
  try {
    return cryptoVerify("sha256", Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url"));
  } catch {
    return false;
  }
}
