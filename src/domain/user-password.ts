/**
 * Users' passwords, hashed with scrypt (memory-hard, RFC 7914) under a per-user random salt. The
 * parameters are stored with each hash, so raising them later leaves older hashes verifiable.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

export interface UserPassword {
  email: string;
  /** The unique id of the user it was set for: a later user of the same address does not inherit it. */
  uid: string;
  /** `scrypt$N$r$p$SALT$HASH` (salt and hash base64url). */
  hash: string;
  updateTime: string;
}

/** 32 MiB of memory per hash (128·N·r bytes). */
export const SCRYPT_PARAMS = { N: 1 << 15, r: 8, p: 1 } as const;
export const MIN_PASSWORD_LENGTH = 8;
/** Bounds the work an attacker can ask for with one huge password. */
export const MAX_PASSWORD_LENGTH = 1024;
const KEY_LENGTH = 32;

export function passwordProblem(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return "password is required.";
  if ([...value].length < MIN_PASSWORD_LENGTH)
    return `password must be at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (value.length > MAX_PASSWORD_LENGTH)
    return `password must be at most ${MAX_PASSWORD_LENGTH} characters.`;
  return undefined;
}

function derive(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((ok, fail) =>
    scrypt(
      password.normalize("NFC"),
      salt,
      KEY_LENGTH,
      { N, r, p, maxmem: 256 * N * r + 1024 * 1024 },
      (err, key) => (err ? fail(err) : ok(key)),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { N, r, p } = SCRYPT_PARAMS;
  const key = await derive(password, salt, N, r, p);
  return `scrypt$${N}$${r}$${p}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

/** A hash of a random password, verified against when the user has none, so timing reveals nothing. */
let decoy: Promise<string> | undefined;
export const decoyHash = () => {
  decoy ??= hashPassword(randomBytes(16).toString("hex"));
  return decoy;
};

/** Constant-time verification; false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || N > 1 << 20 || r > 32 || p > 16) return false;
  const expected = Buffer.from(parts[5]!, "base64url");
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  const key = await derive(password, Buffer.from(parts[4]!, "base64url"), N, r, p);
  return key.length === expected.length && timingSafeEqual(key, expected);
}
