/** Bearer secrets (refresh tokens, client secrets): generated here, stored only as digests, compared in constant time. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const sha256Hex = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

/** Shaped like Google's (`1//…`) so tools that sniff token types treat it as a refresh token. */
export const newRefreshToken = () => `1//${randomBytes(32).toString("base64url")}`;
export const newClientSecret = () => `WRNT-${randomBytes(24).toString("base64url")}`;

/** Constant-time comparison of a presented secret with a stored SHA-256 digest. */
export function secretMatches(presented: string, storedSha256Hex: string): boolean {
  const a = createHash("sha256").update(presented, "utf8").digest();
  const b = Buffer.from(storedSha256Hex, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
