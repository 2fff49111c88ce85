/**
 * Minimal self-signed X.509 v3 certificates for RSA keys, as Google publishes for service-account
 * keys and its token-signing keys (`/oauth2/v1/certs`, `.../metadata/x509/EMAIL`). Verifiers only
 * use the certificate as a wrapper around the public key, so it carries exactly: serial, CN
 * issuer = subject, validity and the key, signed SHA256withRSA. DER is encoded by hand (a few
 * dozen bytes of structure) rather than pulling in an X.509 toolkit.
 */
import { createPublicKey, createSign, type KeyObject, X509Certificate } from "node:crypto";

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const chunk: number[] = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function time(d: Date): Buffer {
  const iso = d.toISOString();
  const year = d.getUTCFullYear();
  // UTCTime up to 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
  const compact = iso.replace(/[-:T]/g, "").slice(0, 14);
  return year < 2050 ? tlv(0x17, Buffer.from(`${compact.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${compact}Z`));
}

const SHA256_WITH_RSA = seq(oid("1.2.840.113549.1.1.11"), Buffer.from([0x05, 0x00]));

export interface CertificateRequest {
  commonName: string;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  privateKey: KeyObject;
}

/** A PEM certificate for the key pair, self-signed. */
export function selfSignedCertificate(req: CertificateRequest): string {
  const name = seq(set(seq(oid("2.5.4.3"), tlv(0x0c, Buffer.from(req.commonName, "utf8")))));
  const spki = createPublicKey(req.privateKey).export({ type: "spki", format: "der" });
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(req.serial),
    SHA256_WITH_RSA,
    name,
    seq(time(req.notBefore), time(req.notAfter)),
    name,
    spki,
  );
  const signature = createSign("sha256").update(tbs).sign(req.privateKey);
  const der = seq(tbs, SHA256_WITH_RSA, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = der.toString("base64").replace(/.{64}/g, "$&\n");
  const pem = `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END CERTIFICATE-----\n`;
  // Parse it back: a malformed encoding fails here, not in a client.
  new X509Certificate(pem);
  return pem;
}
