import { chmodSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { CliError } from "../errors.js";
import { readServerInfo, type ServerInfo, Session, serverAlive } from "../session.js";
import { gcloudExports, instanceExports, proxyExports, warrantExports } from "../shell.js";
import { command } from "../spec.js";

export default command({
  name: "env",
  summary: "print shell export lines that point this shell (and optionally gcloud) at the running server",
  description:
    "Reads <state-dir>/server.json, written by `warrant serve`, and prints WARRANT_ENDPOINT, " +
    "WARRANT_CREDENTIAL_FILE (the admin credential) and WARRANT_PROJECT (the default project). " +
    "With --gcloud it also obtains an access token, stores it in <state-dir>/gcloud-access-token (mode 0600) " +
    "and prints the CLOUDSDK_* variables that make the real gcloud talk to Warrant. The token expires " +
    "(typically after an hour); re-run the command to refresh it. With --instance it prints instead what " +
    "makes the shell act as that instance: GCE_METADATA_HOST, GCE_METADATA_IP and GCE_METADATA_ROOT (each " +
    "runtime reads a different one) pointing at the instance's metadata server, WARRANT_CREDENTIAL_SOURCE=adc, " +
    "and unsets credential files, so gcloud, Google's libraries and this CLI authenticate as its service account. With --proxy (server started with " +
    "`warrant serve --proxy`) it also prints HTTPS_PROXY/NO_PROXY, routing HTTPS to Google API hosts through " +
    "Warrant's interception proxy, and the CA variables each runtime reads: NODE_EXTRA_CA_CERTS (the CA), " +
    "REQUESTS_CA_BUNDLE, SSL_CERT_FILE, CURL_CA_BUNDLE, HTTPLIB2_CA_CERTS and CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE " +
    "(the system bundle plus the CA, since these replace the trust store).",
  flags: [
    { name: "gcloud", type: "boolean", help: "Also print CLOUDSDK_* variables for the real gcloud CLI." },
    {
      name: "proxy",
      type: "boolean",
      help: "Also route HTTPS to Google API hosts through the server's interception proxy and trust its CA.",
    },
    {
      name: "instance",
      type: "string",
      metavar: "NAME",
      help: "Act as this instance instead: point GCE_METADATA_HOST/IP/ROOT at its metadata server (no credential file).",
    },
    {
      name: "zone",
      type: "string",
      metavar: "ZONE",
      help: "Zone of --instance, when the name is ambiguous.",
    },
  ],
  examples: [
    'eval "$(npx warrant env)"',
    'eval "$(warrant env --gcloud --state-dir /var/lib/warrant)"',
    'eval "$(npx warrant env --instance demo-vm)"   # this shell now runs as demo-vm\'s service account',
    'eval "$(npx warrant env --proxy)"   # libraries that ignore token_uri reach Warrant through the proxy',
  ],
  async run(ctx) {
    const stateDir = ctx.session.stateDir();
    const info = readServerInfo(stateDir);
    if (!info) {
      throw new CliError(
        `No running Warrant server found: ${join(stateDir, "server.json")} does not exist.`,
        "Start one with `warrant serve` (same --state-dir), or pass --state-dir.",
      );
    }
    if (serverAlive(info) === false) {
      throw new CliError(
        `${join(stateDir, "server.json")} is stale: process ${info.pid} is not running.`,
        "Start the server again with `warrant serve`.",
      );
    }
    const credentialFile = info.adminCredentialFile
      ? isAbsolute(info.adminCredentialFile)
        ? info.adminCredentialFile
        : resolve(stateDir, info.adminCredentialFile)
      : join(stateDir, "admin-credentials.json");
    const proxy = ctx.bool("proxy") ? proxyTarget(info, stateDir) : "";
    const instance = ctx.str("instance");
    if (instance !== undefined) {
      const zone = ctx.str("zone");
      const matches = Object.entries(info.metadataServers ?? {}).filter(([name]) => {
        const m = /^projects\/([^/]+)\/zones\/([^/]+)\/instances\/([^/]+)$/.exec(name);
        return m !== null && m[3] === instance && (zone === undefined || m[2] === zone);
      });
      if (matches.length === 0)
        throw new CliError(
          `No metadata server for instance [${instance}]${zone ? ` in zone [${zone}]` : ""} is running.`,
          "List instances with `warrant compute instances list`; `warrant serve` runs one metadata server per instance.",
        );
      if (matches.length > 1)
        throw new CliError(
          `Several instances are named [${instance}]: ${matches.map(([n]) => n).join(", ")}.`,
          "Pass --zone to choose one.",
        );
      const [name, metadata] = matches[0]!;
      const project = /^projects\/([^/]+)/.exec(name)![1]!;
      ctx.rt.stdout.write(instanceExports({ url: info.url, metadata, project }) + proxy);
      return 0;
    }
    const project = info.defaultProject ?? ctx.session.project();
    const target = { url: info.url.replace(/\/+$/, ""), credentialFile, project };
    let text = warrantExports(target);
    if (ctx.bool("gcloud")) {
      const tokenSession = new Session(
        ctx.rt,
        new Map([
          ["endpoint", target.url],
          ["credential-file", ctx.str("credential-file") ?? credentialFile],
        ]),
      );
      const token = await tokenSession.accessToken();
      const tokenFile = join(stateDir, "gcloud-access-token");
      writeFileSync(tokenFile, token, { mode: 0o600 });
      chmodSync(tokenFile, 0o600);
      text += gcloudExports({ ...target, tokenFile });
      ctx.status(
        "# gcloud access token written; it expires, so re-run `warrant env --gcloud` when gcloud gets 401s.",
      );
    }
    ctx.rt.stdout.write(text + proxy);
    return 0;
  },
});

function proxyTarget(info: ServerInfo, stateDir: string): string {
  if (!info.proxyUrl || !info.caFile || !info.caBundleFile)
    throw new CliError(
      `The server using ${stateDir} runs without the interception proxy.`,
      "Restart it with `warrant serve --proxy`.",
    );
  return proxyExports({ proxyUrl: info.proxyUrl, caFile: info.caFile, caBundleFile: info.caBundleFile });
}
