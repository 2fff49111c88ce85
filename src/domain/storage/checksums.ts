/**
 * The checksums Cloud Storage reports and verifies: MD5 and CRC32C (Castagnoli), both base64 of
 * their big-endian bytes. CRC32C runs in native SIMD code: at a few hundred MB/s a JavaScript table
 * would cap upload throughput.
 */
import { createHash, type Hash } from "node:crypto";
import { crc32c } from "@node-rs/crc32";

export const crc32cBase64 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b.toString("base64");
};

/** Running MD5 and CRC32C over a byte stream. */
export class Checksummer {
  private readonly md5: Hash = createHash("md5");
  private crc = 0;
  size = 0;

  update(chunk: Buffer) {
    this.md5.update(chunk);
    this.crc = crc32c(chunk, this.crc);
    this.size += chunk.length;
  }

  digest(): { md5Hash: string; crc32c: string; size: number } {
    return { md5Hash: this.md5.digest("base64"), crc32c: crc32cBase64(this.crc), size: this.size };
  }
}

/** CRC32C only (composition, where GCS reports no MD5). */
export class Crc32c {
  private crc = 0;
  update(chunk: Buffer) {
    this.crc = crc32c(chunk, this.crc);
  }
  digest() {
    return crc32cBase64(this.crc);
  }
}

const B64_MD5 = /^[A-Za-z0-9+/]{22}==$/;
const B64_CRC = /^[A-Za-z0-9+/]{6}==$/;

/** Hashes a client declared (`X-Goog-Hash: crc32c=…,md5=…` or metadata fields), validated. */
export interface DeclaredHashes {
  md5Hash?: string;
  crc32c?: string;
}

export function parseGoogHash(header: string | string[] | undefined): DeclaredHashes | string {
  if (header === undefined) return {};
  const out: DeclaredHashes = {};
  for (const part of (Array.isArray(header) ? header.join(",") : header).split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) return `Invalid X-Goog-Hash header part '${part.trim().slice(0, 60)}'.`;
    const k = part.slice(0, eq).trim().toLowerCase();
    const v = part.slice(eq + 1).trim();
    if (k === "md5") out.md5Hash = v;
    else if (k === "crc32c") out.crc32c = v;
  }
  return declaredProblem(out) ?? out;
}

export function declaredProblem(d: DeclaredHashes): string | null {
  if (d.md5Hash !== undefined && !B64_MD5.test(d.md5Hash))
    return `Invalid md5Hash '${String(d.md5Hash).slice(0, 40)}': expected base64 of 16 bytes.`;
  if (d.crc32c !== undefined && !B64_CRC.test(d.crc32c))
    return `Invalid crc32c '${String(d.crc32c).slice(0, 40)}': expected base64 of 4 bytes.`;
  return null;
}

/** The first mismatch between what the client declared and what arrived, as GCS words it. */
export function hashMismatch(declared: DeclaredHashes, actual: { md5Hash?: string; crc32c: string }) {
  if (declared.md5Hash !== undefined && declared.md5Hash !== actual.md5Hash)
    return `Provided MD5 hash "${declared.md5Hash}" doesn't match calculated MD5 hash "${actual.md5Hash}".`;
  if (declared.crc32c !== undefined && declared.crc32c !== actual.crc32c)
    return `Provided CRC32C "${declared.crc32c}" doesn't match calculated CRC32C "${actual.crc32c}".`;
  return null;
}
