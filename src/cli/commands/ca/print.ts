import { mkdirSync } from "node:fs";
import { command } from "../../spec.js";

export default command({
  name: "print",
  summary: "print the installation's CA certificate (PEM), creating the CA on first use",
  description:
    "Prints <state-dir>/ca.pem, the certificate of the local certificate authority that signs the " +
    "server certificates of `warrant serve --tls` and `--proxy`. Clients trust Warrant's HTTPS by " +
    "trusting this certificate (see docs/tls-and-proxy.md). The CA is created in the state directory " +
    "when absent; its private key (ca.key, mode 0600) is never printed. To rotate it, stop the server, " +
    "delete ca.key and ca.pem, and start it again.",
  examples: ["warrant ca print > warrant-ca.pem", "warrant ca print --state-dir /var/lib/warrant"],
  async run(ctx) {
    const stateDir = ctx.session.stateDir();
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const { CertificateAuthority } = await import("../../../server/tls/ca.js");
    ctx.rt.stdout.write(CertificateAuthority.open(stateDir).certificatePem);
    return 0;
  },
});
