/**
 * Signing a person in from a native program (RFC 8252): a one-request listener on
 * `http://127.0.0.1:{ephemeral}/`, an authorization URL with `state` and PKCE (S256), the code
 * taken from the browser's redirect and exchanged at the token endpoint. The result is an
 * `authorized_user` credential (`AuthorizedUserCredential` uses it). Showing the URL — opening a
 * browser, or printing it — is the caller's part.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AuthorizedUserFile } from "./credentials/authorized-user.js";
import { CredentialError } from "./errors.js";
import { requestJson, type Transport } from "./http.js";

export interface BrowserLoginOptions extends Transport {
  /** The authorization endpoint, e.g. `http://127.0.0.1:8080/o/oauth2/auth`. */
  authUri: string;
  /** The token endpoint, e.g. `http://127.0.0.1:8080/token`. */
  tokenUri: string;
  clientId: string;
  /** Only for clients whose (published) secret the server expects; public clients send none. */
  clientSecret?: string;
  scopes: readonly string[];
  /** Shows the URL to the person: opens a browser, or prints it. */
  onUrl(url: string): void | Promise<void>;
  /** How long to wait for the browser (default 5 minutes). */
  timeoutMs?: number;
}

export interface BrowserLoginResult {
  /** The credential, ready to be written where it is wanted. */
  credential: AuthorizedUserFile;
  /** The signed-in person's e-mail, from the ID token. */
  account?: string;
  accessToken: string;
  expiresIn?: number;
  scopes: string[];
}

const page = (res: ServerResponse, status: number, title: string, text: string) => {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head><body><main><h1>${title}</h1><p>${text}</p></main></body></html>`;
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    connection: "close",
  });
  res.end(html);
};

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

function emailOf(idToken: unknown): string | undefined {
  if (typeof idToken !== "string") return undefined;
  try {
    const claims = JSON.parse(Buffer.from(idToken.split(".")[1] ?? "", "base64url").toString("utf8"));
    return typeof claims.email === "string" ? claims.email : undefined;
  } catch {
    return undefined;
  }
}

export async function browserLogin(opts: BrowserLoginOptions): Promise<BrowserLoginResult> {
  const verifier = randomBytes(48).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const state = randomBytes(24).toString("base64url");
  let settle!: { ok: (code: string) => void; fail: (e: Error) => void };
  const arrived = new Promise<string>((ok, fail) => {
    settle = { ok, fail };
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/")
      return page(res, 404, "Not found", "This address only takes the sign-in's answer.");
    const q = url.searchParams;
    if (!sameText(q.get("state") ?? "", state)) {
      // Not the answer to this sign-in (another tab, or a forged link): refused, and the wait goes on.
      return page(
        res,
        400,
        "Sign-in not recognised",
        "This answer does not belong to the sign-in the command started.",
      );
    }
    const error = q.get("error");
    if (error) {
      page(res, 400, "Sign-in failed", "The sign-in was refused. Return to the terminal for details.");
      return settle.fail(
        new CredentialError(
          `The sign-in was refused: ${error}${q.get("error_description") ? ` (${q.get("error_description")})` : ""}.`,
        ),
      );
    }
    const code = q.get("code");
    if (!code) return page(res, 400, "Sign-in failed", "The answer carried no code.");
    page(res, 200, "Signed in", "You are signed in. You may close this window and return to the terminal.");
    settle.ok(code);
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const timer = setTimeout(
    () => settle.fail(new CredentialError("Timed out waiting for the browser to finish signing in.")),
    opts.timeoutMs ?? 5 * 60_000,
  );
  try {
    const url = new URL(opts.authUri);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: opts.clientId,
      redirect_uri: redirectUri,
      scope: opts.scopes.join(" "),
      state,
      code_challenge: challenge,
      code_challenge_method: "S256",
      access_type: "offline",
    }))
      url.searchParams.set(k, v);
    await opts.onUrl(url.href);
    const code = await arrived;
    const answer = await requestJson<Record<string, unknown>>({
      url: opts.tokenUri,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      // A code is single use: never retried.
      retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
      form: {
        grant_type: "authorization_code",
        client_id: opts.clientId,
        ...(opts.clientSecret !== undefined ? { client_secret: opts.clientSecret } : {}),
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      },
    });
    if (typeof answer.access_token !== "string" || typeof answer.refresh_token !== "string")
      throw new CredentialError(
        `${opts.tokenUri} returned no access_token and refresh_token.`,
        opts.tokenUri,
      );
    const account = emailOf(answer.id_token);
    return {
      credential: {
        type: "authorized_user",
        client_id: opts.clientId,
        ...(opts.clientSecret !== undefined ? { client_secret: opts.clientSecret } : {}),
        refresh_token: answer.refresh_token,
        token_uri: opts.tokenUri,
        ...(account ? { account } : {}),
      } as AuthorizedUserFile,
      ...(account ? { account } : {}),
      accessToken: answer.access_token,
      ...(typeof answer.expires_in === "number" ? { expiresIn: answer.expires_in } : {}),
      scopes: typeof answer.scope === "string" ? answer.scope.split(" ") : [...opts.scopes],
    };
  } finally {
    clearTimeout(timer);
    server.closeAllConnections();
    server.close();
  }
}
