/**
 * The web console's sessions and sign-ins in progress, as the datastore keeps them (src/server/console).
 * Keyed by the SHA-256 of the id in the browser's cookie, so the store holds nothing a browser could
 * present; the user's tokens and the PKCE verifier are sealed under the master key, bound to the
 * record's key.
 */
import type { Sealed } from "./tokens/sealed.js";

export interface StoredConsoleSession {
  /** SHA-256 (hex) of the session id. */
  sessionSha256: string;
  /** `user:alice@example.com` */
  principal: string;
  email: string;
  /** `{"accessToken","refreshToken"}`, sealed, bound to `console-session:<sessionSha256>`. */
  tokens: Sealed;
  /** ms since epoch at which the access token expires. */
  accessExpiresAt: number;
  createdAt: number;
  /** Last request seen, written at most once a minute. */
  lastSeenAt: number;
  /** The absolute end, whatever the activity. */
  expiresAt: number;
}

export interface StoredConsoleLogin {
  /** SHA-256 (hex) of the id in the sign-in cookie. */
  loginSha256: string;
  /** SHA-256 (hex) of the `state` sent to the authorization endpoint. */
  stateSha256: string;
  /** The PKCE verifier, sealed, bound to `console-login:<loginSha256>`. */
  verifier: Sealed;
  next: string;
  redirectUri: string;
  expiresAt: number;
}
