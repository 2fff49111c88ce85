/**
 * Acting as another service account: a source credential calls the IAM Credentials API
 * (`generateAccessToken` / `generateIdToken`), optionally through a delegation chain. The source
 * needs `iam.serviceAccounts.getAccessToken` (roles/iam.serviceAccountTokenCreator) on the target.
 */
import { CredentialError } from "../errors.js";
import { requestJson } from "../http.js";
import { type AccessToken, Credential, type CredentialOptions } from "./credential.js";
import { CLOUD_PLATFORM } from "./service-account.js";

export const GOOGLE_IAM_CREDENTIALS_URL = "https://iamcredentials.googleapis.com";

export interface ImpersonatedOptions extends CredentialOptions {
  source: Credential;
  targetPrincipal: string;
  scopes?: string[];
  delegates?: string[];
  lifetimeSeconds?: number;
  /** Base URL of the IAM Credentials API (Warrant's server URL; default Google's). */
  iamCredentialsUrl?: string;
}

export class ImpersonatedCredential extends Credential {
  readonly type = "impersonated";

  constructor(private readonly opts: ImpersonatedOptions) {
    super(opts);
  }

  get principal() {
    return this.opts.targetPrincipal;
  }

  get source() {
    return `${this.opts.source.source}, impersonating ${this.opts.targetPrincipal}`;
  }

  private url(method: string) {
    const base = (this.opts.iamCredentialsUrl ?? GOOGLE_IAM_CREDENTIALS_URL).replace(/\/+$/, "");
    return `${base}/v1/projects/-/serviceAccounts/${encodeURIComponent(this.opts.targetPrincipal)}:${method}`;
  }

  private delegates() {
    return (this.opts.delegates ?? []).map((d) => `projects/-/serviceAccounts/${d}`);
  }

  protected async fetchAccessToken(): Promise<AccessToken> {
    const url = this.url("generateAccessToken");
    const r = await requestJson<{ accessToken?: unknown; expireTime?: unknown }>({
      url,
      ...this.transport,
      headers: { authorization: `Bearer ${await this.opts.source.getAccessToken()}` },
      json: {
        scope: this.opts.scopes?.length ? this.opts.scopes : [CLOUD_PLATFORM],
        delegates: this.delegates(),
        lifetime: `${this.opts.lifetimeSeconds ?? 3600}s`,
      },
    });
    const expireTime = typeof r.expireTime === "string" ? Date.parse(r.expireTime) : Number.NaN;
    if (typeof r.accessToken !== "string" || Number.isNaN(expireTime))
      throw new CredentialError(`${url} returned no accessToken/expireTime.`, url);
    // expireTime is the server's clock; with a skewed local clock it could read as already past
    // (a fetch on every call) or far ahead (a token used after it died). Trust it only within the
    // lifetime asked for, measured on the local clock.
    const lifetime = (this.opts.lifetimeSeconds ?? 3600) * 1000;
    const now = this.now();
    const expiresAt = expireTime > now && expireTime <= now + lifetime ? expireTime : now + lifetime - 60_000;
    return { token: r.accessToken, expiresAt };
  }

  async getIdToken(audience: string): Promise<string> {
    const url = this.url("generateIdToken");
    const r = await requestJson<{ token?: unknown }>({
      url,
      ...this.transport,
      headers: { authorization: `Bearer ${await this.opts.source.getAccessToken()}` },
      json: { audience, delegates: this.delegates(), includeEmail: true },
    });
    if (typeof r.token !== "string") throw new CredentialError(`${url} returned no token.`, url);
    return r.token;
  }
}
