import { resolve } from "node:path";
import type { RunningServer } from "../../server/app.js";
import type { EnforcementMode } from "../../server/iam/access-control.js";
import type { LogFormat, LogLevel } from "../../server/log.js";
import { CliError, UsageError } from "../errors.js";
import { warrantExports } from "../shell.js";
import { command } from "../spec.js";

// Loaded lazily: only `serve` needs the server (and its native sqlite module).
async function loadServer(): Promise<typeof import("../../server/app.js")> {
  return import("../../server/app.js");
}

export function parsePort(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new UsageError(`argument --port: invalid port '${v}' (use 0-65535; 0 picks a free port).`);
  }
  return n;
}

/** `--external-url`: comma-separated http(s) URLs (a path is ignored: audiences match by origin). */
export function parseExternalUrls(raw: string | undefined): string[] {
  const out: string[] = [];
  for (const item of (raw ?? "")
    .split(",")
    .map((u) => u.trim())
    .filter(Boolean)) {
    let url: URL | undefined;
    try {
      url = new URL(item);
    } catch {}
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:"))
      throw new UsageError(`argument --external-url: '${item}' is not an http(s) URL.`);
    out.push(url.origin);
  }
  return out;
}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `--storage-reserve`: bytes, or a number with KiB, MiB or GiB. */
export function parseSize(raw: string): number {
  const m = /^(\d{1,15})\s*([a-z]*)$/i.exec(raw.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined)
    throw new UsageError(`argument --storage-reserve: expected a size like 64MiB, 1GiB or 0, got '${raw}'.`);
  return Number(m[1]) * unit;
}

/** `--datastore`, else WARRANT_DATASTORE_URL: a postgres:// URL, or undefined for the embedded SQLite file. */
export function parseDatastore(flag: string | undefined, env: string | undefined): string | undefined {
  const [value, from] = flag !== undefined ? [flag, "argument --datastore"] : [env, "WARRANT_DATASTORE_URL"];
  if (value === undefined || value.trim() === "") return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value.trim());
  } catch {}
  if (!url || (url.protocol !== "postgres:" && url.protocol !== "postgresql:"))
    throw new UsageError(
      `${from}: expected a postgres:// URL, got '${value.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@")}'.`,
      "Use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or leave it unset for the embedded SQLite file.",
    );
  if (url.pathname.length <= 1)
    throw new UsageError(`${from}: the URL names no database (postgres://USER@HOST:PORT/DATABASE).`);
  return value.trim();
}

const LOG_FORMATS: readonly LogFormat[] = ["json", "text"];
const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** `--log-format` (else WARRANT_LOG_FORMAT, else text on a terminal and json otherwise) and `--log-level`. */
export function parseLogging(
  format: string | undefined,
  level: string | undefined,
  stdoutIsTTY: boolean,
): { format: LogFormat; level: LogLevel } {
  const f = format || (stdoutIsTTY ? "text" : "json");
  if (!(LOG_FORMATS as readonly string[]).includes(f))
    throw new UsageError(`argument --log-format: '${f}' is not one of: ${LOG_FORMATS.join(", ")}.`);
  const l = (level || "info").toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(l))
    throw new UsageError(`argument --log-level: '${level}' is not one of: ${LOG_LEVELS.join(", ")}.`);
  return { format: f as LogFormat, level: l as LogLevel };
}

const ENFORCEMENT_MODES: readonly EnforcementMode[] = ["enforce", "audit-only", "off"];

/** The --enforcement flag, else WARRANT_ENFORCEMENT, else `enforce`. */
export function parseEnforcement(flag: string | undefined, env: string | undefined): EnforcementMode {
  const [value, from] = flag !== undefined ? [flag, "argument --enforcement"] : [env, "WARRANT_ENFORCEMENT"];
  if (value === undefined || (flag === undefined && value === "")) return "enforce";
  if ((ENFORCEMENT_MODES as readonly string[]).includes(value)) return value as EnforcementMode;
  throw new UsageError(
    `${from}: invalid enforcement mode '${value}'.`,
    `Use one of: ${ENFORCEMENT_MODES.join(", ")} (enforce is the default).`,
  );
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
    "WARRANT_HOST, WARRANT_PORT, WARRANT_ENFORCEMENT and WARRANT_DATASTORE_URL. --enforcement=audit-only lets every call through but logs those that scopes or " +
    "IAM would deny (to try policies out before enforcing them); --enforcement=off checks nothing.",
  flags: [
    { name: "host", type: "string", help: "Interface to listen on (default WARRANT_HOST or 127.0.0.1)." },
    {
      name: "port",
      type: "string",
      help: "TCP port (default WARRANT_PORT or 8080); 0 picks a free port, recorded in server.json.",
    },
    {
      name: "metadata-port",
      type: "string",
      help: "Port of each instance's metadata server, each on its own 127.0.0.x (default: the server's port).",
    },
    {
      name: "token-lifetime",
      type: "string",
      metavar: "SECONDS",
      help: "Lifetime of issued access tokens, 10-3600 (default 3600); shorter to test clients' refresh logic.",
    },
    {
      name: "enforcement",
      type: "string",
      metavar: "MODE",
      help:
        "enforce (default): scope and IAM denials fail the call; audit-only: they are logged to audit.log " +
        "as wouldDeny and the call proceeds; off: no scope or IAM checks. Default WARRANT_ENFORCEMENT or enforce.",
    },
    {
      name: "tls",
      type: "boolean",
      help:
        "Also speak HTTPS on the API port, with a certificate from the installation's CA (`warrant ca print`) " +
        "for localhost, 127.0.0.1 and the Google API host names.",
    },
    {
      name: "proxy",
      type: "boolean",
      help:
        "Run the HTTPS interception proxy on 127.0.0.1 for clients that ignore token_uri and endpoint " +
        "settings; `warrant env --proxy` prints the variables that route clients through it.",
    },
    {
      name: "proxy-port",
      type: "string",
      help: "Port of the proxy (default WARRANT_PROXY_PORT or 0: any free port, recorded in server.json).",
    },
    {
      name: "max-connections",
      type: "string",
      metavar: "N",
      help:
        "Connections the API port holds at most (default: 70% of the process's open-file limit). At the " +
        "limit the stalest stalled connection is closed for a new one; if none is stalled, the new one gets 503.",
    },
    {
      name: "max-connections-per-peer",
      type: "string",
      metavar: "N",
      help: "Connections held at most from one client address (default: a quarter of --max-connections).",
    },
    {
      name: "min-body-rate",
      type: "string",
      metavar: "BYTES_PER_SECOND",
      help: "Request bodies slower than this over 10 s are cut off with the connection (default 1024).",
    },
    {
      name: "drain-timeout",
      type: "string",
      metavar: "SECONDS",
      help:
        "On SIGTERM or SIGINT, how long requests in flight (uploads included) may take to finish before " +
        "the server closes them (default 30).",
    },
    {
      name: "agent-credential-lifetime",
      type: "string",
      metavar: "SECONDS",
      help:
        "Lifetime of metadata-server agent credentials, 60-86400 (default 3600); agents renew them half-way " +
        "through. Default WARRANT_AGENT_CREDENTIAL_LIFETIME.",
    },
    {
      name: "storage-reserve",
      type: "string",
      metavar: "SIZE",
      help:
        "Free space uploads must leave on the state directory's disk, e.g. 64MiB (default), 1GiB or 0; an " +
        "upload that would eat into it is refused with 503 and Retry-After. Default WARRANT_STORAGE_RESERVE.",
    },
    {
      name: "datastore",
      type: "string",
      metavar: "URL",
      help:
        "Keep state in PostgreSQL instead of <state-dir>/warrant.db: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE " +
        "(migrated forward on start; see docs/datastore.md). Default WARRANT_DATASTORE_URL, else the embedded SQLite file.",
    },
    {
      name: "metrics-require-permission",
      type: "boolean",
      help:
        "GET /metrics: require monitoring.timeSeries.list on the organization from every caller, loopback too " +
        "(by default a scraper on the same host needs no credential). Use it behind a reverse proxy on this host.",
    },
    {
      name: "log-format",
      type: "string",
      metavar: "FORMAT",
      help:
        "json: one JSON object per line on stdout (the default when stdout is not a terminal; the banner then " +
        "goes to stderr); text: the same records as readable lines (the default on a terminal). Default WARRANT_LOG_FORMAT.",
    },
    {
      name: "log-level",
      type: "string",
      metavar: "LEVEL",
      help:
        "fatal, error, warn, info (default), debug, trace or silent. Every request is logged at debug (info for " +
        "4xx, error for 5xx), with its request id. Default WARRANT_LOG_LEVEL.",
    },
    {
      name: "external-url",
      type: "string",
      metavar: "URL[,URL…]",
      help:
        "Other URLs clients reach this server at (e.g. https://warrant.example.com); self-signed JWTs and " +
        "jwt-bearer assertions may name them as their audience. Default WARRANT_EXTERNAL_URL.",
    },
    {
      name: "id-token-issuer",
      type: "string",
      metavar: "URL",
      help:
        "The iss of the ID tokens this server issues and of its discovery document (default " +
        "https://accounts.google.com, so Google's verifiers accept them; or WARRANT_ID_TOKEN_ISSUER). Set it to " +
        "this server's own URL to make it an OIDC issuer another Warrant's workload identity pool can trust.",
    },
  ],
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
    const host = ctx.str("host") ?? (env.WARRANT_HOST || "127.0.0.1");
    const port = parsePort(ctx.str("port") ?? (env.WARRANT_PORT || "8080"));
    const metadataPort =
      ctx.str("metadata-port") === undefined ? undefined : parsePort(ctx.str("metadata-port")!);
    const lifetimeRaw = ctx.str("token-lifetime") ?? env.WARRANT_TOKEN_LIFETIME;
    const lifetime = lifetimeRaw === undefined || lifetimeRaw === "" ? undefined : Number(lifetimeRaw);
    if (lifetime !== undefined && (!Number.isInteger(lifetime) || lifetime < 10 || lifetime > 3600))
      throw new UsageError(
        `argument --token-lifetime: an integer from 10 to 3600 seconds, got '${lifetimeRaw}'.`,
      );
    const enforcement = parseEnforcement(ctx.str("enforcement"), env.WARRANT_ENFORCEMENT);
    const proxyPortRaw = ctx.str("proxy-port") ?? (env.WARRANT_PROXY_PORT || undefined);
    if (ctx.str("proxy-port") !== undefined && !ctx.bool("proxy"))
      throw new UsageError("argument --proxy-port: only with --proxy.");
    const proxyPort = ctx.bool("proxy") ? parsePort(proxyPortRaw ?? "0") : undefined;
    const positive = (flag: string, min: number): number | undefined => {
      const raw = ctx.str(flag);
      if (raw === undefined) return undefined;
      const n = Number(raw);
      if (!/^\d+$/.test(raw.trim()) || n < min)
        throw new UsageError(`argument --${flag}: an integer of at least ${min}, got '${raw}'.`);
      return n;
    };
    const maxConnections = positive("max-connections", 1);
    const maxPerPeer = positive("max-connections-per-peer", 1);
    const minBodyRate = positive("min-body-rate", 0);
    const drainSeconds = positive("drain-timeout", 0);
    const connectionLimits = {
      ...(maxConnections !== undefined ? { maxConnections } : {}),
      ...(maxPerPeer !== undefined ? { maxConnectionsPerPeer: maxPerPeer } : {}),
      ...(minBodyRate !== undefined ? { minBodyBytesPerSecond: minBodyRate } : {}),
    };
    const agentLifetimeRaw =
      ctx.str("agent-credential-lifetime") ?? (env.WARRANT_AGENT_CREDENTIAL_LIFETIME || undefined);
    const agentLifetime = agentLifetimeRaw === undefined ? undefined : Number(agentLifetimeRaw);
    if (
      agentLifetime !== undefined &&
      (!Number.isInteger(agentLifetime) || agentLifetime < 60 || agentLifetime > 86400)
    )
      throw new UsageError(
        `argument --agent-credential-lifetime: an integer from 60 to 86400 seconds, got '${agentLifetimeRaw}'.`,
      );
    const reserveRaw = ctx.str("storage-reserve") ?? (env.WARRANT_STORAGE_RESERVE || undefined);
    const storageReserveBytes = reserveRaw === undefined ? undefined : parseSize(reserveRaw);
    const externalUrls = parseExternalUrls(ctx.str("external-url") ?? env.WARRANT_EXTERNAL_URL);
    const idTokenIssuer = ctx.str("id-token-issuer") ?? (env.WARRANT_ID_TOKEN_ISSUER || undefined);
    if (idTokenIssuer !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(idTokenIssuer))
      throw new UsageError(`argument --id-token-issuer: '${idTokenIssuer}' is not an http(s) URL.`);
    const datastore = parseDatastore(ctx.str("datastore"), env.WARRANT_DATASTORE_URL);
    const { startServer, StateDirLocked, StateDirFull, DatastoreUnavailable } = await loadServer();
    const logging = parseLogging(
      ctx.str("log-format") ?? env.WARRANT_LOG_FORMAT,
      ctx.str("log-level") ?? env.WARRANT_LOG_LEVEL,
      (stdout as { isTTY?: boolean }).isTTY === true,
    );
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
        ...(ctx.bool("metrics-require-permission") ? { metricsLoopbackOpen: false } : {}),
        enforcement,
        connectionLimits,
        ...(datastore !== undefined ? { datastore } : {}),
        ...(drainSeconds !== undefined ? { drainTimeoutMs: drainSeconds * 1000 } : {}),
        ...(ctx.bool("tls") ? { tls: true } : {}),
        ...(proxyPort !== undefined ? { proxyPort } : {}),
        ...(metadataPort !== undefined ? { metadataPort } : {}),
        ...(externalUrls.length ? { externalUrls } : {}),
        ...(idTokenIssuer !== undefined ? { idTokenIssuer } : {}),
        ...(agentLifetime !== undefined ? { agentCredentialLifetimeSeconds: agentLifetime } : {}),
        ...(storageReserveBytes !== undefined ? { storageReserveBytes } : {}),
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
    const signal = await new Promise<NodeJS.Signals>((done) => {
      process.once("SIGINT", () => done("SIGINT"));
      process.once("SIGTERM", () => done("SIGTERM"));
    });
    stderr.write(`Received ${signal}, draining requests in flight, then shutting down...\n`);
    // A second signal while closing forces the exit.
    const force = () => process.exit(130);
    process.once("SIGINT", force);
    process.once("SIGTERM", force);
    await server.close();
    process.removeListener("SIGHUP", reopen);
    process.removeListener("SIGINT", force);
    process.removeListener("SIGTERM", force);
    stderr.write("Stopped.\n");
    // If something still holds the event loop open, do not hang around after a clean close.
    setTimeout(() => process.exit(0), 2000).unref();
    return 0;
  },
});
