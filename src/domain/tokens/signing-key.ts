/** Keys that sign Warrant's own tokens. Each has a `kid` published in the key set. */

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { selfSignedCertificate } from "./x509.js";

export type KeyState = "primary" | "secondary" | "staged";

export interface SigningKey {
  kid: string;
  alg: "RS256";
  state: KeyState;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Self-signed certificate of the public key, for `/oauth2/v1/certs`. */
  certificatePem: string;
  createdAt: string;
}

/** How a signing key is stored: PKCS#8 PEM, never logged. */
export interface StoredSigningKey {
  kid: string;
  alg: "RS256";
  state: KeyState;
  privateKeyPem: string;
  certificatePem: string;
  createdAt: string;
}

export function generateSigningKey(state: KeyState = "primary", now = new Date()): StoredSigningKey {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = randomBytes(20).toString("hex");
  return {
    kid,
    alg: "RS256",
    state,
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    certificatePem: selfSignedCertificate({
      commonName: kid,
      serial: randomBytes(16),
      notBefore: now,
      notAfter: new Date(now.getTime() + 90 * 86400_000),
      privateKey,
    }),
    createdAt: now.toISOString(),
  };
}

export function loadSigningKey(stored: StoredSigningKey): SigningKey {
  const { privateKeyPem, ...rest } = stored;
  const privateKey = createPrivateKey({ key: privateKeyPem, format: "pem" });
  const certificatePem =
    rest.certificatePem ??
    selfSignedCertificate({
      commonName: rest.kid,
      serial: randomBytes(16),
      notBefore: new Date(rest.createdAt),
      notAfter: new Date(Date.parse(rest.createdAt) + 90 * 86400_000),
      privateKey,
    });
  return { ...rest, certificatePem, privateKey, publicKey: createPublicKey(privateKey) };
}
