import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { safeUrl } from "../client/http.js";
import {
  AccessTokenCredential,
  AdcError,
  type Credential as ClientCredential,
  ComputeCredential,
  CredentialError,
  credentialFromFile,
  getApplicationDefault,
  ImpersonatedCredential,
} from "../client/index.js";
import { ApiClient, networkError, USER_AGENT } from "./api.js";
import { type Config, readConfig } from "./config.js";
import { ApiError, CliError } from "./errors.js";
import { isDebug, type Runtime } from "./io.js";

export interface ServerInfo {
  url: string;
  pid?: number;
  defaultProject?: string;
  adminCredentialFile?: string;
  /** `enforce`, `audit-only` or `off` (see `warrant serve --enforcement`). */
  enforcement?: string;
  /** host:port of each instance's metadata server, by instance resource name. */
  metadataServers?: Record<string, string>;
  /** With `serve --tls`: the API port's https URL. */
  httpsUrl?: string;
  /** With `serve --proxy`: the interception proxy's URL. */
  proxyUrl?: string;
  /** With --tls or --proxy: the CA certificate, and the system bundle followed by it. */
  caFile?: string;
  caBundleFile?: string;
}

export interface Source<T> {
  value: T;
  /** Where the value came from, for messages ("--project flag", "WARRANT_PROJECT", ...). */
  from: string;
}

export function defaultStateDir(rt: Pick<Runtime, "env" | "cwd">, flag?: string): string {
  return resolve(rt.cwd, flag ?? (rt.env.WARRANT_STATE_DIR || ".warrant"));
}

export function readServerInfo(stateDir: string): ServerInfo | undefined {
  const file = join(stateDir, "server.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`Cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    const info = JSON.parse(text) as ServerInfo;
    if (typeof info.url !== "string") throw new Error("no url");
    return info;
  } catch {
    throw new CliError(`${file} is not a valid server.json (expected {"url": ...}).`);
  }
}

/** Is the process that wrote server.json still alive? (undefined when unknown) */
export function serverAlive(info: ServerInfo): boolean | undefined {
  if (typeof info.pid !== "number") return undefined;
  try {
    process.kill(info.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The credential in `file`, as a `warrant/client` credential whose grants go to `tokenUri` through
 * `fetch`: the client library is the CLI's only implementation of key-file loading, the refresh-token
 * grant and the jwt-bearer grant. Its errors become CLI errors with the CLI's hint.
 */
export async function loadCredential(
  file: string,
  opts: { tokenUri?: string; scopes?: string[]; fetch?: typeof fetch } = {},
): Promise<ClientCredential> {
  try {
    return await credentialFromFile(file, {
      ...(opts.tokenUri ? { tokenUri: opts.tokenUri } : {}),
      ...(opts.scopes ? { scopes: opts.scopes } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      // One attempt, as the CLI always made: a person at a terminal reruns the command.
      retry: ONE_ATTEMPT,
    });
  } catch (e) {
    if (!(e instanceof CredentialError)) throw e;
    throw new CliError(
      e.message,
      /^Cannot read credential file/.test(e.message)
        ? "Start a server with `warrant serve` (it writes the admin credential), or pass --credential-file / " +
            "set WARRANT_CREDENTIAL_FILE to an authorized_user JSON file."
        : undefined,
    );
  }
}

/** The CLI's message for a token request that got no answer (the client's names the cause). */
function unreachable(endpoint: string | undefined, e: CredentialError): CliError {
  const m = /(?:cannot connect|request failed) \((.*)\)$/.exec(e.message);
  return networkError(endpoint ?? "(no endpoint)", { cause: { code: m?.[1] ?? e.message } });
}

const ONE_ATTEMPT = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 };

/** Resolves endpoint, credential and project lazily, and holds the per-process access token. */
export class Session {
  private config?: Config;
  private info?: ServerInfo | null;
  private tokenPromise?: Promise<string>;
  private client?: ApiClient;

  constructor(
    private readonly rt: Runtime,
    private readonly flags: ReadonlyMap<string, string | boolean>,
  ) {}

  private flag(name: string): string | undefined {
    const v = this.flags.get(name);
    return typeof v === "string" ? v : undefined;
  }

  private cfg(): Config {
    this.config ??= readConfig(this.rt.env);
    return this.config;
  }

  stateDir(): string {
    return defaultStateDir(this.rt, this.flag("state-dir"));
  }

  serverInfo(): ServerInfo | undefined {
    if (this.info === undefined) this.info = readServerInfo(this.stateDir()) ?? null;
    return this.info ?? undefined;
  }

  endpointSource(): Source<string> {
    const strip = (s: string) => s.replace(/\/+$/, "");
    const f = this.flag("endpoint");
    if (f) return { value: strip(f), from: "--endpoint" };
    if (this.rt.env.WARRANT_ENDPOINT)
      return { value: strip(this.rt.env.WARRANT_ENDPOINT), from: "WARRANT_ENDPOINT" };
    const c = this.cfg().endpoint;
    if (c) return { value: strip(c), from: "config property endpoint" };
    const info = this.serverInfo();
    if (info) return { value: strip(info.url), from: join(this.stateDir(), "server.json") };
    throw new CliError(
      `No Warrant endpoint: --endpoint, WARRANT_ENDPOINT and the endpoint property are unset, and there is no ` +
        `server.json in ${this.stateDir()}.`,
      'Start a server with `warrant serve`, run `eval "$(warrant env)"`, or pass --endpoint/--state-dir.',
    );
  }

  endpoint(): string {
    return this.endpointSource().value;
  }

  /** A credential file named by --credential-file, WARRANT_CREDENTIAL_FILE or the config. */
  explicitCredentialFile(): string | undefined {
    const abs = (p: string) => (isAbsolute(p) ? p : resolve(this.rt.cwd, p));
    const f = this.flag("credential-file");
    if (f) return abs(f);
    if (this.rt.env.WARRANT_CREDENTIAL_FILE) return abs(this.rt.env.WARRANT_CREDENTIAL_FILE);
    const c = this.cfg().credential_file;
    if (c) return abs(c);
    return undefined;
  }

  credentialFile(): string {
    const explicit = this.explicitCredentialFile();
    if (explicit) return explicit;
    const info = this.serverInfo();
    if (info?.adminCredentialFile)
      return isAbsolute(info.adminCredentialFile)
        ? info.adminCredentialFile
        : resolve(this.rt.cwd, info.adminCredentialFile);
    return join(this.stateDir(), "admin-credentials.json");
  }

  /** How the CLI authenticates, for `warrant auth list`. Filled in once a token was fetched. */
  credentialSource?: string;

  /** The --project flag only (some commands switch behaviour on an explicit project). */
  explicitProject(): string | undefined {
    return this.flag("project");
  }

  projectSource(): Source<string> | undefined {
    const f = this.flag("project");
    if (f) return { value: f, from: "--project" };
    for (const k of ["WARRANT_PROJECT", "CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT"]) {
      const v = this.rt.env[k];
      if (v) return { value: v, from: k };
    }
    const c = this.cfg().project;
    if (c) return { value: c, from: "config property project" };
    return undefined;
  }

  project(): string {
    const p = this.projectSource();
    if (!p) {
      throw new CliError(
        "No project set; pass --project or run `warrant config set project P`.",
        "WARRANT_PROJECT (set by `warrant env`) also works.",
      );
    }
    return p.value;
  }

  accessToken(): Promise<string> {
    this.tokenPromise ??= this.fetchToken();
    return this.tokenPromise;
  }

  /**
   * The CLI's fetch for token requests: its user agent, and a DEBUG line per request. Injected into
   * `warrant/client` credentials, so tests' runtimes see every request.
   */
  private readonly tokenFetch: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    if (!headers.has("user-agent")) headers.set("user-agent", USER_AGENT);
    const res = await this.rt.fetch(input, { ...init, headers });
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (isDebug(this.rt.env))
      this.rt.stderr.write(`DEBUG: ${init?.method ?? "GET"} ${safeUrl(url)} -> ${res.status}\n`);
    return res;
  };

  private async fetchToken(): Promise<string> {
    const base = await this.baseCredential();
    const target =
      this.flag("impersonate-service-account") ?? this.rt.env.WARRANT_IMPERSONATE_SERVICE_ACCOUNT;
    if (!target) return this.tokenOf(base, this.endpointOrUndefined());
    // As gcloud: the active credential mints a short-lived token for the target account.
    await this.tokenOf(base, this.endpointOrUndefined());
    const impersonated = new ImpersonatedCredential({
      source: base,
      targetPrincipal: target,
      iamCredentialsUrl: this.endpoint(),
      fetch: this.tokenFetch,
      retry: ONE_ATTEMPT,
    });
    return this.tokenOf(impersonated, this.endpoint(), target);
  }

  private endpointOrUndefined(): string | undefined {
    try {
      return this.endpoint();
    } catch {
      return undefined;
    }
  }

  /** The credential the CLI acts as before any impersonation, from WARRANT_ACCESS_TOKEN, a file or ADC. */
  private async baseCredential(scopes?: string[], useFixedToken = true): Promise<ClientCredential> {
    const fixed = this.rt.env.WARRANT_ACCESS_TOKEN;
    if (fixed && useFixedToken) {
      this.credentialSource = "WARRANT_ACCESS_TOKEN";
      return new AccessTokenCredential(fixed, { from: "WARRANT_ACCESS_TOKEN" });
    }
    // No credential named and no local server's admin credential (or an instance's shell, which
    // asks for ADC): find one the way Google's tools do (GOOGLE_APPLICATION_CREDENTIALS, the ADC
    // file, the instance's metadata server).
    if (this.usesAdc()) return this.adcCredentialFor(scopes);
    const file = this.credentialFile();
    this.credentialSource = file;
    let endpoint: string | undefined;
    let noEndpoint: unknown;
    try {
      endpoint = this.endpoint();
    } catch (e) {
      noEndpoint = e;
    }
    // The grant goes to this CLI's endpoint, whatever token_uri the file names.
    const credential = await loadCredential(file, {
      ...(endpoint ? { tokenUri: `${endpoint}/token` } : {}),
      fetch: this.tokenFetch,
      ...(scopes ? { scopes } : {}),
    });
    if (noEndpoint) throw noEndpoint;
    return credential;
  }

  /** A token of `credential`, with the CLI's messages for a refused or unreachable token request. */
  private async tokenOf(credential: ClientCredential, endpoint?: string, target?: string): Promise<string> {
    try {
      return await credential.getAccessToken();
    } catch (e) {
      if (!(e instanceof CredentialError)) throw e;
      if (credential instanceof ImpersonatedCredential) {
        const url = `${endpoint}/v1/projects/-/serviceAccounts/${encodeURIComponent(target ?? "")}:generateAccessToken`;
        if (e.status === undefined) throw unreachable(endpoint, e);
        throw new ApiError(
          e.status,
          e.detail?.message ?? e.message,
          e.detail?.status,
          e.detail?.reason,
          "POST",
          url,
        );
      }
      if (credential instanceof ComputeCredential || this.usesAdc())
        throw new CliError(`Could not get an access token from ${this.credentialSource}: ${e.message}`);
      if (e.status === undefined) throw unreachable(endpoint, e);
      throw new CliError(
        `There was a problem refreshing your current auth tokens: ${e.status} ${e.detail?.message ?? e.message}`,
        `The credential file ${this.credentialFile()} was rejected by ${endpoint}. Check --credential-file / ` +
          'WARRANT_CREDENTIAL_FILE, or use the admin credential of the running server: `eval "$(warrant env)"`.',
      );
    }
  }

  private async adcCredentialFor(scopes?: string[]): Promise<ClientCredential> {
    let adc: Awaited<ReturnType<typeof getApplicationDefault>>;
    try {
      adc = await getApplicationDefault({
        env: this.rt.env as NodeJS.ProcessEnv,
        fetch: this.tokenFetch,
        ...(scopes ? { scopes } : {}),
      });
    } catch (e) {
      if (e instanceof AdcError)
        throw new CliError(
          `No credentials found. The server's admin credential ${this.credentialFile()} does not exist, and ${e.message.replace(/^Could not/, "Application Default Credentials could not")}`,
          'On the server\'s machine run `eval "$(warrant env)"`; elsewhere pass --credential-file, or run on an instance.',
        );
      throw new CliError((e as Error).message);
    }
    this.credentialSource = adc.source;
    if (!scopes) this.adcProjectId = adc.projectId;
    return adc.credential;
  }

  /** Whether the CLI authenticates through Application Default Credentials rather than a file. */
  usesAdc(): boolean {
    if (this.explicitCredentialFile()) return false;
    return this.rt.env.WARRANT_CREDENTIAL_SOURCE === "adc" || !existsSync(this.credentialFile());
  }

  /**
   * The active credential as a `warrant/client` credential (for ID tokens, or tokens with other
   * scopes): the named or admin credential file, else Application Default Credentials.
   */
  async clientCredential(scopes?: string[]): Promise<ClientCredential> {
    if (!scopes) {
      this.clientCredentialPromise ??= this.baseCredential(undefined, false).then(async (c) => {
        await this.tokenOf(c, this.endpointOrUndefined());
        return c;
      });
      return this.clientCredentialPromise;
    }
    return this.baseCredential(scopes, false);
  }
  private clientCredentialPromise?: Promise<ClientCredential>;

  /** The project ADC found (GOOGLE_CLOUD_PROJECT or the credential's), once a token was fetched. */
  adcProjectId?: string;

  api(): ApiClient {
    this.client ??= new ApiClient(
      this.endpoint(),
      () => this.accessToken(),
      this.rt.fetch,
      isDebug(this.rt.env) ? this.rt.stderr : undefined,
    );
    return this.client;
  }
}
