/**
 * Every `warrant serve` setting, declared once: its flag, its key in the config file (`warrant.yaml`
 * in the state directory, or `--config FILE`), its environment variable, what it allows, its
 * default, and its parser. The flags of `serve`, the validation of the config file and
 * `warrant config show` are all derived from this table. Precedence: flag, then environment, then
 * config file, then default.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import YAML from "yaml";
import type { EnforcementMode } from "../server/iam/access-control.js";
import type { LogFormat, LogLevel } from "../server/log.js";
import { CliError, UsageError } from "./errors.js";
import type { Env } from "./io.js";
import type { FlagSpec } from "./spec.js";
import { closest } from "./suggest.js";

export const CONFIG_FILE_NAME = "warrant.yaml";

/** A value as it arrives: a flag's or variable's text, a boolean flag, or a YAML scalar or list. */
export type Raw = string | number | boolean | string[];

export interface ServeSetting {
  /** The `warrant serve` flag, without dashes. */
  flag: string;
  /** Its path in the config file, dot-separated (`listen.port` is `listen: {port: …}`). */
  key: string;
  env?: string;
  type: "string" | "boolean";
  metavar?: string;
  help: string;
  /** What is allowed, for error messages and `config show`. */
  allowed: string;
  /** The default as shown by `config show`, when there is one. */
  default?: string;
  /** Whether `config show` must mask the value (it may hold a password). */
  secret?: boolean;
  /** Whether the config file may give a YAML list of strings. */
  list?: boolean;
  /** Parses and validates; errors begin with `from` (the flag, variable or file and key). */
  parse(raw: Raw, from: string): unknown;
}

// ---- parsers ---------------------------------------------------------------------------------

const text = (raw: Raw) => (Array.isArray(raw) ? raw.join(",") : String(raw));

export function parsePortFrom(raw: Raw, from: string): number {
  const v = text(raw);
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`${from}: invalid port '${v}' (use 0-65535; 0 picks a free port).`);
  return n;
}

const integer =
  (min: number, max: number | undefined, unit = "") =>
  (raw: Raw, from: string): number => {
    const v = text(raw);
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || n < min || (max !== undefined && n > max))
      throw new UsageError(
        max === undefined
          ? `${from}: an integer of at least ${min}, got '${v}'.`
          : `${from}: an integer from ${min} to ${max}${unit}, got '${v}'.`,
      );
    return n;
  };

const boolean = (raw: Raw, from: string): boolean => {
  if (typeof raw === "boolean") return raw;
  const v = text(raw).toLowerCase();
  if (v === "true") return true;
  if (v === "false") return false;
  throw new UsageError(`${from}: expected true or false, got '${text(raw)}'.`);
};

const oneOf =
  (choices: readonly string[], what: string, hint?: string) =>
  (raw: Raw, from: string): string => {
    const v = text(raw);
    if (choices.includes(v)) return v;
    if (hint) throw new UsageError(`${from}: ${what} '${v}'.`, hint);
    throw new UsageError(`${from}: '${v}' is not one of: ${choices.join(", ")}.`);
  };

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

export function parseSizeFrom(raw: Raw, from: string): number {
  const v = text(raw);
  const m = /^(\d{1,15})\s*([a-z]*)$/i.exec(v.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined)
    throw new UsageError(`${from}: expected a size like 64MiB, 1GiB or 0, got '${v}'.`);
  return Number(m[1]) * unit;
}

export function parseExternalUrlsFrom(raw: Raw, from: string): string[] {
  const out: string[] = [];
  for (const item of (Array.isArray(raw) ? raw.map(String) : text(raw).split(","))
    .map((u) => u.trim())
    .filter(Boolean)) {
    let url: URL | undefined;
    try {
      url = new URL(item);
    } catch {}
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:"))
      throw new UsageError(`${from}: '${item}' is not an http(s) URL.`);
    out.push(url.origin);
  }
  return out;
}

export function parseSsoIssuerFrom(raw: Raw, from: string): string {
  const v = text(raw).trim();
  let url: URL | undefined;
  try {
    url = new URL(v);
  } catch {}
  const loopback = url && ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname);
  if (
    !url ||
    !(url.protocol === "https:" || (url.protocol === "http:" && loopback)) ||
    url.search ||
    url.hash
  )
    throw new UsageError(`${from}: '${v}' is not an https issuer URL (http is allowed on loopback only).`);
  return v;
}

export function parseDomainsFrom(raw: Raw, from: string): string[] {
  const items = (Array.isArray(raw) ? raw.map(String) : text(raw).split(","))
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean);
  for (const d of items)
    if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(d))
      throw new UsageError(`${from}: '${d}' is not a domain name.`);
  if (items.length === 0) throw new UsageError(`${from}: name at least one domain.`);
  return [...new Set(items)];
}

/** A postgres URL with its password replaced, for messages and `config show`. */
export const maskPassword = (v: string) => v.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");

export function parseDatastoreFrom(raw: Raw, from: string): string | undefined {
  const value = text(raw);
  if (value.trim() === "") return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value.trim());
  } catch {}
  if (!url || (url.protocol !== "postgres:" && url.protocol !== "postgresql:"))
    throw new UsageError(
      `${from}: expected a postgres:// URL, got '${maskPassword(value)}'.`,
      "Use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or leave it unset for the embedded SQLite file.",
    );
  if (url.pathname.length <= 1)
    throw new UsageError(`${from}: the URL names no database (postgres://USER@HOST:PORT/DATABASE).`);
  return value.trim();
}

export const ENFORCEMENT_MODES: readonly EnforcementMode[] = ["enforce", "audit-only", "off"];
export const LOG_FORMATS: readonly LogFormat[] = ["json", "text"];
export const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

// ---- the table -------------------------------------------------------------------------------

export const SERVE_SETTINGS: readonly ServeSetting[] = [
  {
    flag: "host",
    key: "listen.host",
    env: "WARRANT_HOST",
    type: "string",
    help: "Interface to listen on (default WARRANT_HOST or 127.0.0.1).",
    allowed: "an interface address or host name",
    default: "127.0.0.1",
    parse: (raw, from) => {
      const v = text(raw).trim();
      if (!v || /\s/.test(v))
        throw new UsageError(`${from}: expected an interface address, got '${text(raw)}'.`);
      return v;
    },
  },
  {
    flag: "port",
    key: "listen.port",
    env: "WARRANT_PORT",
    type: "string",
    help: "TCP port (default WARRANT_PORT or 8080); 0 picks a free port, recorded in server.json.",
    allowed: "an integer 0-65535 (0 picks a free port)",
    default: "8080",
    parse: parsePortFrom,
  },
  {
    flag: "metadata-port",
    key: "listen.metadata-port",
    type: "string",
    help: "Port of each instance's metadata server, each on its own 127.0.0.x (default: the server's port).",
    allowed: "an integer 0-65535",
    default: "the server's port",
    parse: parsePortFrom,
  },
  {
    flag: "external-agents",
    key: "agents.external-only",
    type: "boolean",
    help:
      "Run no metadata server in this process: each instance's is a `warrant agent` on its own machine. For " +
      "fleets: an in-process one costs about 300 KiB and an enrollment at every start, per instance.",
    allowed: "true or false",
    default: "false",
    parse: boolean,
  },
  {
    flag: "token-lifetime",
    key: "tokens.lifetime",
    env: "WARRANT_TOKEN_LIFETIME",
    type: "string",
    metavar: "SECONDS",
    help: "Lifetime of issued access tokens, 10-3600 (default 3600); shorter to test clients' refresh logic.",
    allowed: "an integer from 10 to 3600 (seconds)",
    default: "3600",
    parse: integer(10, 3600, " seconds"),
  },
  {
    flag: "agent-credential-lifetime",
    key: "tokens.agent-credential-lifetime",
    env: "WARRANT_AGENT_CREDENTIAL_LIFETIME",
    type: "string",
    metavar: "SECONDS",
    help:
      "Lifetime of metadata-server agent credentials, 60-86400 (default 3600); agents renew them half-way " +
      "through. Default WARRANT_AGENT_CREDENTIAL_LIFETIME.",
    allowed: "an integer from 60 to 86400 (seconds)",
    default: "3600",
    parse: integer(60, 86400, " seconds"),
  },
  {
    flag: "enforcement",
    key: "enforcement",
    env: "WARRANT_ENFORCEMENT",
    type: "string",
    metavar: "MODE",
    help:
      "enforce (default): scope and IAM denials fail the call; audit-only: they are logged to audit.log " +
      "as wouldDeny and the call proceeds; off: no scope or IAM checks. Default WARRANT_ENFORCEMENT or enforce.",
    allowed: ENFORCEMENT_MODES.join(", "),
    default: "enforce",
    parse: oneOf(
      ENFORCEMENT_MODES,
      "invalid enforcement mode",
      `Use one of: ${ENFORCEMENT_MODES.join(", ")} (enforce is the default).`,
    ),
  },
  {
    flag: "tls",
    key: "tls",
    type: "boolean",
    help:
      "Also speak HTTPS on the API port, with a certificate from the installation's CA (`warrant ca print`) " +
      "for localhost, 127.0.0.1 and the Google API host names.",
    allowed: "true or false",
    default: "false",
    parse: boolean,
  },
  {
    flag: "proxy",
    key: "proxy.enabled",
    type: "boolean",
    help:
      "Run the HTTPS interception proxy on 127.0.0.1 for clients that ignore token_uri and endpoint " +
      "settings; `warrant env --proxy` prints the variables that route clients through it.",
    allowed: "true or false",
    default: "false",
    parse: boolean,
  },
  {
    flag: "proxy-port",
    key: "proxy.port",
    env: "WARRANT_PROXY_PORT",
    type: "string",
    help: "Port of the proxy (default WARRANT_PROXY_PORT or 0: any free port, recorded in server.json).",
    allowed: "an integer 0-65535 (0 picks a free port); only with the proxy enabled",
    default: "0",
    parse: parsePortFrom,
  },
  {
    flag: "max-connections",
    key: "connections.max",
    type: "string",
    metavar: "N",
    help:
      "Connections the API port holds at most (default: 70% of the process's open-file limit). At the " +
      "limit the stalest stalled connection is closed for a new one; if none is stalled, the new one gets 503.",
    allowed: "an integer of at least 1",
    default: "70% of the open-file limit",
    parse: integer(1, undefined),
  },
  {
    flag: "max-connections-per-peer",
    key: "connections.max-per-peer",
    type: "string",
    metavar: "N",
    help: "Connections held at most from one client address (default: a quarter of --max-connections).",
    allowed: "an integer of at least 1",
    default: "a quarter of connections.max",
    parse: integer(1, undefined),
  },
  {
    flag: "min-body-rate",
    key: "connections.min-body-rate",
    type: "string",
    metavar: "BYTES_PER_SECOND",
    help: "Request bodies slower than this over 10 s are cut off with the connection (default 1024).",
    allowed: "an integer of at least 0 (bytes per second)",
    default: "1024",
    parse: integer(0, undefined),
  },
  {
    flag: "drain-timeout",
    key: "shutdown.drain-timeout",
    type: "string",
    metavar: "SECONDS",
    help:
      "On SIGTERM or SIGINT, how long requests in flight (uploads included) may take to finish before " +
      "the server closes them (default 30).",
    allowed: "an integer of at least 0 (seconds)",
    default: "30",
    parse: integer(0, undefined),
  },
  {
    flag: "storage-reserve",
    key: "storage.reserve",
    env: "WARRANT_STORAGE_RESERVE",
    type: "string",
    metavar: "SIZE",
    help:
      "Free space uploads must leave on the state directory's disk, e.g. 64MiB (default), 1GiB or 0; an " +
      "upload that would eat into it is refused with 503 and Retry-After. Default WARRANT_STORAGE_RESERVE.",
    allowed: "a size: bytes, or a number with KiB, MiB or GiB (e.g. 64MiB, 1GiB, 0)",
    default: "64MiB",
    parse: parseSizeFrom,
  },
  {
    flag: "datastore",
    key: "datastore",
    env: "WARRANT_DATASTORE_URL",
    type: "string",
    metavar: "URL",
    help:
      "Keep state in PostgreSQL instead of <state-dir>/warrant.db: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE " +
      "(migrated forward on start; see docs/datastore.md). Default WARRANT_DATASTORE_URL, else the embedded SQLite file.",
    allowed: "a postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE URL",
    default: "the embedded SQLite file <state-dir>/warrant.db",
    secret: true,
    parse: parseDatastoreFrom,
  },
  {
    flag: "blob-dir",
    key: "storage.blob-dir",
    env: "WARRANT_BLOB_DIR",
    type: "string",
    metavar: "DIR",
    help:
      "Keep object bytes (and resumable uploads in progress) in DIR instead of <state-dir>/storage. Nodes " +
      "serving one installation from one PostgreSQL datastore must all mount the same DIR (e.g. NFS); see " +
      "docs/deployment.md. Default WARRANT_BLOB_DIR.",
    allowed: "a directory path",
    default: "<state-dir>/storage",
    parse: (raw, from) => {
      const v = text(raw).trim();
      if (!v) throw new UsageError(`${from}: expected a directory path, got '${text(raw)}'.`);
      return v;
    },
  },
  {
    flag: "metrics-require-permission",
    key: "metrics.require-permission",
    type: "boolean",
    help:
      "GET /metrics: require monitoring.timeSeries.list on the organization from every caller, loopback too " +
      "(by default a scraper on the same host needs no credential). Use it behind a reverse proxy on this host.",
    allowed: "true or false",
    default: "false",
    parse: boolean,
  },
  {
    flag: "log-format",
    key: "log.format",
    env: "WARRANT_LOG_FORMAT",
    type: "string",
    metavar: "FORMAT",
    help:
      "json: one JSON object per line on stdout (the default when stdout is not a terminal; the banner then " +
      "goes to stderr); text: the same records as readable lines (the default on a terminal). Default WARRANT_LOG_FORMAT.",
    allowed: LOG_FORMATS.join(", "),
    default: "text on a terminal, else json",
    parse: oneOf(LOG_FORMATS, "log format"),
  },
  {
    flag: "log-level",
    key: "log.level",
    env: "WARRANT_LOG_LEVEL",
    type: "string",
    metavar: "LEVEL",
    help:
      "fatal, error, warn, info (default), debug, trace or silent. Every request is logged at debug (info for " +
      "4xx, error for 5xx), with its request id. Default WARRANT_LOG_LEVEL.",
    allowed: LOG_LEVELS.join(", "),
    default: "info",
    parse: (raw, from) => oneOf(LOG_LEVELS, "log level")(text(raw).toLowerCase(), from),
  },
  {
    flag: "external-url",
    key: "external-urls",
    env: "WARRANT_EXTERNAL_URL",
    type: "string",
    metavar: "URL[,URL…]",
    help:
      "Other URLs clients reach this server at (e.g. https://warrant.example.com); self-signed JWTs and " +
      "jwt-bearer assertions may name them as their audience. Default WARRANT_EXTERNAL_URL.",
    allowed: "http(s) URLs (a YAML list, or comma-separated)",
    default: "none",
    list: true,
    parse: parseExternalUrlsFrom,
  },
  {
    flag: "sso-issuer",
    key: "sso.issuer",
    env: "WARRANT_SSO_ISSUER",
    type: "string",
    metavar: "URL",
    help:
      "Issuer URL of an upstream OpenID Connect provider (the corporate identity provider) people may sign in " +
      'through: the sign-in page then offers "Sign in with …". Needs --sso-client-id and --sso-allowed-domain ' +
      "(docs/sign-in.md). https, or http on a loopback address.",
    allowed: "an https URL (http only on 127.0.0.1, ::1 or localhost)",
    default: "none",
    parse: parseSsoIssuerFrom,
  },
  {
    flag: "sso-client-id",
    key: "sso.client-id",
    env: "WARRANT_SSO_CLIENT_ID",
    type: "string",
    metavar: "ID",
    help: "This installation's client id at the upstream provider.",
    allowed: "a client id",
    default: "none",
    parse: (raw, from) => {
      const v = text(raw).trim();
      if (!/^[\x21-\x7e]{1,256}$/.test(v)) throw new UsageError(`${from}: '${v}' is not a client id.`);
      return v;
    },
  },
  {
    flag: "sso-client-secret-file",
    key: "sso.client-secret-file",
    env: "WARRANT_SSO_CLIENT_SECRET_FILE",
    type: "string",
    metavar: "PATH",
    help:
      "File holding the client secret at the upstream provider (one trailing newline ignored); absent: the " +
      "upstream treats Warrant as a public client (PKCE only). A file, not a value, so the secret stays out " +
      "of process lists and config dumps.",
    allowed: "a readable file",
    default: "none",
    parse: (raw) => text(raw).trim(),
  },
  {
    flag: "sso-allowed-domain",
    key: "sso.allowed-domains",
    env: "WARRANT_SSO_ALLOWED_DOMAIN",
    type: "string",
    metavar: "DOMAIN[,DOMAIN…]",
    help:
      "E-mail domains whose people may sign in through the upstream provider (e.g. example.com); anyone else " +
      "is refused with a page saying so. Required with --sso-issuer.",
    allowed: "domain names (a YAML list, or comma-separated)",
    default: "none",
    list: true,
    parse: parseDomainsFrom,
  },
  {
    flag: "sso-name",
    key: "sso.name",
    env: "WARRANT_SSO_NAME",
    type: "string",
    metavar: "NAME",
    help: "The provider's name on the sign-in page's button, \"Sign in with NAME\" (default the issuer's host).",
    allowed: "up to 60 characters",
    default: "the issuer's host",
    parse: (raw, from) => {
      const v = text(raw).trim();
      if (v.length === 0 || v.length > 60 || /[\p{Cc}]/u.test(v))
        throw new UsageError(`${from}: a name of 1 to 60 printable characters, got '${v}'.`);
      return v;
    },
  },
  {
    flag: "id-token-issuer",
    key: "id-token-issuer",
    env: "WARRANT_ID_TOKEN_ISSUER",
    type: "string",
    metavar: "URL",
    help:
      "The iss of the ID tokens this server issues and of its discovery document (default " +
      "https://accounts.google.com, so Google's verifiers accept them; or WARRANT_ID_TOKEN_ISSUER). Set it to " +
      "this server's own URL to make it an OIDC issuer another Warrant's workload identity pool can trust.",
    allowed: "an http(s) URL",
    default: "https://accounts.google.com",
    parse: (raw, from) => {
      const v = text(raw).trim();
      if (v === "") return undefined;
      if (!/^https?:\/\/[^\s/]+(\/\S*)?$/.test(v))
        throw new UsageError(`${from}: '${v}' is not an http(s) URL.`);
      return v;
    },
  },
  {
    flag: "audit-max-size",
    key: "audit.max-size",
    env: "WARRANT_AUDIT_MAX_SIZE",
    type: "string",
    metavar: "SIZE",
    help:
      "Rotate audit.log when it would grow past SIZE, e.g. 100MiB (default), 1GiB; it becomes audit.log.1 " +
      "(and .1 becomes .2, …). 0 turns rotation off (logrotate and SIGHUP instead).",
    allowed: "a size: bytes, or a number with KiB, MiB or GiB (e.g. 100MiB; 0 = never rotate)",
    default: "100MiB",
    parse: parseSizeFrom,
  },
  {
    flag: "audit-max-files",
    key: "audit.max-files",
    env: "WARRANT_AUDIT_MAX_FILES",
    type: "string",
    metavar: "N",
    help: "Rotated audit files kept (audit.log.1 … audit.log.N, default 10); older ones are deleted.",
    allowed: "an integer from 1 to 1000",
    default: "10",
    parse: integer(1, 1000),
  },
  {
    flag: "audit-stdout",
    key: "audit.stdout",
    type: "boolean",
    help:
      'Also write every audit entry to stdout, as a log record with "msg":"audit" and the entry under ' +
      '"audit" (whatever --log-level), for a log shipper that collects stdout.',
    allowed: "true or false",
    default: "false",
    parse: boolean,
  },
];

/** The `warrant serve` flags, derived from the table (plus --config). */
export function serveFlags(): FlagSpec[] {
  return [
    ...SERVE_SETTINGS.map(
      (s): FlagSpec => ({
        name: s.flag,
        type: s.type,
        help: `${s.help} Config key: ${s.key}.`,
        ...(s.metavar ? { metavar: s.metavar } : {}),
      }),
    ),
    {
      name: "config",
      type: "string",
      metavar: "FILE",
      help: `Read settings from this YAML file instead of <state-dir>/${CONFIG_FILE_NAME} (see docs/operations.md).`,
    },
  ];
}

// ---- resolution ------------------------------------------------------------------------------

export interface Resolved {
  value: unknown;
  /** `--port`, `WARRANT_PORT`, `/etc/warrant.yaml: listen.port` or `default`. */
  source: string;
}

export interface ServeConfig {
  /** The config file read, if any. */
  file?: string;
  /** By flag name; settings left at their default are absent. */
  values: Map<string, Resolved>;
}

/** Reads a config file: every key known, every value valid, or a UsageError naming the key's path. */
export function readConfigFile(file: string): Map<string, { raw: Raw; from: string }> {
  try {
    return readConfigFileOrThrow(file);
  } catch (e) {
    throw fileError(e);
  }
}

/** A config file's problems are no usage errors: refused at start (exit 2) without the usage line. */
function fileError(e: unknown, allowed?: string): unknown {
  if (!(e instanceof UsageError)) return e;
  const hint = e.hint ?? (allowed && !e.message.includes(allowed) ? `Allowed: ${allowed}.` : undefined);
  return new CliError(e.message, hint, 2);
}

function readConfigFileOrThrow(file: string): Map<string, { raw: Raw; from: string }> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(
      `Cannot read the config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`,
    );
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const out = new Map<string, { raw: Raw; from: string }>();
  if (doc === null || doc === undefined) return out;
  const byKey = new Map(SERVE_SETTINGS.map((s) => [s.key, s]));
  const sections = new Set(
    SERVE_SETTINGS.filter((s) => s.key.includes(".")).map((s) => s.key.split(".")[0]!),
  );
  const walk = (node: unknown, prefix: string) => {
    if (node === null || typeof node !== "object" || Array.isArray(node))
      throw new UsageError(
        `${file}: ${prefix || "the document"}: expected a mapping of keys${prefix ? "" : " (e.g. `listen:`)"}, got ${describe(node)}.`,
      );
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      const path = prefix ? `${prefix}.${k}` : k;
      const setting = byKey.get(path);
      if (setting) {
        out.set(setting.flag, { raw: scalar(v, file, path, setting), from: `${file}: ${path}` });
        continue;
      }
      if (!prefix && sections.has(k)) {
        walk(v, k);
        continue;
      }
      const known = [...byKey.keys()];
      const guess = closest(path, known);
      throw new UsageError(
        `${file}: unknown key '${path}'.`,
        `${guess ? `Did you mean '${guess}'? ` : ""}Allowed keys: ${known.join(", ")}.`,
      );
    }
  };
  walk(doc, "");
  return out;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} '${String(v)}'`;
}

function scalar(v: unknown, file: string, path: string, s: ServeSetting): Raw {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") {
    if (s.type === "boolean" && typeof v !== "boolean")
      throw new UsageError(`${file}: ${path}: expected true or false, got ${describe(v)}.`);
    return v;
  }
  if (Array.isArray(v) && s.list && v.every((x) => typeof x === "string")) return v as string[];
  throw new UsageError(`${file}: ${path}: expected ${s.allowed}, got ${describe(v)}.`);
}

/** Which config file applies: --config, else <state-dir>/warrant.yaml when it exists. */
export function configFileFor(stateDir: string, flag: string | undefined, cwd: string): string | undefined {
  if (flag !== undefined) {
    const file = isAbsolute(flag) ? flag : resolve(cwd, flag);
    if (!existsSync(file)) throw new UsageError(`argument --config: ${file} does not exist.`);
    return file;
  }
  const file = join(stateDir, CONFIG_FILE_NAME);
  return existsSync(file) ? file : undefined;
}

/**
 * Resolves every setting: the flag, else its environment variable (empty counts as unset), else the
 * config file, else absent (the default applies). Every value in the file is validated, even one a
 * flag overrides, so a bad file is refused at start, not on the day the flag is dropped.
 */
export function resolveServeConfig(
  flag: (name: string) => string | boolean | undefined,
  env: Env,
  file: string | undefined,
): ServeConfig {
  const fromFile = file ? readConfigFile(file) : new Map<string, { raw: Raw; from: string }>();
  const values = new Map<string, Resolved>();
  for (const s of SERVE_SETTINGS) {
    const candidates: { raw: Raw; from: string; source: string }[] = [];
    const f = flag(s.flag);
    if (f !== undefined && !(s.type === "boolean" && f === false))
      candidates.push({ raw: f, from: `argument --${s.flag}`, source: `--${s.flag}` });
    const e = s.env ? env[s.env] : undefined;
    if (s.env && e !== undefined && e !== "") candidates.push({ raw: e, from: s.env, source: s.env });
    const c = fromFile.get(s.flag);
    if (c) candidates.push(Object.assign(c, { source: c.from }));
    const first = candidates[0];
    if (!first) continue;
    const parse = (cand: { raw: Raw; from: string }) => {
      try {
        return s.parse(cand.raw, cand.from);
      } catch (e) {
        throw cand === c ? fileError(e, s.allowed) : e;
      }
    };
    values.set(s.flag, { value: parse(first), source: first.source });
    // The file is validated whole, even where a flag or variable overrides it.
    if (c && first !== c) parse(c);
  }
  const proxy = values.get("proxy")?.value === true;
  const proxyPort = values.get("proxy-port");
  if (proxyPort && !proxy && !proxyPort.source.startsWith("WARRANT_"))
    throw new UsageError(
      `${proxyPort.source === "--proxy-port" ? "argument --proxy-port" : proxyPort.source}: only with --proxy (or proxy.enabled: true).`,
    );
  const sso = [
    "sso-issuer",
    "sso-client-id",
    "sso-allowed-domain",
    "sso-client-secret-file",
    "sso-name",
  ].filter((f) => values.has(f));
  if (sso.length)
    for (const need of ["sso-issuer", "sso-client-id", "sso-allowed-domain"])
      if (!values.has(need))
        throw new UsageError(
          `--${need} is required with ${sso.map((f) => `--${f}`).join(", ")} (or sso.${need.slice(4).replace("allowed-domain", "allowed-domains")} in the config file).`,
        );
  return { ...(file ? { file } : {}), values };
}

/** The effective configuration as rows for `warrant config show`: key, value, source. */
export function showRows(cfg: ServeConfig): { key: string; flag: string; value: string; source: string }[] {
  return SERVE_SETTINGS.map((s) => {
    const r = cfg.values.get(s.flag);
    if (!r) return { key: s.key, flag: `--${s.flag}`, value: s.default ?? "", source: "default" };
    let value = Array.isArray(r.value) ? r.value.join(",") : String(r.value);
    if (s.secret) value = maskPassword(value);
    return { key: s.key, flag: `--${s.flag}`, value, source: r.source };
  });
}
