/** Keys that sign Warrant's own tokens. Each has a `kid` published in the key set. */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";

export type KeyState = "primary" | "secondary" | "staged";

export interface SigningKey {
  kid: string;
  alg: "RS256";
  state: KeyState;
  privateKey: KeyObject;
  publicKey: KeyObject;
  createdAt: string;
}

/** How a signing key is stored: PKCS#8 PEM, never logged. */
export interface StoredSigningKey {
  kid: string;
  alg: "RS256";
  state: KeyState;
  privateKeyPem: string;
  createdAt: string;
}

export function generateSigningKey(state: KeyState = "primary", now = new Date()): StoredSigningKey {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    kid: randomBytes(20).toString("hex"),
    alg: "RS256",
    state,
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    createdAt: now.toISOString(),
  };
}

export function loadSigningKey(stored: StoredSigningKey): SigningKey {
  const { privateKeyPem, ...rest } = stored;
  const privateKey = createPrivateKey({ key: privateKeyPem, format: "pem" });
  return { ...rest, privateKey, publicKey: createPublicKey(privateKey) };
}
