/**
 * OAuth 2.0 token-endpoint errors (RFC 6749 §5.2), named after their protocol codes. They render
 * as `{"error": CODE, "error_description": "..."}`, the shape Google's token endpoint uses.
 */
export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly status: number,
    description: string,
  ) {
    super(description);
    this.name = error;
  }
  toJSON() {
    return { error: this.error, error_description: this.message };
  }
}

export class InvalidRequest extends OAuthError {
  constructor(d: string) {
    super("invalid_request", 400, d);
  }
}
export class InvalidClient extends OAuthError {
  constructor(d = "The OAuth client was not found.") {
    super("invalid_client", 401, d);
  }
}
export class InvalidGrant extends OAuthError {
  constructor(d: string) {
    super("invalid_grant", 400, d);
  }
}
export class UnsupportedGrantType extends OAuthError {
  constructor(t: string) {
    super("unsupported_grant_type", 400, `Invalid grant_type: ${t}`);
  }
}
export class InvalidScope extends OAuthError {
  constructor(d: string) {
    super("invalid_scope", 400, d);
  }
}
