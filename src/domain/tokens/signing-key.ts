/** Keys that sign Warrant's own tokens. Each has a `kid` published in the key set. */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import type { RingState } from "./rotation.js";
import { type Sealed, seal, unseal } from "./sealed.js";
import { selfSignedCertificate } from "./x509.js";

export type KeyState = RingState;

export interface SigningKey {
  kid: string;
  alg: "RS256";
  state: KeyState;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Self-signed certificate of the public key, for `/oauth2/v1/certs`. */
  certificatePem: string;
  createdAt: string;
  activatedAt?: string;
  demotedAt?: string;
}

/** How a signing key is stored: the private key sealed under the master key, never in clear. */
export interface StoredSigningKey {
  kid: string;
  alg: "RS256";
  state: KeyState;
  sealedPrivateKey: Sealed;
  certificatePem: string;
  createdAt: string;
  activatedAt?: string;
  demotedAt?: string;
}

/** Certificates outlive any rotation schedule; verifiers use them only as key containers. */
const CERT_VALIDITY_MS = 365 * 86400_000;

export function generateSigningKey(
  masterKey: Buffer,
  state: KeyState = "primary",
  now = new Date(),
): StoredSigningKey {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = randomBytes(20).toString("hex");
  return {
    kid,
    alg: "RS256",
    state,
    sealedPrivateKey: seal(masterKey, privateKey.export({ type: "pkcs8", format: "pem" }).toString(), kid),
    certificatePem: selfSignedCertificate({
      commonName: kid,
      serial: randomBytes(16),
      notBefore: now,
      notAfter: new Date(now.getTime() + CERT_VALIDITY_MS),
      privateKey,
    }),
    createdAt: now.toISOString(),
    ...(state === "primary" ? { activatedAt: now.toISOString() } : {}),
  };
}

export function loadSigningKey(stored: StoredSigningKey, masterKey: Buffer): SigningKey {
  const { sealedPrivateKey, ...rest } = stored;
  const privateKey = createPrivateKey({
    key: unseal(masterKey, sealedPrivateKey, stored.kid),
    format: "pem",
  });
  return { ...rest, privateKey, publicKey: createPublicKey(privateKey) };
}
