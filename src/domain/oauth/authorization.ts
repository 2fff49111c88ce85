/**
 * The authorization-code grant's records (RFC 6749 §4.1): the code, bound to everything the
 * request named, and the authorization server's browser session. Codes and session ids are
 * bearer secrets: generated here, stored only as SHA-256 digests.
 */
import { randomBytes } from "node:crypto";
import type { Sealed } from "../tokens/sealed.js";

/** RFC 6749 §4.1.2 allows 10 minutes; RFC 9700 and the spec want a minute at most. */
export const CODE_LIFETIME_S = 60;
/** How long a signed-in browser is not asked again. */
export const SIGNIN_SESSION_LIFETIME_S = 3600;

export interface AuthorizationCodeRecord {
  codeSha256: string;
  clientId: string;
  /** The exact redirect_uri of the authorization request; the token request must repeat it. */
  redirectUri: string;
  /** S256 challenge; absent only for a code issued without PKCE (Warrant issues none today). */
  codeChallenge?: string;
  subject: string;
  uid: string;
  email: string;
  scopes: string[];
  /** Whether a refresh token was asked for (`access_type=offline`). */
  offline: boolean;
  authTime: string;
  createTime: string;
  expireTime: string;
  /** Set when redeemed: the per-grant client of what it produced, revoked if the code is replayed. */
  redeemedBy?: string;
}

export interface SignInSession {
  sessionSha256: string;
  email: string;
  uid: string;
  /** `password` or `sso`. */
  method: string;
  authTime: string;
  expireTime: string;
}

/**
 * Failed sign-ins counted for one account or one client address, in a fixed window, shared by every
 * node of an installation (a guesser spreading attempts over nodes gets no more of them). Keyed by
 * the SHA-256 of `u:EMAIL` or `a:ADDRESS`, so the datastore holds neither.
 */
export interface SignInFailures {
  keySha256: string;
  count: number;
  /** When the window began (ISO 8601). */
  since: string;
}

/**
 * A sign-in through the upstream identity provider (single sign-on) between the browser leaving for
 * the upstream and its return to the callback: in the datastore, so the callback may reach any node.
 * Keyed by the SHA-256 of the `state` sent upstream; the PKCE verifier is sealed under the master key.
 */
export interface PendingSsoSignIn {
  stateSha256: string;
  verifier: Sealed;
  nonce: string;
  /** The authorization request of the client that sent the browser to the sign-in page. */
  query: string;
  redirectUri: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** ≥128 bits: 256 random bits, shaped like Google's codes (`4/0…`). */
export const newAuthorizationCode = () => `4/0${randomBytes(32).toString("base64url")}`;
export const newSessionId = () => randomBytes(32).toString("base64url");
export const newCsrfToken = () => randomBytes(24).toString("base64url");
