/**
 * Warrant access tokens: RS256 JWS signed by the installation's key ring, so any Warrant node
 * verifies them offline with the published keys. Clients treat them as opaque strings.
 */
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { randomId } from "../random-pool.js";
import { CLAIM_PROBLEM_TEXT, claimProblem } from "./claims.js";
import type { SigningKey } from "./signing-key.js";

export const ACCESS_TOKEN_TYP = "at+jwt";
export const DEFAULT_ACCESS_TOKEN_LIFETIME_S = 3600;
/** Google bounds access tokens at 2048 bytes; clients may store them in fixed buffers. */
export const MAX_ACCESS_TOKEN_BYTES = 2048;
/** Accepted clock difference between nodes when checking `exp`/`iat`/`nbf`. */
export const CLOCK_TOLERANCE_S = 30;

export interface AccessTokenClaims {
  /** The principal as a policy member: `user:a@b` or `serviceAccount:x@p.iam.gserviceaccount.com`. */
  sub: string;
  /** Granted scopes (full URLs). */
  scopes: string[];
  /** OAuth client the token was issued to. */
  azp: string;
  /** Token id, for revocation. */
  jti: string;
  iat: number;
  exp: number;
  /** How it was issued (refresh_token, jwt-bearer, metadata, impersonation). */
  via: string;
  /**
   * The unique id of the account `sub` named when the token was issued: the token acts for that
   * account only, never for a later account of the same e-mail.
   */
  uid?: string;
  /** A federated identity's mapped `google.groups` and `attribute.*` (STS tokens only). */
  federated?: FederatedClaims;
}

/** What an STS token carries about its federated identity besides `sub`. */
export interface FederatedClaims {
  groups: string[];
  attributes: Record<string, string | string[]>;
}

/** STS tokens carry mapped attributes, so they may be longer than Google's bound for other tokens. */
export const MAX_FEDERATED_TOKEN_BYTES = 8192;

export interface MintRequest {
  sub: string;
  uid?: string;
  scopes: string[];
  azp: string;
  via: string;
  lifetimeSeconds?: number;
  now?: number;
  federated?: FederatedClaims;
}

/**
 * Makes an RS256 signature over a JWS signing input with `key` (named `kid`): on the calling thread
 * by default, or in a pool of threads (src/server/tokens/signing-pool.ts).
 */
export type JwsSigner = (kid: string, key: KeyObject, signingInput: string) => Promise<Buffer> | Buffer;

const signHere: JwsSigner = (_kid, key, input) => cryptoSign("sha256", Buffer.from(input), key);
const b64url = (json: unknown) => Buffer.from(JSON.stringify(json)).toString("base64url");

/** Each signing key's encoded JWS header: the same bytes for every token it signs. */
const encodedHeaders = new Map<string, string>();
/** A ring holds 2–3 keys; more means rotations since, whose old headers are not needed. */
const MAX_ENCODED_HEADERS = 16;

function encodedHeader(key: SigningKey): string {
  let header = encodedHeaders.get(key.kid);
  if (header === undefined) {
    if (encodedHeaders.size >= MAX_ENCODED_HEADERS) encodedHeaders.clear();
    header = b64url({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYP });
    encodedHeaders.set(key.kid, header);
  }
  return header;
}

export async function mintAccessToken(
  key: SigningKey,
  issuer: string,
  req: MintRequest,
  sign: JwsSigner = signHere,
) {
  const iat = Math.floor((req.now ?? Date.now()) / 1000);
  const exp = iat + (req.lifetimeSeconds ?? DEFAULT_ACCESS_TOKEN_LIFETIME_S);
  const jti = randomId(12);
  const uid = req.uid !== undefined ? { uid: req.uid } : {};
  const fed = req.federated ? { grp: req.federated.groups, att: req.federated.attributes } : {};
  // A compact JWS of a fixed shape, built directly: the header and claims JOSE libraries would write.
  if (key.alg !== "RS256") throw new Error(`unsupported signing algorithm ${key.alg}`);
  const signingInput = `${encodedHeader(key)}.${b64url({
    scope: req.scopes.join(" "),
    azp: req.azp,
    via: req.via,
    ...uid,
    ...fed,
    iss: issuer,
    sub: req.sub,
    iat,
    exp,
    jti,
  })}`;
  const signature = await sign(key.kid, key.privateKey, signingInput);
  const token = `${signingInput}.${signature.toString("base64url")}`;
  const max = req.federated ? MAX_FEDERATED_TOKEN_BYTES : MAX_ACCESS_TOKEN_BYTES;
  if (Buffer.byteLength(token) > max)
    throw new Error(`access token would be ${Buffer.byteLength(token)} bytes, over the bound of ${max}`);
  const federated = req.federated ? { federated: req.federated } : {};
  return {
    token,
    claims: {
      sub: req.sub,
      scopes: req.scopes,
      azp: req.azp,
      jti,
      iat,
      exp,
      via: req.via,
      ...uid,
      ...federated,
    },
  };
}

export class InvalidToken extends Error {
  override name = "InvalidToken";
}

/**
 * Verifies signature (key chosen by `kid`), issuer, type and expiry. `keyFor` returns the public
 * key of a kid the installation trusts, or undefined. The format is fixed (RS256 compact JWS of our
 * own making), so it is checked directly with `crypto.verify` rather than through a general JOSE
 * stack: this is the hot path of every API call.
 */
export async function verifyAccessToken(
  token: string,
  issuer: string,
  keyFor: (kid: string) => KeyObject | undefined,
  now: number = Date.now(),
): Promise<AccessTokenClaims> {
  // One token, one spelling: refuse non-canonical base64url (spare bits set, stray characters), so a
  // token string cannot be altered while its signature still verifies.
  const parts = token.split(".");
  if (
    parts.length !== 3 ||
    parts.some((p) => p === "" || Buffer.from(p, "base64url").toString("base64url") !== p)
  )
    throw new InvalidToken("token is not a canonical compact JWS");
  const [h, p, sig] = parts as [string, string, string];
  const header = parseJsonObject(h);
  if (header?.alg !== "RS256" || header.typ !== ACCESS_TOKEN_TYP || "crit" in header)
    throw new InvalidToken("token rejected (unexpected header)");
  const key = typeof header.kid === "string" ? keyFor(header.kid) : undefined;
  if (!key) throw new InvalidToken("unknown signing key");
  if (!cryptoVerify("sha256", Buffer.from(`${h}.${p}`), key, Buffer.from(sig, "base64url")))
    throw new InvalidToken("token rejected (signature)");
  const payload = parseJsonObject(p);
  if (!payload) throw new InvalidToken("token rejected (payload)");
  const { sub, jti, iat, exp, iss } = payload;
  if (iss !== issuer) throw new InvalidToken("token rejected (issuer)");
  if (typeof sub !== "string" || typeof jti !== "string")
    throw new InvalidToken("token rejected (missing claims)");
  const problem = claimProblem(payload, { nowSeconds: now / 1000, toleranceSeconds: CLOCK_TOLERANCE_S });
  if (problem) throw new InvalidToken(CLAIM_PROBLEM_TEXT[problem]);
  const scope = typeof payload.scope === "string" ? payload.scope : "";
  return {
    sub,
    scopes: scope ? scope.split(" ") : [],
    azp: typeof payload.azp === "string" ? payload.azp : "",
    jti,
    iat: iat as number,
    exp: exp as number,
    via: typeof payload.via === "string" ? payload.via : "",
    ...(typeof payload.uid === "string" ? { uid: payload.uid } : {}),
    ...federatedClaims(payload),
  };
}

function federatedClaims(payload: Record<string, unknown>): { federated?: FederatedClaims } {
  const { grp, att } = payload;
  if (grp === undefined && att === undefined) return {};
  const groups = Array.isArray(grp) ? grp.filter((g): g is string => typeof g === "string") : [];
  const attributes: Record<string, string | string[]> = {};
  if (att !== null && typeof att === "object" && !Array.isArray(att))
    for (const [k, v] of Object.entries(att as Record<string, unknown>)) {
      if (typeof v === "string") attributes[k] = v;
      else if (Array.isArray(v)) attributes[k] = v.filter((x): x is string => typeof x === "string");
    }
  return { federated: { groups, attributes } };
}

function parseJsonObject(b64url: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(b64url, "base64url").toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
