/**
 * A minimal OIDC issuer on 127.0.0.1 for workload identity federation tests: it serves a discovery
 * document and a JWKS, and signs subject tokens (RS256 by default, ES256 on request) with its keys.
 * It also counts requests, so tests can see when keys are fetched.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

type KeyLike = Parameters<SignJWT["sign"]>[0];

export interface Issuer {
  url: string;
  /** The issuer's public keys as a JWKS document (for `oidc.jwksJson`). */
  jwks(): { keys: Record<string, unknown>[] };
  /** Signs `claims` (iss, iat and exp are filled in unless given) with one of the issuer's keys. */
  sign(
    claims: Record<string, unknown>,
    opts?: { alg?: "RS256" | "ES256"; kid?: string; key?: KeyLike },
  ): Promise<string>;
  /** A key pair the issuer does not publish. */
  rogue: KeyLike;
  requests: string[];
  /** Serves `token` as `{"id_token": …}` at `/subject-token` to requests with `Metadata: True` (URL-sourced credentials). */
  serveSubjectToken(token: string): void;
  close(): Promise<void>;
}

export async function startIssuer(): Promise<Issuer> {
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const ec = await generateKeyPair("ES256", { extractable: true });
  const rogue = await generateKeyPair("RS256", { extractable: true });
  const keys = [
    { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
    { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
  ];
  const requests: string[] = [];
  let url = "";
  let served = "";
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? "");
    const send = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.url === "/.well-known/openid-configuration")
      return send({
        issuer: url,
        jwks_uri: `${url}/jwks`,
        id_token_signing_alg_values_supported: ["RS256", "ES256"],
      });
    if (req.url === "/jwks") return send({ keys });
    if (req.url === "/subject-token" && req.headers.metadata === "True" && served)
      return send({ id_token: served });
    res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    jwks: () => ({ keys }),
    requests,
    rogue: rogue.privateKey,
    serveSubjectToken: (token) => {
      served = token;
    },
    async sign(claims, opts = {}) {
      const alg = opts.alg ?? "RS256";
      const now = Math.floor(Date.now() / 1000);
      const key = opts.key ?? (alg === "RS256" ? rsa.privateKey : ec.privateKey);
      return new SignJWT({ iss: url, iat: now, exp: now + 600, ...claims })
        .setProtectedHeader({ alg, kid: opts.kid ?? (alg === "RS256" ? "rsa-1" : "ec-1"), typ: "JWT" })
        .sign(key);
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
