/**
 * The authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.5): a first-party client trades the
 * code the authorization endpoint gave it. The code is single use, lives 60 s, and is bound to the
 * client, the exact redirect URI, the PKCE challenge, the user and the scopes. A code presented a
 * second time is answered `invalid_grant` and what it produced the first time is revoked
 * (RFC 6749 §4.1.2, §10.5): a replayed code means it leaked.
 *
 * Every redeemed code gets a client record of its own (`grantOf` names the first-party client):
 * its access tokens name it as `azp` and its refresh token is filed under it, so revoking the
 * grant (revoke endpoint, replay, user deletion) stops both, through the same checks as issued
 * user credentials.
 */
import { randomBytes } from "node:crypto";
import { repositories } from "../../../datastore/repositories.js";
import type { AuthorizationCodeRecord } from "../../../domain/oauth/authorization.js";
import { InvalidClient, InvalidGrant, InvalidRequest } from "../../../domain/oauth/errors.js";
import {
  clientAuthenticates,
  type FirstPartyClient,
  firstPartyClient,
} from "../../../domain/oauth/first-party-clients.js";
import { verifierMatches } from "../../../domain/oauth/pkce.js";
import { newRefreshToken, sha256Hex } from "../../../domain/oauth/secrets.js";
import { mintIdToken } from "../../../domain/tokens/id-token.js";
import type { ServerDeps } from "../../deps.js";
import { issueAccessToken } from "../../tokens/issue.js";
import type { GrantResult } from "./token.js";

/** The first-party client a token request names, authenticated; invalid_client otherwise. */
export function authenticateFirstParty(form: URLSearchParams): FirstPartyClient | undefined {
  const clientId = form.get("client_id") ?? "";
  const client = firstPartyClient(clientId);
  if (!client) return undefined;
  if (!clientAuthenticates(client, form.get("client_secret") ?? undefined))
    throw new InvalidClient("The OAuth client was not found.");
  return client;
}

/** Revokes what a redeemed code produced: its grant's client (so its access tokens) and refresh tokens. */
export async function revokeGrant(deps: ServerDeps, grantClientId: string): Promise<void> {
  const subject = await deps.store.transaction(async (tx) => {
    const r = repositories(tx);
    const c = await r.oauthClients.get(grantClientId);
    if (!c) return undefined;
    if (!c.revokeTime) await r.oauthClients.put({ ...c, revokeTime: new Date().toISOString() });
    if (c.subject)
      for (const t of await r.refreshTokens.ofSubject(c.subject))
        if (t.clientId === grantClientId && !t.revoked) await r.refreshTokens.put({ ...t, revoked: true });
    return c.subject;
  });
  deps.users.invalidateClient(grantClientId);
  if (subject?.startsWith("user:")) deps.users.invalidateUser(subject.slice(5));
}

/** An ID token for a user's sign-in (spec §7.5): aud and azp the client, sub the user's unique id. */
export function userIdToken(deps: ServerDeps, clientId: string, uid: string, email: string) {
  return mintIdToken(deps.keyRing.primary(), deps.idTokenIssuer, {
    audience: clientId,
    subject: uid,
    azp: clientId,
    email,
  });
}

export async function authorizationCodeGrant(form: URLSearchParams, deps: ServerDeps): Promise<GrantResult> {
  for (const name of ["code", "redirect_uri", "client_id"])
    if (!form.get(name)) throw new InvalidRequest(`Missing required parameter: ${name}`);
  const client = authenticateFirstParty(form);
  if (!client) throw new InvalidClient("The OAuth client was not found.");
  const code = form.get("code")!;
  const verifier = form.get("code_verifier") ?? "";
  const redirectUri = form.get("redirect_uri")!;
  const sha = sha256Hex(code);
  const now = Date.now();
  const refreshToken = newRefreshToken();

  // Redeem in one transaction: of two concurrent requests with one code, one wins.
  const outcome = await deps.store.transaction(
    async (
      tx,
    ): Promise<
      { record: AuthorizationCodeRecord; grantClientId: string } | { replayOf?: string; why: string }
    > => {
      const r = repositories(tx);
      const record = await r.authorizationCodes.get(sha);
      if (!record) return { why: "Malformed auth code." };
      if (record.redeemedBy)
        return { replayOf: record.redeemedBy, why: "The authorization code was already used." };
      if (Date.parse(record.expireTime) <= now) {
        await r.authorizationCodes.delete(sha);
        return { why: "The authorization code has expired." };
      }
      // A mismatch does not consume the code: it may be another client's guess at it.
      if (record.clientId !== client.clientId)
        return { why: "The authorization code was issued to another client." };
      if (record.redirectUri !== redirectUri)
        return { why: "redirect_uri does not match the authorization request." };
      // PKCE both ways (RFC 9700 §4.8): a challenged code needs its verifier, an unchallenged one takes none.
      if (record.codeChallenge === undefined) {
        if (verifier !== "")
          return { why: "code_verifier was sent for a code issued without a code_challenge." };
      } else if (verifier === "") return { why: "Missing code verifier." };
      else if (!verifierMatches(verifier, record.codeChallenge)) return { why: "Invalid code verifier." };
      const user = await r.users.get(record.email);
      if (user?.state !== "ACTIVE" || user.uniqueId !== record.uid) {
        await r.authorizationCodes.delete(sha);
        return { why: "The user of this authorization code is disabled or deleted." };
      }
      const grantClientId = `warrant-grant-${randomBytes(10).toString("hex")}.apps.warrant.local`;
      await r.oauthClients.put({
        clientId: grantClientId,
        // A per-grant client is never authenticated by secret: refresh requests name the first-party client.
        secretSha256: sha256Hex(randomBytes(32).toString("hex")),
        displayName: `Sign-in of ${record.email} to ${client.displayName}`,
        subject: record.subject,
        grantOf: client.clientId,
        createTime: new Date(now).toISOString(),
      });
      if (record.offline)
        await r.refreshTokens.put({
          tokenSha256: sha256Hex(refreshToken),
          subject: record.subject,
          uid: record.uid,
          clientId: grantClientId,
          scopes: record.scopes,
          createTime: new Date(now).toISOString(),
        });
      // Kept (redeemed) until it would have expired, so that a replay is recognised.
      await r.authorizationCodes.put({ ...record, redeemedBy: grantClientId });
      return { record, grantClientId };
    },
  );
  if ("why" in outcome) {
    if (outcome.replayOf) await revokeGrant(deps, outcome.replayOf);
    throw new InvalidGrant(outcome.why);
  }
  const { record, grantClientId } = outcome;
  const { token, claims } = await issueAccessToken(deps, {
    sub: record.subject,
    uid: record.uid,
    scopes: record.scopes,
    azp: grantClientId,
    via: "authorization_code",
  });
  const idToken = record.scopes.includes("openid")
    ? await userIdToken(deps, client.clientId, record.uid, record.email)
    : undefined;
  return {
    body: {
      access_token: token,
      expires_in: claims.exp - claims.iat,
      ...(record.offline ? { refresh_token: refreshToken } : {}),
      // Exactly the requested set: gcloud compares it as a set and crashes on a narrower one.
      scope: record.scopes.join(" "),
      token_type: "Bearer",
      ...(idToken ? { id_token: idToken } : {}),
    },
    issued: {
      subject: record.subject,
      tokenType: "access_token",
      scopes: record.scopes,
      clientId: client.clientId,
      jti: claims.jti,
      exp: claims.exp,
    },
  };
}
