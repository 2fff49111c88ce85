/**
 * Google's revocation endpoint (`POST /revoke`, also `/o/oauth2/revoke`): `token=` (form body or
 * query) names a refresh token, or an access token of an issued user credential. The credential's
 * refresh token is marked revoked, so the refresh_token grant answers `invalid_grant`; for a
 * credential issued by `users/EMAIL:issueCredential` its OAuth client is marked revoked as well, and
 * the bearer authenticator refuses the access tokens it already issued. The token itself is the
 * authority, as at Google: no other credential is needed.
 *
 * An unknown, expired or already revoked token is answered `200 {}` as well (RFC 7009 §2.2): the
 * caller wanted it dead and it is, and `gcloud auth application-default revoke` catches only its own
 * RevokeError, so any other status crashes it. The audit log says which it was.
 */
import type { ServerResponse } from "node:http";
import { repositories } from "../../../datastore/repositories.js";
import { ApiError } from "../../../domain/errors.js";
import { sha256Hex } from "../../../domain/oauth/secrets.js";
import { InvalidToken } from "../../../domain/tokens/access-token.js";
import type { BearerAuthenticator } from "../../auth/bearer-authenticator.js";
import type { ServerDeps } from "../../deps.js";
import { readForm } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
  });
  res.end(text);
}

export function registerRevoke(router: Router, deps: ServerDeps, authenticator: BearerAuthenticator) {
  /** Revokes a refresh token by digest; false when there is no live one. */
  async function revokeRefreshToken(sha: string): Promise<{ subject: string; clientId: string } | null> {
    return deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      const record = await r.refreshTokens.get(sha);
      if (!record || record.revoked) return null;
      await r.refreshTokens.put({ ...record, revoked: true });
      const client = await r.oauthClients.get(record.clientId);
      // A per-credential client ends with its credential; the shared CLI client does not.
      if (client?.subject === record.subject && !client.revokeTime)
        await r.oauthClients.put({ ...client, revokeTime: new Date().toISOString() });
      return { subject: record.subject, clientId: record.clientId };
    });
  }

  /** Revokes the issued credential an access token came from; false if it did not come from one. */
  async function revokeByAccessToken(token: string) {
    const caller = await authenticator.verify(token);
    const t = caller.token;
    if (!t || caller.principal.kind !== "user") return null;
    return deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      const client = await r.oauthClients.get(t.azp);
      if (!client || client.subject !== t.sub || client.revokeTime) return null;
      await r.oauthClients.put({ ...client, revokeTime: new Date().toISOString() });
      for (const rt of await r.refreshTokens.ofSubject(t.sub))
        if (rt.clientId === client.clientId && !rt.revoked)
          await r.refreshTokens.put({ ...rt, revoked: true });
      return { subject: t.sub, clientId: client.clientId };
    });
  }

  async function revoke(ctx: RequestContext) {
    const params = new URLSearchParams(ctx.url.search);
    if ((ctx.req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded"))
      for (const [k, v] of await readForm(ctx.req)) params.set(k, v);
    const token = params.get("token") ?? "";
    const record = (outcome: string, extra: Record<string, unknown> = {}) =>
      deps.audit.record({
        time: new Date().toISOString(),
        kind: "token",
        requestId: ctx.requestId,
        grant: "revoke",
        outcome,
        ...extra,
      });
    if (token === "") {
      record("refused", { error: "invalid_request" });
      return send(ctx.res, 400, {
        error: "invalid_request",
        error_description: "Missing required parameter: token",
      });
    }
    let revoked: { subject: string; clientId: string } | null;
    try {
      revoked = token.startsWith("1//")
        ? await revokeRefreshToken(sha256Hex(token))
        : await revokeByAccessToken(token);
    } catch (err) {
      if (!(err instanceof ApiError || err instanceof InvalidToken)) throw err;
      revoked = null;
    }
    if (!revoked) {
      record("unknown", { error: "invalid_token" });
      return send(ctx.res, 200, {});
    }
    const email = revoked.subject.startsWith("user:") ? revoked.subject.slice(5) : undefined;
    if (email) deps.users.invalidateUser(email);
    deps.users.invalidateClient(revoked.clientId);
    record("revoked", { subject: revoked.subject, clientId: revoked.clientId });
    return send(ctx.res, 200, {});
  }

  for (const path of ["/revoke", "/o/oauth2/revoke"]) router.add("POST", path, revoke, "none");
}
