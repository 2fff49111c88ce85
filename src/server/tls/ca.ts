/**
 * The installation's certificate authority: created on first use in the state directory
 * (`ca.key`, mode 0600, never printed; `ca.pem`, public), it signs short-lived TLS server
 * certificates minted in memory per set of names. Rotation: stop the server, delete both files,
 * start it again (clients must then trust the new `ca.pem`).
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { caCertificate, leafCertificate } from "../../domain/tokens/x509.js";

export const CA_KEY_FILE = "ca.key";
export const CA_CERT_FILE = "ca.pem";
/** The system trust store plus Warrant's CA, for runtimes whose CA variable replaces the store. */
export const CA_BUNDLE_FILE = "ca-bundle.pem";
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

const CA_LIFETIME_MS = 10 * 365 * 24 * 3600_000;
/** Lifetime of each minted server certificate. */
export const LEAF_LIFETIME_MS = 24 * 3600_000;
/** A cached server certificate is replaced when less than this remains. */
const LEAF_RENEW_MS = 6 * 3600_000;

export interface Leaf {
  key: string;
  /** The leaf followed by the CA certificate. */
  cert: string;
  notAfter: number;
}

export class CertificateAuthority {
  private readonly leaves = new Map<string, Leaf>();

  private constructor(
    readonly certificatePem: string,
    private readonly key: KeyObject,
    readonly certFile: string,
  ) {}

  /** Loads the CA of `stateDir`, creating it when absent. */
  static open(stateDir: string, now = Date.now()): CertificateAuthority {
    const keyFile = join(stateDir, CA_KEY_FILE);
    const certFile = join(stateDir, CA_CERT_FILE);
    if (existsSync(keyFile) !== existsSync(certFile))
      throw new Error(
        `${existsSync(keyFile) ? certFile : keyFile} is missing but ${existsSync(keyFile) ? keyFile : certFile} exists; ` +
          "delete both to create a new CA",
      );
    if (!existsSync(keyFile)) {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const pem = caCertificate({
        commonName: "Warrant Local CA",
        notBefore: new Date(now - 3600_000),
        notAfter: new Date(now + CA_LIFETIME_MS),
        privateKey,
      });
      writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), {
        mode: 0o600,
        flag: "wx",
      });
      chmodSync(keyFile, 0o600);
      writeFileSync(certFile, pem, { mode: 0o644 });
    }
    const key = createPrivateKey(readFileSync(keyFile));
    const pem = readFileSync(certFile, "utf8");
    if (!new X509Certificate(pem).checkPrivateKey(key))
      throw new Error(`${certFile} does not match ${keyFile}; delete both to create a new CA`);
    return new CertificateAuthority(pem, key, certFile);
  }

  /** A server certificate for `names`, minted once and reused until it nears expiry. */
  leaf(names: string[], now = Date.now()): Leaf {
    const id = names.join(",");
    const cached = this.leaves.get(id);
    if (cached && cached.notAfter - now > LEAF_RENEW_MS) return cached;
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const notAfter = now + LEAF_LIFETIME_MS;
    const cert = leafCertificate({
      names,
      notBefore: new Date(now - 3600_000),
      notAfter: new Date(notAfter),
      publicKey,
      caCertificate: this.certificatePem,
      caKey: this.key,
    });
    const leaf = {
      key: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      cert: cert + this.certificatePem,
      notAfter,
    };
    if (this.leaves.size > 256) this.leaves.clear();
    this.leaves.set(id, leaf);
    return leaf;
  }

  /** Writes `<stateDir>/ca-bundle.pem` = the system bundle (when present) + this CA; returns its path. */
  writeBundle(stateDir: string, systemBundle = SYSTEM_CA_BUNDLE): string {
    const system = existsSync(systemBundle) ? readFileSync(systemBundle, "utf8") : "";
    const file = join(stateDir, CA_BUNDLE_FILE);
    writeFileSync(file, `${system}${system && !system.endsWith("\n") ? "\n" : ""}${this.certificatePem}`, {
      mode: 0o644,
    });
    return file;
  }
}
