/**
 * A bearer token obtained elsewhere (`WARRANT_ACCESS_TOKEN`, gcloud's `--access-token-file`): used
 * as is, never refreshed, since there is nothing to refresh it from.
 */
import { CredentialError } from "../errors.js";
import { type AccessToken, Credential, type CredentialOptions } from "./credential.js";

export interface AccessTokenOptions extends CredentialOptions {
  /** Where the token came from, for messages (e.g. "WARRANT_ACCESS_TOKEN"). */
  from?: string;
}

export class AccessTokenCredential extends Credential {
  readonly type = "access_token";

  constructor(
    private readonly token: string,
    private readonly opts: AccessTokenOptions = {},
  ) {
    super(opts);
    if (!token) throw new CredentialError(`${this.source} is empty.`);
  }

  get principal() {
    return undefined;
  }

  get source() {
    return this.opts.from ?? "a fixed access token";
  }

  protected async fetchAccessToken(): Promise<AccessToken> {
    // Its expiry is unknown here; the server that checks it knows. Cached for the process.
    return { token: this.token, expiresAt: Number.MAX_SAFE_INTEGER };
  }

  async getIdToken(_audience: string): Promise<string> {
    throw new CredentialError(
      `${this.source}: a fixed access token cannot mint ID tokens; use a credential file or impersonate a service account.`,
    );
  }
}
