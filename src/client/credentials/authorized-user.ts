/**
 * An `authorized_user` file (what `warrant auth application-default login` or gcloud writes): a
 * refresh token traded at the file's `token_uri` for access tokens that act as the user.
 */
import { CredentialError } from "../errors.js";
import { requestJson } from "../http.js";
import { type AccessToken, Credential, type CredentialOptions, expiryFrom } from "./credential.js";

export const GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token";

export interface AuthorizedUserFile {
  type: "authorized_user";
  client_id: string;
  /** Absent for a public client (Warrant's CLI sign-in), which authenticates by its id alone. */
  client_secret?: string;
  refresh_token: string;
  token_uri?: string;
  quota_project_id?: string;
  /** Written by Warrant: the user the refresh token belongs to. */
  account?: string;
}

export interface AuthorizedUserOptions extends CredentialOptions {
  scopes?: string[];
  file?: string;
  /** Where to trade the refresh token, instead of the file's `token_uri` (e.g. a chosen server). */
  tokenUri?: string;
}

export class AuthorizedUserCredential extends Credential {
  readonly type = "authorized_user";

  constructor(
    readonly userFile: AuthorizedUserFile,
    private readonly opts: AuthorizedUserOptions = {},
  ) {
    super(opts);
    for (const field of ["client_id", "refresh_token"] as const)
      if (typeof userFile[field] !== "string" || !userFile[field])
        throw new CredentialError(
          `${this.source}: an authorized_user file needs ${field} (it lacks the "${field}" field).`,
          opts.file,
        );
    if (
      userFile.client_secret !== undefined &&
      (typeof userFile.client_secret !== "string" || !userFile.client_secret)
    )
      throw new CredentialError(
        `${this.source}: client_secret must be a non-empty string when present.`,
        opts.file,
      );
  }

  get principal() {
    return this.userFile.account;
  }

  get source() {
    return this.opts.file ? `credential file ${this.opts.file}` : "authorized_user credential";
  }

  get tokenUri() {
    return this.opts.tokenUri || this.userFile.token_uri || GOOGLE_TOKEN_URI;
  }

  protected async fetchAccessToken(): Promise<AccessToken> {
    const uri = this.tokenUri;
    const r = await requestJson<{ access_token?: unknown; expires_in?: unknown }>({
      url: uri,
      ...this.transport,
      form: {
        grant_type: "refresh_token",
        client_id: this.userFile.client_id,
        ...(this.userFile.client_secret !== undefined ? { client_secret: this.userFile.client_secret } : {}),
        refresh_token: this.userFile.refresh_token,
        ...(this.opts.scopes?.length ? { scope: this.opts.scopes.join(" ") } : {}),
      },
    });
    if (typeof r.access_token !== "string")
      throw new CredentialError(`${uri} returned no access_token.`, uri);
    return { token: r.access_token, expiresAt: expiryFrom(r.expires_in, this.now(), uri) };
  }

  async getIdToken(_audience: string): Promise<string> {
    throw new CredentialError(
      `${this.source}: user credentials cannot mint ID tokens for an arbitrary audience; impersonate a service account (ImpersonatedCredential) instead.`,
    );
  }
}
