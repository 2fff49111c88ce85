import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { SsoConfig } from "../../server/api/oauth2/upstream-sso.js";
import type { RunningServer } from "../../server/app.js";
import type { EnforcementMode } from "../../server/iam/access-control.js";
import type { LogFormat, LogLevel } from "../../server/log.js";
import { CliError } from "../errors.js";
import {
  configFileFor,
  parseDatastoreFrom,
  resolveServeConfig,
  SERVE_SETTINGS,
  serveFlags,
} from "../serve-config.js";
import { warrantExports } from "../shell.js";
import { command } from "../spec.js";

// Loaded lazily: only `serve` needs the server (and its native sqlite module).
async function loadServer(): Promise<typeof import("../../server/app.js")> {
  return import("../../server/app.js");
}

/** The --enforcement flag, else WARRANT_ENFORCEMENT, else `enforce`. */
export function parseEnforcement(flag: string | undefined, env: string | undefined): EnforcementMode {
  const cfg = resolveServeConfig(
    (n) => (n === "enforcement" ? flag : undefined),
    { WARRANT_ENFORCEMENT: env },
    undefined,
  );
  return (cfg.values.get("enforcement")?.value as EnforcementMode | undefined) ?? "enforce";
}

/** `--datastore`, else WARRANT_DATASTORE_URL: a postgres:// URL, or undefined for the embedded SQLite file. */
export function parseDatastore(flag: string | undefined, env: string | undefined): string | undefined {
  if (flag !== undefined) return parseDatastoreFrom(flag, "argument --datastore");
  return env === undefined ? undefined : parseDatastoreFrom(env, "WARRANT_DATASTORE_URL");
}

const ENFORCEMENT_NOTE: Record<EnforcementMode, string> = {
  enforce: "denials fail the call",
  "audit-only": "denials are logged, not enforced",
  off: "nothing is checked",
};

/** The loud line printed at start when denials are not enforced. */
export function enforcementWarning(mode: EnforcementMode): string | undefined {
  if (mode === "audit-only")
    return (
      "WARNING: enforcement is audit-only: calls that scopes or IAM would deny are ALLOWED; each is " +
      'logged to audit.log with "wouldDeny": true (`warrant logs read --denied`).'
    );
  if (mode === "off")
    return "WARNING: enforcement is OFF: no scope or IAM checks; any valid token may do anything. Never expose this server.";
  return undefined;
}

function metadataLines(servers: Record<string, string>): string {
  const entries = Object.entries(servers);
  if (entries.length === 0) return "";
  return (
    '\nMetadata servers (act as an instance with `eval "$(npx warrant env --instance NAME)"`):\n' +
    entries.map(([name, addr]) => `  ${addr.padEnd(22)} ${name}\n`).join("")
  );
}

export default command({
  name: "serve",
  summary: "run the Warrant server (IAM, Resource Manager, Compute and token endpoints)",
  description:
    "Starts the server in the foreground, keeping state (projects, service accounts, policies, instances) " +
    "in the state directory, so a restart on the same directory keeps everything. While it runs, " +
    "<state-dir>/server.json tells other `warrant` commands where it is. Ctrl-C (SIGINT) or SIGTERM " +
    "stops it cleanly: it stops accepting connections, lets requests in flight finish (up to --drain-timeout), " +
    "flushes the audit log and removes server.json; a second signal exits at once. SIGHUP reopens audit.log " +
    "(after logrotate moved it). /healthz and /readyz answer " +
    "health probes, GET /metrics Prometheus metrics (docs/operations.md). Settings fall back to WARRANT_STATE_DIR, " +
    "WARRANT_HOST, WARRANT_PORT, WARRANT_ENFORCEMENT and WARRANT_DATASTORE_URL, then to the config file " +
    "(<state-dir>/warrant.yaml or --config FILE: every flag has a key, e.g. listen.port; unknown keys and bad " +
    "values are refused at start; `warrant config show` prints the effective settings and their sources). --enforcement=audit-only lets every call through but logs those that scopes or " +
    "IAM would deny (to try policies out before enforcing them); --enforcement=off checks nothing.",
  flags: serveFlags(),
  examples: [
    "warrant serve",
    "warrant serve --state-dir /var/lib/warrant --host 0.0.0.0 --port 9090",
    "warrant serve --port 0   # any free port; other commands find it via .warrant/server.json",
    "warrant serve --enforcement=audit-only   # allow everything, log what would be denied",
    "warrant serve --tls --proxy   # HTTPS on the API port, and the interception proxy",
    "warrant serve --datastore=postgres://warrant@db.internal:5432/warrant   # state in PostgreSQL",
  ],
  async run(ctx) {
    const { env, cwd, stdout, stderr } = ctx.rt;
    const stateDir = resolve(cwd, ctx.str("state-dir") ?? (env.WARRANT_STATE_DIR || ".warrant"));
    // Flags, environment and the config file, through the one table of settings (serve-config.ts).
    const cfg = resolveServeConfig(
      (name) =>
        SERVE_SETTINGS.find((s) => s.flag === name)?.type === "boolean" ? ctx.bool(name) : ctx.str(name),
      env,
      configFileFor(stateDir, ctx.str("config"), cwd),
    );
    const get = <T>(flag: string): T | undefined => cfg.values.get(flag)?.value as T | undefined;
    const host = get<string>("host") ?? "127.0.0.1";
    const port = get<number>("port") ?? 8080;
    const metadataPort = get<number>("metadata-port");
    const lifetime = get<number>("token-lifetime");
    const enforcement = get<EnforcementMode>("enforcement") ?? "enforce";
    const proxyEnabled = get<boolean>("proxy") === true;
    const proxyPort = proxyEnabled ? (get<number>("proxy-port") ?? 0) : undefined;
    const maxConnections = get<number>("max-connections");
    const maxPerPeer = get<number>("max-connections-per-peer");
    const minBodyRate = get<number>("min-body-rate");
    const drainSeconds = get<number>("drain-timeout");
    const connectionLimits = {
      ...(maxConnections !== undefined ? { maxConnections } : {}),
      ...(maxPerPeer !== undefined ? { maxConnectionsPerPeer: maxPerPeer } : {}),
      ...(minBodyRate !== undefined ? { minBodyBytesPerSecond: minBodyRate } : {}),
    };
    const agentLifetime = get<number>("agent-credential-lifetime");
    const storageReserveBytes = get<number>("storage-reserve");
    const externalUrls = get<string[]>("external-url") ?? [];
    const idTokenIssuer = get<string | undefined>("id-token-issuer");
    const datastore = get<string | undefined>("datastore");
    const auditMaxBytes = get<number>("audit-max-size");
    const auditMaxFiles = get<number>("audit-max-files");
    const blobDir = get<string | undefined>("blob-dir");
    const ssoIssuer = get<string>("sso-issuer");
    let sso: SsoConfig | undefined;
    if (ssoIssuer) {
      const secretFile = get<string>("sso-client-secret-file");
      let clientSecret: string | undefined;
      if (secretFile) {
        const path = resolve(cwd, secretFile);
        try {
          clientSecret = readFileSync(path, "utf8").replace(/\r?\n$/, "");
        } catch (e) {
          throw new CliError(
            `Cannot read --sso-client-secret-file ${path}: ${(e as Error).message}`,
            undefined,
            2,
          );
        }
        if (!clientSecret) throw new CliError(`--sso-client-secret-file ${path} is empty.`, undefined, 2);
      }
      sso = {
        issuer: ssoIssuer,
        clientId: get<string>("sso-client-id")!,
        allowedDomains: get<string[]>("sso-allowed-domain")!,
        ...(clientSecret !== undefined ? { clientSecret } : {}),
        ...(get<string>("sso-name") ? { name: get<string>("sso-name")! } : {}),
      };
    }
    const { startServer, StateDirLocked, StateDirFull, DatastoreUnavailable } = await loadServer();
    const logging = {
      format:
        get<LogFormat>("log-format") ?? ((stdout as { isTTY?: boolean }).isTTY === true ? "text" : "json"),
      level: get<LogLevel>("log-level") ?? "info",
    };
    const { createLogger } = await import("../../server/log.js");
    const logger = createLogger({ ...logging, out: stdout });
    // In JSON, stdout holds log records only: the banner goes to stderr.
    const banner = logging.format === "json" ? stderr : stdout;
    let server: RunningServer;
    try {
      server = await startServer({
        stateDir,
        host,
        port,
        logger,
        ...(get<boolean>("metrics-require-permission") ? { metricsLoopbackOpen: false } : {}),
        enforcement,
        connectionLimits,
        ...(datastore !== undefined ? { datastore } : {}),
        ...(blobDir ? { blobDir: resolve(cwd, blobDir) } : {}),
        ...(drainSeconds !== undefined ? { drainTimeoutMs: drainSeconds * 1000 } : {}),
        ...(get<boolean>("tls") ? { tls: true } : {}),
        ...(proxyPort !== undefined ? { proxyPort } : {}),
        ...(metadataPort !== undefined ? { metadataPort } : {}),
        ...(get<boolean>("external-agents") ? { agents: false } : {}),
        ...(externalUrls.length ? { externalUrls } : {}),
        ...(idTokenIssuer !== undefined ? { idTokenIssuer } : {}),
        ...(agentLifetime !== undefined ? { agentCredentialLifetimeSeconds: agentLifetime } : {}),
        ...(storageReserveBytes !== undefined ? { storageReserveBytes } : {}),
        ...(auditMaxBytes !== undefined ? { auditMaxBytes } : {}),
        ...(auditMaxFiles !== undefined ? { auditMaxFiles } : {}),
        ...(get<boolean>("audit-stdout") ? { auditToLog: true } : {}),
        ...(sso ? { sso } : {}),
        // Short lifetimes come with a proportionate metadata-server refresh margin, as GCE's 300 s of 3600 s.
        ...(lifetime !== undefined
          ? {
              accessTokenLifetimeSeconds: lifetime,
              tokenRefreshMarginSeconds: Math.min(300, Math.floor(lifetime / 12) || 1),
            }
          : {}),
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE") {
        throw new CliError(
          `Port ${port} on ${host} is already in use.`,
          "Pick another --port (0 = any free port).",
        );
      }
      if (e instanceof StateDirLocked)
        throw new CliError(e.message, "Each state directory is served by one `warrant serve` at a time.");
      if (e instanceof StateDirFull) throw new CliError(e.message);
      if (e instanceof DatastoreUnavailable)
        throw new CliError(
          e.message,
          "Check --datastore (or WARRANT_DATASTORE_URL): the server must be up, the database must exist, and the user may log in; see docs/datastore.md.",
        );
      if (code === "EACCES")
        throw new CliError(`Not allowed to listen on ${host}:${port}.`, "Use a port above 1024.");
      throw e;
    }
    const warning = enforcementWarning(enforcement);
    if (warning) stderr.write(`${warning}\n`);
    banner.write(
      `Warrant is serving at ${server.url}\n` +
        `  state directory:   ${server.stateDir}\n` +
        (datastore !== undefined ? `  datastore:         ${server.datastore}\n` : "") +
        `  admin credential:  ${server.adminCredentialFile}\n` +
        `  default project:   ${server.defaultProject}\n` +
        (server.httpsUrl ? `  HTTPS:             ${server.httpsUrl} (CA: ${server.caFile})\n` : "") +
        (server.proxyUrl
          ? `  HTTPS proxy:       ${server.proxyUrl} (route clients through it: eval "$(npx warrant env --proxy)")\n`
          : "") +
        (enforcement === "enforce"
          ? ""
          : `  enforcement:       ${enforcement} (${ENFORCEMENT_NOTE[enforcement]})\n`) +
        "\n" +
        `Point a shell at it with \`eval "$(npx warrant env --state-dir ${server.stateDir})"\`, i.e.:\n` +
        warrantExports({
          url: server.url,
          credentialFile: server.adminCredentialFile,
          project: server.defaultProject,
        }) +
        metadataLines(server.metadataServers()) +
        "\nPress Ctrl-C to stop.\n",
    );

    // logrotate's postrotate: the audit log is reopened by name, nothing is lost.
    const reopen = () => {
      server.reopenLogs().then(
        () => logger.info("SIGHUP: reopened audit.log"),
        (err) => logger.error({ err }, "SIGHUP: could not reopen audit.log"),
      );
    };
    process.on("SIGHUP", reopen);
    // One listener for the whole shutdown: the first signal starts it, a second one while closing
    // forces the exit. (Swapping `once` listeners left a moment with none, when a second signal
    // would have killed the process with the default action instead.)
    let onSignal: (s: NodeJS.Signals) => void = () => {};
    const signal = await new Promise<NodeJS.Signals>((done) => {
      let received = false;
      onSignal = (s) => {
        if (received) process.exit(130);
        received = true;
        done(s);
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
    });
    stderr.write(`Received ${signal}, draining requests in flight, then shutting down...\n`);
    await server.close();
    process.removeListener("SIGHUP", reopen);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    stderr.write("Stopped.\n");
    // If something still holds the event loop open, do not hang around after a clean close.
    setTimeout(() => process.exit(0), 2000).unref();
    return 0;
  },
});
