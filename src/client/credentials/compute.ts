/**
 * The instance's service account, through the metadata server: what an app on a Compute Engine VM
 * (or a Warrant instance) uses with no credential file at all. Every answer must carry
 * `Metadata-Flavor: Google`, so a captive portal or a proxy answering in its place is refused.
 */
import { CredentialError } from "../errors.js";
import { type JsonRequest, requestJson, requestText } from "../http.js";
import { type AccessToken, Credential, type CredentialOptions, expiryFrom } from "./credential.js";

export const DEFAULT_METADATA_HOST = "169.254.169.254";

/** The metadata server's base URL, from the variables Google's libraries read. */
export function metadataBaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.GCE_METADATA_HOST || env.GCE_METADATA_IP || DEFAULT_METADATA_HOST;
  return `http://${host.replace(/^https?:\/\//, "").replace(/\/+$/, "")}`;
}

const requireFlavor = (res: Response) =>
  res.headers.get("metadata-flavor") === "Google"
    ? null
    : "the answer lacks the Metadata-Flavor: Google header, so it is not from a metadata server.";

export interface ComputeOptions extends CredentialOptions {
  /** Base URL of the metadata server (default from GCE_METADATA_HOST / GCE_METADATA_IP). */
  metadataUrl?: string;
  /** Scopes to ask for; default: the instance's own. */
  scopes?: string[];
  /** `default` or an account email attached to the instance. */
  serviceAccount?: string;
  timeoutMs?: number;
}

export class ComputeCredential extends Credential {
  readonly type = "compute";
  readonly metadataUrl: string;
  private readonly account: string;
  private email: string | undefined;

  constructor(private readonly opts: ComputeOptions = {}) {
    super(opts);
    this.metadataUrl = opts.metadataUrl ?? metadataBaseUrl();
    this.account = opts.serviceAccount ?? "default";
  }

  get principal() {
    return this.email;
  }

  get source() {
    return `metadata server ${this.metadataUrl}`;
  }

  private req(path: string): JsonRequest {
    return {
      url: `${this.metadataUrl}/computeMetadata/v1/${path}`,
      headers: { "Metadata-Flavor": "Google" },
      accept: requireFlavor,
      ...this.transport,
      ...(this.opts.timeoutMs !== undefined ? { timeoutMs: this.opts.timeoutMs } : {}),
    };
  }

  private accountPath(leaf: string) {
    return `instance/service-accounts/${encodeURIComponent(this.account)}/${leaf}`;
  }

  protected async fetchAccessToken(): Promise<AccessToken> {
    const scopes = this.opts.scopes?.length
      ? `?scopes=${encodeURIComponent(this.opts.scopes.join(","))}`
      : "";
    const r = await requestJson<{ access_token?: unknown; expires_in?: unknown }>(
      this.req(this.accountPath(`token${scopes}`)),
    );
    if (typeof r.access_token !== "string")
      throw new CredentialError(`${this.source} returned no access_token.`, this.metadataUrl);
    return { token: r.access_token, expiresAt: expiryFrom(r.expires_in, this.now(), this.source) };
  }

  async getIdToken(audience: string): Promise<string> {
    const q = `?audience=${encodeURIComponent(audience)}&format=full`;
    return (await requestText(this.req(this.accountPath(`identity${q}`)))).trim();
  }

  /** The account's email (asked once). */
  async getEmail(): Promise<string> {
    this.email ??= (await requestText(this.req(this.accountPath("email")))).trim();
    return this.email;
  }

  /** The OAuth scopes of the account's tokens, as the metadata server lists them. */
  async getScopes(): Promise<string[]> {
    const text = await requestText(this.req(this.accountPath("scopes")));
    return text.split(/\s+/).filter(Boolean);
  }

  /** The instance's project id. */
  async getProjectId(): Promise<string> {
    return (await requestText(this.req("project/project-id"))).trim();
  }
}

/**
 * Whether a metadata server answers, as Google's libraries decide it: `METADATA_SERVER_DETECTION`
 * may say `assume-present` or `none`; otherwise one quick request to the server's root.
 */
export async function metadataServerAvailable(env: NodeJS.ProcessEnv = process.env): Promise<string | true> {
  const mode = env.METADATA_SERVER_DETECTION?.toLowerCase();
  if (mode === "none") return "METADATA_SERVER_DETECTION=none";
  if (mode === "assume-present") return true;
  const base = metadataBaseUrl(env);
  try {
    await requestText({
      url: `${base}/computeMetadata/v1/instance/id`,
      headers: { "Metadata-Flavor": "Google" },
      accept: requireFlavor,
      // A configured host is expected to answer; the link-local default usually is not there.
      timeoutMs: env.GCE_METADATA_HOST || env.GCE_METADATA_IP ? 3000 : 500,
      retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
    });
    return true;
  } catch (err) {
    return (err as Error).message;
  }
}
