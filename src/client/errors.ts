/**
 * Errors of the client library. Each names where it looked (a file, a URL, an environment
 * variable) and why that failed; none ever carries a token, a refresh token or a private key.
 */

/** A credential source could not produce a token. */
export class CredentialError extends Error {
  constructor(
    message: string,
    /** The file or URL involved, for tools that want it separately. */
    readonly where?: string,
    /** The HTTP status, when a server answered. */
    readonly status?: number,
    /** What the server's error body said (Google's error shape), when it sent one. */
    readonly detail?: ServerErrorDetail,
  ) {
    super(message);
    this.name = "CredentialError";
  }
}

/** The fields of a server's error body: never secrets, only what the server chose to say. */
export interface ServerErrorDetail {
  message: string;
  /** Canonical status (PERMISSION_DENIED) or OAuth error code (invalid_grant). */
  status?: string;
  reason?: string;
}

export interface Attempt {
  source: string;
  reason: string;
}

/** No Application Default Credentials source worked; lists each one tried, in order. */
export class AdcError extends Error {
  constructor(readonly attempts: Attempt[]) {
    super(
      `Could not load the default credentials. Tried, in order:\n${attempts
        .map((a, i) => `  ${i + 1}. ${a.source}: ${a.reason}`)
        .join(
          "\n",
        )}\nSet GOOGLE_APPLICATION_CREDENTIALS to a credential file, run \`warrant auth application-default login\`, or run on an instance (see docs/client.md).`,
    );
    this.name = "AdcError";
  }
}
