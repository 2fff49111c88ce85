/**
 * System-managed service-account keys: the ones Warrant itself signs with for signBlob and
 * signJwt (as Google signs with Google-managed keys). One current key per account, replaced a day
 * before it expires; old ones stay published until they expire, so signatures remain verifiable.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import type { Datastore } from "../../datastore/datastore.js";
import { repositories } from "../../datastore/repositories.js";
import type { ServiceAccount } from "../../domain/service-account.js";
import { generateSystemManagedKey, type ServiceAccountKey } from "../../domain/service-account-key.js";
import { unseal } from "../../domain/tokens/sealed.js";
import type { ServiceAccountDirectory } from "../auth/service-account-directory.js";

const RENEW_BEFORE_MS = 86400_000;

export interface SigningIdentity {
  keyId: string;
  privateKey: KeyObject;
}

export class SystemKeys {
  private readonly cache = new Map<string, { id: SigningIdentity; until: number }>();

  constructor(
    private readonly store: Datastore,
    private readonly masterKey: Buffer,
    private readonly directory: ServiceAccountDirectory,
  ) {}

  async signerFor(sa: ServiceAccount, now = Date.now()): Promise<SigningIdentity> {
    const cached = this.cache.get(sa.email);
    if (cached && cached.until > now) return cached.id;
    const usable = (k: ServiceAccountKey) =>
      k.keyType === "SYSTEM_MANAGED" &&
      !k.disabled &&
      k.sealedPrivateKey &&
      Date.parse(k.validBeforeTime) - RENEW_BEFORE_MS > now;
    const key = await this.store.transaction(async (tx) => {
      const r = repositories(tx);
      const current = (await r.serviceAccountKeys.list(sa.email)).filter(usable).at(-1);
      if (current) return current;
      const { key } = generateSystemManagedKey(sa, this.masterKey, new Date(now));
      await r.serviceAccountKeys.put(key);
      return key;
    });
    this.directory.invalidate(sa.email, key.keyId);
    const id = {
      keyId: key.keyId,
      privateKey: createPrivateKey(unseal(this.masterKey, key.sealedPrivateKey!, key.keyId)),
    };
    this.cache.set(sa.email, { id, until: Date.parse(key.validBeforeTime) - RENEW_BEFORE_MS });
    return id;
  }

  forget(email: string) {
    this.cache.delete(email.toLowerCase());
  }
}
