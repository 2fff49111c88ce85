/** The local CA: its certificate is a CA, and the leaves it signs verify against it for their names only. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { CertificateAuthority } from "../../src/server/tls/ca.js";

describe("Warrant CA", () => {
  const dir = mkdtempSync(join(tmpdir(), "warrant-ca-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("is created on first use: ca.key 0600, ca.pem a CA certificate", () => {
    const ca = CertificateAuthority.open(dir);
    assert.equal(statSync(join(dir, "ca.key")).mode & 0o777, 0o600);
    const cert = new X509Certificate(readFileSync(join(dir, "ca.pem")));
    assert.equal(cert.ca, true);
    assert.equal(cert.subject, "CN=Warrant Local CA");
    assert.ok(cert.verify(cert.publicKey), "self-signed");
    assert.equal(cert.toString(), new X509Certificate(ca.certificatePem).toString());
    assert.ok(new Date(cert.validTo).getTime() > Date.now() + 5 * 365 * 24 * 3600_000);
    // Reopening keeps the same CA.
    assert.equal(CertificateAuthority.open(dir).certificatePem, ca.certificatePem);
  });

  test("signs short-lived leaves valid for their DNS names and IPs only", () => {
    const ca = CertificateAuthority.open(dir);
    const caCert = new X509Certificate(ca.certificatePem);
    const leaf = ca.leaf(["storage.googleapis.com", "127.0.0.1", "::1"]);
    const cert = new X509Certificate(
      leaf.cert.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n",
    );
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(caCert.publicKey), "signed by the CA");
    assert.ok(cert.checkIssued(caCert));
    assert.equal(cert.checkHost("storage.googleapis.com"), "storage.googleapis.com");
    assert.equal(cert.checkHost("example.com"), undefined);
    assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(cert.checkIP("::1"), "::1");
    assert.equal(cert.checkIP("10.0.0.1"), undefined);
    assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
    const lifetime = new Date(cert.validTo).getTime() - Date.now();
    assert.ok(lifetime <= 24 * 3600_000 && lifetime > 23 * 3600_000, `lifetime ${lifetime}`);
    assert.equal(ca.leaf(["storage.googleapis.com", "127.0.0.1", "::1"]), leaf, "cached");
    assert.notEqual(
      ca.leaf(["storage.googleapis.com", "127.0.0.1", "::1"], Date.now() + 20 * 3600_000),
      leaf,
    );
  });

  test("a TLS client trusting only the CA accepts a leaf's name and rejects other names and no CA", async () => {
    const ca = CertificateAuthority.open(dir);
    const leaf = ca.leaf(["localhost", "127.0.0.1"]);
    const server = createServer({ key: leaf.key, cert: leaf.cert }, (_req, res) => res.end("ok"));
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const { port } = server.address() as { port: number };
    const { request } = await import("node:https");
    const get = (host: string, ca?: string) =>
      new Promise<string>((ok, fail) => {
        request(
          { host: "127.0.0.1", servername: host, port, ...(ca ? { ca } : {}), headers: { host } },
          (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => ok(body));
          },
        )
          .on("error", fail)
          .end();
      });
    try {
      assert.equal(await get("localhost", ca.certificatePem), "ok");
      await assert.rejects(get("localhost"), /self-signed|unable to (get|verify)/);
      await assert.rejects(get("example.com", ca.certificatePem), /altnames|does not match/i);
    } finally {
      server.close();
    }
  });

  test("OpenSSL's strict X.509 checks accept the leaf as a TLS server certificate under the CA", (t) => {
    try {
      execFileSync("openssl", ["version"]);
    } catch {
      t.skip("openssl is not installed");
      return;
    }
    const ca = CertificateAuthority.open(dir);
    const leaf = ca.leaf(["oauth2.googleapis.com", "127.0.0.1"]);
    const leafFile = join(dir, "leaf.pem");
    writeFileSync(leafFile, leaf.cert.slice(0, leaf.cert.indexOf(ca.certificatePem)));
    const args = ["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", join(dir, "ca.pem")];
    assert.match(execFileSync("openssl", [...args, leafFile], { encoding: "utf8" }), /leaf\.pem: OK/);
    // The same leaf does not verify under another CA.
    const other = mkdtempSync(join(tmpdir(), "warrant-ca-"));
    try {
      CertificateAuthority.open(other);
      assert.throws(() =>
        execFileSync("openssl", ["verify", "-CAfile", join(other, "ca.pem"), leafFile], { stdio: "pipe" }),
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test("a half-present CA (only one of the two files) is refused, never silently replaced", () => {
    const d = mkdtempSync(join(tmpdir(), "warrant-ca-"));
    try {
      writeFileSync(join(d, "ca.pem"), readFileSync(join(dir, "ca.pem")));
      assert.throws(() => CertificateAuthority.open(d), /delete both/);
      assert.equal(existsSync(join(d, "ca.key")), false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test("the bundle is the system bundle followed by the CA", () => {
    const ca = CertificateAuthority.open(dir);
    const system = join(dir, "system.pem");
    writeFileSync(system, "SYSTEM\n");
    const file = ca.writeBundle(dir, system);
    assert.equal(readFileSync(file, "utf8"), `SYSTEM\n${ca.certificatePem}`);
  });
});
