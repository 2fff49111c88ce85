/**
 * The installation's master key, which seals signing keys at rest: WARRANT_MASTER_KEY if set,
 * else `<state-dir>/master.key` (created on first start, mode 0600). Keep it apart from backups of
 * the datastore: together they yield the signing keys.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { MASTER_KEY_BYTES, parseMasterKey } from "../../domain/tokens/sealed.js";

export const MASTER_KEY_FILE = "master.key";

export function loadMasterKey(stateDir: string, fromEnv: string | undefined): Buffer {
  if (fromEnv !== undefined && fromEnv !== "") {
    try {
      return parseMasterKey(fromEnv);
    } catch (err) {
      throw new Error(`WARRANT_MASTER_KEY is invalid: ${(err as Error).message}`);
    }
  }
  const file = resolve(stateDir, MASTER_KEY_FILE);
  if (!existsSync(file)) {
    writeFileSync(file, `${randomBytes(MASTER_KEY_BYTES).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  }
  try {
    return parseMasterKey(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`${file} is invalid: ${(err as Error).message}`);
  }
}
