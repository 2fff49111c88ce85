/**
 * A service-account key file. With scopes it trades a signed assertion for an access token at the
 * file's `token_uri` (the jwt-bearer grant); with `selfSignedJwt` it skips the round trip and
 * presents a JWT it signs itself, which Warrant's (and Google's) APIs accept.
 */
import { createPrivateKey, type KeyObject, randomUUID, sign } from "node:crypto";
import { CredentialError } from "../errors.js";
import { requestJson } from "../http.js";
import { type AccessToken, Credential, type CredentialOptions, expiryFrom } from "./credential.js";

export const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
const ASSERTION_LIFETIME_S = 3600;

export interface ServiceAccountKeyFile {
  type: "service_account";
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
  project_id?: string;
}

export interface ServiceAccountOptions extends CredentialOptions {
  scopes?: string[];
  /** Present self-signed JWTs instead of calling the token endpoint. */
  selfSignedJwt?: boolean;
  /** The `aud` of self-signed JWTs (default: the scopes go in a `scope` claim instead). */
  audience?: string;
  /** Where the key came from, for messages. */
  file?: string;
  /** Where to send the jwt-bearer grant, instead of the file's `token_uri` (e.g. a chosen server). */
  tokenUri?: string;
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

export class ServiceAccountCredential extends Credential {
  readonly type = "service_account";
  private readonly key: KeyObject;

  constructor(
    readonly keyFile: ServiceAccountKeyFile,
    private readonly opts: ServiceAccountOptions = {},
  ) {
    super(opts);
    for (const field of ["client_email", "private_key"] as const)
      if (typeof keyFile[field] !== "string" || !keyFile[field])
        throw new CredentialError(
          `${this.source}: a service_account file needs client_email and private_key (it lacks the "${field}" field).`,
          opts.file,
        );
    try {
      this.key = createPrivateKey(keyFile.private_key);
    } catch {
      throw new CredentialError(`${this.source}: private_key is not a PEM private key.`, opts.file);
    }
  }

  get principal() {
    return this.keyFile.client_email;
  }

  get source() {
    return this.opts.file ? `key file ${this.opts.file}` : `key of ${this.keyFile.client_email}`;
  }

  get projectId() {
    return this.keyFile.project_id;
  }

  private tokenUri(): string {
    if (this.opts.tokenUri) return this.opts.tokenUri;
    if (!this.keyFile.token_uri)
      throw new CredentialError(
        `${this.source} has no token_uri; use selfSignedJwt or add one.`,
        this.opts.file,
      );
    return this.keyFile.token_uri;
  }

  /** A JWT signed with the key (RS256), with the key id in its header. */
  signJwt(claims: Record<string, unknown>): string {
    const header = {
      alg: "RS256",
      typ: "JWT",
      ...(this.keyFile.private_key_id ? { kid: this.keyFile.private_key_id } : {}),
    };
    const input = `${b64url(header)}.${b64url(claims)}`;
    return `${input}.${sign("RSA-SHA256", Buffer.from(input), this.key).toString("base64url")}`;
  }

  private baseClaims(extra: Record<string, unknown>) {
    // Assertions carry the real time (servers check it); `now` only drives the cache.
    const iat = Math.floor(Date.now() / 1000);
    return {
      iss: this.keyFile.client_email,
      sub: this.keyFile.client_email,
      iat,
      exp: iat + ASSERTION_LIFETIME_S,
      jti: randomUUID(),
      ...extra,
    };
  }

  protected async fetchAccessToken(): Promise<AccessToken> {
    const scopes = this.opts.scopes?.length ? this.opts.scopes : [CLOUD_PLATFORM];
    if (this.opts.selfSignedJwt) {
      const claims = this.baseClaims(
        this.opts.audience ? { aud: this.opts.audience } : { scope: scopes.join(" ") },
      );
      return { token: this.signJwt(claims), expiresAt: this.now() + ASSERTION_LIFETIME_S * 1000 };
    }
    const uri = this.tokenUri();
    const assertion = this.signJwt(this.baseClaims({ aud: uri, scope: scopes.join(" ") }));
    const r = await requestJson<{ access_token?: unknown; expires_in?: unknown }>({
      url: uri,
      ...this.transport,
      form: { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion },
    });
    if (typeof r.access_token !== "string")
      throw new CredentialError(`${uri} returned no access_token.`, uri);
    return { token: r.access_token, expiresAt: expiryFrom(r.expires_in, this.now(), uri) };
  }

  async getIdToken(audience: string): Promise<string> {
    const uri = this.tokenUri();
    const assertion = this.signJwt(this.baseClaims({ aud: uri, target_audience: audience }));
    const r = await requestJson<{ id_token?: unknown }>({
      url: uri,
      ...this.transport,
      form: { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion },
    });
    if (typeof r.id_token !== "string") throw new CredentialError(`${uri} returned no id_token.`, uri);
    return r.id_token;
  }
}
