/**
 * Minimal self-signed X.509 v3 certificates for RSA keys, as Google publishes for service-account
 * keys and its token-signing keys (`/oauth2/v1/certs`, `.../metadata/x509/EMAIL`). Verifiers only
 * use the certificate as a wrapper around the public key, so it carries exactly: serial, CN
 * issuer = subject, validity and the key, signed SHA256withRSA. DER is encoded by hand (a few
 * dozen bytes of structure) rather than pulling in an X.509 toolkit.
 */
import {
  createHash,
  createPublicKey,
  createSign,
  type KeyObject,
  randomBytes,
  X509Certificate,
} from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";

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

// --- A local certificate authority: a CA certificate and the TLS server certificates it signs. ---

const ECDSA_WITH_SHA256 = seq(oid("1.2.840.10045.4.3.2"));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const octets = (b: Buffer) => tlv(0x04, b);

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

/** keyUsage bits (RFC 5280 §4.2.1.3), DER BIT STRING with trailing zero bits dropped. */
function keyUsage(bits: number[]): Buffer {
  let v = 0;
  for (const b of bits) v |= 0x80 >> b;
  let unused = 0;
  while (unused < 7 && !(v & (1 << unused))) unused++;
  return tlv(0x03, Buffer.from([unused, v]));
}

function ipBytes(ip: string): Buffer | undefined {
  if (isIPv4(ip)) return Buffer.from(ip.split(".").map(Number));
  if (!isIPv6(ip)) return undefined;
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
}

const keyId = (spki: Buffer) => createHash("sha1").update(spki).digest();

function signatureAlgorithm(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === "rsa") return SHA256_WITH_RSA;
  if (key.asymmetricKeyType === "ec") return ECDSA_WITH_SHA256;
  throw new Error(`unsupported CA key type ${key.asymmetricKeyType}`);
}

function toPem(der: Buffer): string {
  const b64 = der.toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END CERTIFICATE-----\n`;
}

function commonName(cn: string): Buffer {
  return seq(set(seq(oid("2.5.4.3"), tlv(0x0c, Buffer.from(cn, "utf8")))));
}

function signedCertificate(opts: {
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: Buffer[];
  signer: KeyObject;
}): string {
  const alg = signatureAlgorithm(opts.signer);
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(opts.serial),
    alg,
    opts.issuer,
    seq(time(opts.notBefore), time(opts.notAfter)),
    opts.subject,
    opts.spki,
    tlv(0xa3, seq(...opts.extensions)),
  );
  const signature = createSign("sha256").update(tbs).sign(opts.signer);
  const pem = toPem(seq(tbs, alg, tlv(0x03, Buffer.concat([Buffer.from([0]), signature]))));
  new X509Certificate(pem);
  return pem;
}

/** A positive 128-bit serial number. */
export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return serial;
}

export interface CaRequest {
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  privateKey: KeyObject;
}

/**
 * A self-signed CA certificate: basicConstraints critical CA:TRUE, keyUsage critical keyCertSign +
 * cRLSign, and a subjectKeyIdentifier (strict verifiers, e.g. Python 3.13's, require all three).
 */
export function caCertificate(req: CaRequest): string {
  const spki = createPublicKey(req.privateKey).export({ type: "spki", format: "der" });
  const name = commonName(req.commonName);
  return signedCertificate({
    serial: randomSerial(),
    issuer: name,
    subject: name,
    notBefore: req.notBefore,
    notAfter: req.notAfter,
    spki,
    extensions: [
      extension("2.5.29.19", true, seq(bool(true))),
      extension("2.5.29.15", true, keyUsage([5, 6])),
      extension("2.5.29.14", false, octets(keyId(spki))),
    ],
    signer: req.privateKey,
  });
}

export interface LeafRequest {
  /** DNS names and IP addresses the certificate is valid for; the first is also its CN. */
  names: string[];
  notBefore: Date;
  notAfter: Date;
  /** The leaf's own public key. */
  publicKey: KeyObject;
  caCertificate: string;
  caKey: KeyObject;
}

/** A TLS server certificate signed by the CA, valid for `names` (subjectAltName DNS / IP entries). */
export function leafCertificate(req: LeafRequest): string {
  if (req.names.length === 0) throw new Error("a leaf certificate needs at least one name");
  const ca = new X509Certificate(req.caCertificate);
  const caSpki = ca.publicKey.export({ type: "spki", format: "der" });
  const spki = req.publicKey.export({ type: "spki", format: "der" });
  const altNames = req.names.map((n) => {
    const ip = ipBytes(n);
    return ip ? tlv(0x87, ip) : tlv(0x82, Buffer.from(n, "ascii"));
  });
  return signedCertificate({
    serial: randomSerial(),
    issuer: issuerName(ca),
    subject: commonName(req.names[0]!),
    notBefore: req.notBefore,
    notAfter: req.notAfter,
    spki,
    extensions: [
      extension("2.5.29.19", true, seq()),
      extension("2.5.29.15", true, keyUsage(req.publicKey.asymmetricKeyType === "rsa" ? [0, 2] : [0])),
      extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))),
      extension("2.5.29.17", false, seq(...altNames)),
      extension("2.5.29.14", false, octets(keyId(spki))),
      extension("2.5.29.35", false, seq(tlv(0x80, keyId(caSpki)))),
    ],
    signer: req.caKey,
  });
}

/** The CA's subject Name, byte for byte as in its certificate (issuer of every leaf). */
function issuerName(ca: X509Certificate): Buffer {
  // Certificate ::= SEQ { tbs SEQ { [0] version, serial, sigAlg, issuer, validity, subject, ... } }
  const der = ca.raw;
  const read = (at: number): { start: number; end: number; body: number } => {
    let i = at + 1;
    let n = der[i++]!;
    if (n & 0x80) {
      const count = n & 0x7f;
      n = 0;
      for (let k = 0; k < count; k++) n = (n << 8) | der[i++]!;
    }
    return { start: at, body: i, end: i + n };
  };
  const tbs = read(read(0).body);
  let cursor = tbs.body;
  for (let field = 0; field < 5; field++) cursor = read(cursor).end;
  const subject = read(cursor);
  return der.subarray(subject.start, subject.end);
}
