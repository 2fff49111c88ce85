/**
 * Random identifiers from a pool of bytes filled 4 KiB at a time: `randomBytes` is a call into
 * OpenSSL each time, a few microseconds that a token mint pays for 12 bytes (about 3% of the event
 * loop's share of a mint). For identifiers that must be unique and unguessable (token ids), not for
 * keys or secrets, which keep their own `randomBytes`.
 */
import { randomFillSync } from "node:crypto";

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/** `bytes` random bytes as base64url, each byte used once. */
export function randomId(bytes: number): string {
  if (bytes > POOL_BYTES) throw new RangeError(`randomId: at most ${POOL_BYTES} bytes`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString("base64url", offset, offset + bytes);
  offset += bytes;
  return id;
}
