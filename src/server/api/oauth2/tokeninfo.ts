/** tokeninfo: what an access token or ID token says, in Google's shape (numbers and booleans as strings). */

import { createHash } from "node:crypto";
import { jwtVerify } from "jose";
import { ApiError } from "../../../domain/errors.js";
import { memberOf } from "../../../domain/iam/principal.js";
import { InvalidToken } from "../../../domain/tokens/access-token.js";
import type { BearerAuthenticator } from "../../auth/bearer-authenticator.js";
import type { ServerDeps } from "../../deps.js";
import { readForm } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { sendJson } from "../../http/server.js";

/** Users have no numeric id in Warrant's directory yet: derive a stable 21-digit one from the email. */
export function userSubject(email: string): string {
  const n = BigInt(`0x${createHash("sha256").update(email).digest("hex").slice(0, 16)}`);
  return `1${(n % 10n ** 20n).toString().padStart(20, "0")}`;
}

const invalid = () => ({ error: "invalid_token", error_description: "Invalid Value" });

export function registerTokenInfo(router: Router, deps: ServerDeps, authenticator: BearerAuthenticator) {
  async function tokeninfo(ctx: RequestContext) {
    const params = new URLSearchParams(ctx.url.search);
    if (
      ctx.req.method === "POST" &&
      (ctx.req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")
    )
      for (const [k, v] of await readForm(ctx.req)) params.set(k, v);
    const idToken = params.get("id_token");
    try {
      if (idToken) return sendJson(ctx.res, 200, await describeIdToken(idToken));
      const access = params.get("access_token");
      const caller = access ? await authenticator.verify(access) : await authenticator.authenticate(ctx.req);
      if (!caller?.token) return sendJson(ctx.res, 400, invalid());
      const t = caller.token;
      const p = caller.principal;
      let sub = "";
      let email = "";
      if (p.kind === "serviceAccount") {
        email = p.email;
        sub = (await deps.directory.account(p.email))?.uniqueId ?? "";
      } else if (p.kind === "user") {
        email = p.email;
        sub = userSubject(p.email);
      } else if (p.kind === "federated") {
        sub = memberOf(p);
      }
      const expiresIn = Math.max(0, t.exp - Math.floor(Date.now() / 1000));
      return sendJson(ctx.res, 200, {
        azp: t.azp,
        aud: t.azp,
        sub,
        scope: t.scopes.join(" "),
        exp: String(t.exp),
        expires_in: String(expiresIn),
        email,
        email_verified: "true",
        access_type: "online",
      });
    } catch (err) {
      if (err instanceof ApiError || err instanceof InvalidToken) return sendJson(ctx.res, 400, invalid());
      throw err;
    }
  }

  async function describeIdToken(token: string) {
    const { payload, protectedHeader } = await jwtVerify(
      token,
      (h) => {
        const key = h.kid ? deps.keyRing.verificationKey(h.kid) : undefined;
        if (!key) throw new InvalidToken("unknown key");
        return key;
      },
      { issuer: deps.idTokenIssuer, algorithms: ["RS256"] },
    ).catch(() => {
      throw new InvalidToken("invalid id token");
    });
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(payload)) if (typeof v !== "object") out[k] = String(v);
    return {
      ...out,
      alg: protectedHeader.alg,
      kid: protectedHeader.kid ?? "",
      typ: protectedHeader.typ ?? "JWT",
    };
  }

  for (const path of ["/tokeninfo", "/oauth2/v3/tokeninfo", "/oauth2/v1/tokeninfo"]) {
    router.add("GET", path, tokeninfo, "none");
    router.add("POST", path, tokeninfo, "none");
  }
}
