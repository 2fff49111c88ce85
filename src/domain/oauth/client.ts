/** The OAuth2 records the token service keeps: clients and refresh tokens (secrets only as digests). */
export interface OAuthClient {
  clientId: string;
  /** SHA-256 of the client secret, hex. */
  secretSha256: string;
  displayName: string;
  /**
   * Set on the client of one issued user credential (`users/EMAIL:issueCredential`): the member it
   * was issued to. The shared CLI client has none.
   */
  subject?: string;
  /**
   * Set on the client of one browser sign-in (authorization-code grant): the first-party client it
   * was granted to (e.g. gcloud's). Refresh requests name that client; access tokens name this one
   * (`azp`), so revoking the grant (or replaying its code) stops them.
   */
  grantOf?: string;
  createTime?: string;
  /** Set when the credential was revoked: access tokens issued to this client are refused from then on. */
  revokeTime?: string;
}

export interface RefreshTokenRecord {
  /** SHA-256 of the refresh token, hex: the token itself is never stored. */
  tokenSha256: string;
  subject: string;
  /** The unique id of the user it was issued to: a later user of the same address cannot use it. */
  uid?: string;
  clientId: string;
  scopes: string[];
  createTime: string;
  revoked?: boolean;
}
