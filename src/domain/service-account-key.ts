/**
 * Service-account keys. Warrant generates the RSA 2048 key pair, hands the private half to the
 * caller once (inside a Google-format JSON key file) and keeps only the public half.
 */
import { createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { type Sealed, seal } from "./tokens/sealed.js";
import { selfSignedCertificate } from "./tokens/x509.js";

export const MAX_KEYS_PER_SERVICE_ACCOUNT = 10;
/** Google's "no expiry" for user-managed keys. */
export const NO_EXPIRY = "9999-12-31T23:59:59Z";

export interface ServiceAccountKey {
  name: string;
  keyId: string;
  email: string;
  /** The unique id of the account the key belongs to (absent on keys made before it was recorded). */
  uniqueId?: string;
  projectId: string;
  publicKeyPem: string;
  certificatePem: string;
  validAfterTime: string;
  validBeforeTime: string;
  keyAlgorithm: "KEY_ALG_RSA_2048";
  keyOrigin: "GOOGLE_PROVIDED";
  keyType: "USER_MANAGED" | "SYSTEM_MANAGED";
  disabled?: boolean;
  /** Only for SYSTEM_MANAGED keys, which Warrant signs with (signBlob, signJwt): sealed at rest. */
  sealedPrivateKey?: Sealed;
}

/** The key-file JSON, exactly Google's field set and order. */
export interface KeyFile {
  type: "service_account";
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
}

export function generateServiceAccountKey(
  sa: { email: string; projectId: string; uniqueId: string },
  baseUrl: string,
  now = new Date(),
): { key: ServiceAccountKey; keyFile: KeyFile } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyId = randomBytes(20).toString("hex");
  const notAfter = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
  const key: ServiceAccountKey = {
    name: `projects/${sa.projectId}/serviceAccounts/${sa.email}/keys/${keyId}`,
    keyId,
    email: sa.email,
    uniqueId: sa.uniqueId,
    projectId: sa.projectId,
    publicKeyPem: createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString(),
    certificatePem: selfSignedCertificate({
      commonName: sa.email,
      serial: randomBytes(16),
      notBefore: now,
      notAfter,
      privateKey,
    }),
    validAfterTime: now.toISOString().replace(/\.\d+Z$/, "Z"),
    validBeforeTime: NO_EXPIRY,
    keyAlgorithm: "KEY_ALG_RSA_2048",
    keyOrigin: "GOOGLE_PROVIDED",
    keyType: "USER_MANAGED",
  };
  const keyFile: KeyFile = {
    type: "service_account",
    project_id: sa.projectId,
    private_key_id: keyId,
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    client_email: sa.email,
    client_id: sa.uniqueId,
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: `${baseUrl}/token`,
    auth_provider_x509_cert_url: `${baseUrl}/oauth2/v1/certs`,
    client_x509_cert_url: `${baseUrl}/robot/v1/metadata/x509/${encodeURIComponent(sa.email)}`,
    universe_domain: "googleapis.com",
  };
  return { key, keyFile };
}

/** The key as IAM v1 shows it (no private material; public data only when asked). */
export function renderKey(k: ServiceAccountKey, publicKeyType?: string) {
  const out: Record<string, unknown> = {
    name: k.name,
    validAfterTime: k.validAfterTime,
    validBeforeTime: k.validBeforeTime,
    keyAlgorithm: k.keyAlgorithm,
    keyOrigin: k.keyOrigin,
    keyType: k.keyType,
    ...(k.disabled ? { disabled: true } : {}),
  };
  if (publicKeyType === "TYPE_X509_PEM_FILE") {
    out.publicKeyData = Buffer.from(k.certificatePem).toString("base64");
  } else if (publicKeyType === "TYPE_RAW_PUBLIC_KEY") {
    out.publicKeyData = Buffer.from(k.publicKeyPem).toString("base64");
  }
  return out;
}

/** System-managed keys sign for the IAM Credentials API and are replaced before this lifetime ends. */
export const SYSTEM_KEY_LIFETIME_MS = 14 * 86400_000;

/** A key Warrant keeps (sealed) to sign blobs and JWTs for the account; published like any other. */
export function generateSystemManagedKey(
  sa: { email: string; projectId: string; uniqueId: string },
  masterKey: Buffer,
  now = new Date(),
): { key: ServiceAccountKey; privateKeyPem: string } {
  const { key, keyFile } = generateServiceAccountKey(sa, "", now);
  const until = new Date(now.getTime() + SYSTEM_KEY_LIFETIME_MS);
  return {
    key: {
      ...key,
      keyType: "SYSTEM_MANAGED",
      validBeforeTime: until.toISOString().replace(/\.\d+Z$/, "Z"),
      sealedPrivateKey: seal(masterKey, keyFile.private_key, key.keyId),
    },
    privateKeyPem: keyFile.private_key,
  };
}
