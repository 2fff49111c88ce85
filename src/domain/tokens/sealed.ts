/**
 * Secrets at rest (the private halves of signing keys): AES-256-GCM under the installation's
 * master key, bound to the record they belong to (associated data), so a ciphertext copied into
 * another record does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export interface Sealed {
  alg: "A256GCM";
  iv: string;
  tag: string;
  data: string;
}

export const MASTER_KEY_BYTES = 32;

export function seal(masterKey: Buffer, plaintext: string, boundTo: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", masterKey, iv);
  cipher.setAAD(Buffer.from(boundTo, "utf8"));
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return {
    alg: "A256GCM",
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    data: data.toString("base64"),
  };
}

export class SealBroken extends Error {
  override name = "SealBroken";
}

export function unseal(masterKey: Buffer, sealed: Sealed, boundTo: string): string {
  try {
    const decipher = createDecipheriv("aes-256-gcm", masterKey, Buffer.from(sealed.iv, "base64"));
    decipher.setAAD(Buffer.from(boundTo, "utf8"));
    decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, "base64")), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    throw new SealBroken(
      `cannot decrypt the private key of ${boundTo}: wrong master key (WARRANT_MASTER_KEY or <state-dir>/master.key) or corrupted data`,
    );
  }
}

/** Parses WARRANT_MASTER_KEY: 32 bytes as base64 (44 chars) or hex (64 chars). */
export function parseMasterKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== MASTER_KEY_BYTES)
    throw new Error(
      `the master key must be ${MASTER_KEY_BYTES} bytes, as base64 or hex (got ${key.length} bytes)`,
    );
  return key;
}
