import { createPrivateKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { SignJWT } from "jose";
import {
  AdcError,
  type Credential as ClientCredential,
  credentialFromFile,
  getApplicationDefault,
} from "../client/index.js";
import { ApiClient, apiErrorFrom, networkError, USER_AGENT } from "./api.js";
import { type Config, readConfig } from "./config.js";
import { CliError } from "./errors.js";
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

export interface AuthorizedUser {
  type: "authorized_user";
  client_id: string;
  client_secret: string;
  refresh_token: string;
  token_uri?: string;
  quota_project_id?: string;
}

export interface ServiceAccountKeyFile {
  type: "service_account";
  client_email: string;
  private_key: string;
  private_key_id: string;
}

export type Credential = AuthorizedUser | ServiceAccountKeyFile;

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

export function loadCredential(file: string): Credential {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(
      `Cannot read credential file ${file}` +
        (code === "ENOENT" ? ": no such file." : `: ${(e as Error).message}`),
      "Start a server with `warrant serve` (it writes the admin credential), or pass --credential-file / " +
        "set WARRANT_CREDENTIAL_FILE to an authorized_user JSON file.",
    );
  }
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError(`Credential file ${file} is not valid JSON.`);
  }
  if (data.type === "service_account") {
    for (const k of ["client_email", "private_key", "private_key_id"]) {
      if (typeof data[k] !== "string" || data[k] === "") {
        throw new CliError(`Key file ${file} lacks the "${k}" field.`);
      }
    }
    return data as unknown as ServiceAccountKeyFile;
  }
  if (data.type !== "authorized_user") {
    throw new CliError(
      `Credential file ${file} has type ${JSON.stringify(data.type)}; "authorized_user" and "service_account" are supported.`,
    );
  }
  for (const k of ["client_id", "client_secret", "refresh_token"]) {
    if (typeof data[k] !== "string" || data[k] === "") {
      throw new CliError(`Credential file ${file} lacks the "${k}" field.`);
    }
  }
  return data as unknown as AuthorizedUser;
}

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

  private async fetchToken(): Promise<string> {
    const base = await this.fetchBaseToken();
    const target =
      this.flag("impersonate-service-account") ?? this.rt.env.WARRANT_IMPERSONATE_SERVICE_ACCOUNT;
    if (!target) return base;
    // As gcloud: the active credential mints a short-lived token for the target account.
    const res = await new ApiClient(this.endpoint(), async () => base, this.rt.fetch).request(
      "POST",
      `/v1/projects/-/serviceAccounts/${encodeURIComponent(target)}:generateAccessToken`,
      { body: { scope: ["https://www.googleapis.com/auth/cloud-platform"] } },
    );
    const token = (res as { accessToken?: unknown }).accessToken;
    if (typeof token !== "string") throw new CliError(`Impersonating ${target} returned no access token.`);
    return token;
  }

  /** The grant body for the credential file: refresh_token for a user, jwt-bearer for a key file. */
  private async grantFor(cred: Credential): Promise<Record<string, string>> {
    if (cred.type === "authorized_user")
      return {
        grant_type: "refresh_token",
        client_id: cred.client_id,
        client_secret: cred.client_secret,
        refresh_token: cred.refresh_token,
      };
    const iat = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ scope: "https://www.googleapis.com/auth/cloud-platform" })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: cred.private_key_id })
      .setIssuer(cred.client_email)
      .setAudience("https://oauth2.googleapis.com/token")
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(createPrivateKey(cred.private_key));
    return { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion };
  }

  private async fetchBaseToken(): Promise<string> {
    const fixed = this.rt.env.WARRANT_ACCESS_TOKEN;
    if (fixed) {
      this.credentialSource = "WARRANT_ACCESS_TOKEN";
      return fixed;
    }
    // No credential named and no local server's admin credential (or an instance's shell, which
    // asks for ADC): find one the way Google's tools do (GOOGLE_APPLICATION_CREDENTIALS, the ADC
    // file, the instance's metadata server).
    if (this.usesAdc()) return this.adcToken();
    const file = this.credentialFile();
    this.credentialSource = file;
    const cred = loadCredential(file);
    const endpoint = this.endpoint();
    const url = `${endpoint}/token`;
    let res: Response;
    try {
      res = await this.rt.fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
          "user-agent": USER_AGENT,
        },
        body: new URLSearchParams(await this.grantFor(cred)).toString(),
      });
    } catch (e) {
      throw networkError(endpoint, e);
    }
    if (isDebug(this.rt.env)) this.rt.stderr.write(`DEBUG: POST ${url} -> ${res.status}\n`);
    if (!res.ok) {
      const err = await apiErrorFrom(res, "POST", url);
      throw new CliError(
        `There was a problem refreshing your current auth tokens: ${err.httpStatus} ${err.message}`,
        `The credential file ${file} was rejected by ${endpoint}. Check --credential-file / ` +
          'WARRANT_CREDENTIAL_FILE, or use the admin credential of the running server: `eval "$(warrant env)"`.',
      );
    }
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown };
    if (typeof body.access_token !== "string" || body.access_token === "") {
      throw new CliError(`The token endpoint ${url} answered without an access_token.`);
    }
    return body.access_token;
  }

  private async adcToken(): Promise<string> {
    let adc: Awaited<ReturnType<typeof getApplicationDefault>>;
    try {
      adc = await getApplicationDefault({ env: this.rt.env as NodeJS.ProcessEnv });
    } catch (e) {
      if (e instanceof AdcError)
        throw new CliError(
          `No credentials found. The server's admin credential ${this.credentialFile()} does not exist, and ${e.message.replace(/^Could not/, "Application Default Credentials could not")}`,
          'On the server\'s machine run `eval "$(warrant env)"`; elsewhere pass --credential-file, or run on an instance.',
        );
      throw new CliError((e as Error).message);
    }
    this.credentialSource = adc.source;
    this.adcProjectId = adc.projectId;
    this.adcCredential = adc.credential;
    try {
      return await adc.credential.getAccessToken();
    } catch (e) {
      throw new CliError(`Could not get an access token from ${adc.source}: ${(e as Error).message}`);
    }
  }

  /**
   * The active credential as a `warrant/client` credential (for ID tokens): the named or admin
   * credential file, else Application Default Credentials.
   */
  /** Whether the CLI authenticates through Application Default Credentials rather than a file. */
  usesAdc(): boolean {
    if (this.explicitCredentialFile()) return false;
    return this.rt.env.WARRANT_CREDENTIAL_SOURCE === "adc" || !existsSync(this.credentialFile());
  }

  async clientCredential(scopes?: string[]): Promise<ClientCredential> {
    if (!this.usesAdc()) {
      const file = this.credentialFile();
      loadCredential(file); // validates, with the CLI's messages
      return credentialFromFile(file, scopes ? { scopes } : {});
    }
    if (scopes) {
      const adc = await getApplicationDefault({ env: this.rt.env as NodeJS.ProcessEnv, scopes });
      this.credentialSource = adc.source;
      return adc.credential;
    }
    await this.adcToken();
    return this.adcCredential!;
  }
  private adcCredential?: ClientCredential;

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
