/**
 * The installation's signing keys, loaded once and kept in memory: verification never touches
 * the datastore. On first use a primary key is generated and stored.
 */
import type { KeyObject } from "node:crypto";
import type { Repositories } from "../../datastore/repositories.js";
import { generateSigningKey, loadSigningKey, type SigningKey } from "../../domain/tokens/signing-key.js";

export class KeyRing {
  private constructor(private readonly keys: Map<string, SigningKey>) {}

  static async open(
    repos: Repositories,
    transaction: <T>(fn: (r: Repositories) => Promise<T>) => Promise<T>,
  ) {
    const stored = await transaction(async (tx) => {
      const existing = await tx.signingKeys.all();
      if (existing.some((k) => k.state === "primary")) return existing;
      const fresh = generateSigningKey("primary");
      await tx.signingKeys.put(fresh);
      return [...existing, fresh];
    });
    void repos;
    return new KeyRing(new Map(stored.map((s) => [s.kid, loadSigningKey(s)])));
  }

  /** The key that signs new tokens. */
  primary(): SigningKey {
    for (const k of this.keys.values()) if (k.state === "primary") return k;
    throw new Error("key ring has no primary key");
  }

  /** Public key for a kid that may verify tokens (primary or secondary; staged keys only publish). */
  verificationKey(kid: string): KeyObject | undefined {
    const k = this.keys.get(kid);
    return k && k.state !== "staged" ? k.publicKey : undefined;
  }

  all(): SigningKey[] {
    return [...this.keys.values()];
  }
}
