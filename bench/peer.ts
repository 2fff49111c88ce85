/**
 * The peer: panva's `oidc-provider` (a certified OpenID Provider) issuing client_credentials tokens
 * on 127.0.0.1, for a same-machine, same-run comparison with Warrant's token endpoint. It is not a
 * dependency of Warrant: install it with `npm install --no-save oidc-provider`. When it cannot be
 * loaded or started, `startPeer` says why and the bench goes on without it.
 */
import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK } from "jose";

export const PEER_CLIENT_ID = "bench-client";
export const PEER_CLIENT_SECRET = "bench-secret-0123456789abcdef0123456789abcdef";
/** A resource indicator whose tokens are RS256 JWTs (Warrant-like); without it they are opaque. */
export const PEER_JWT_RESOURCE = "urn:warrant-bench:api";

export interface Peer {
  name: string;
  version: string;
  tokenUrl: string;
  close(): Promise<void>;
}

export type PeerOutcome = { peer: Peer } | { skipped: string };

export async function startPeer(): Promise<PeerOutcome> {
  // biome-ignore lint/suspicious/noExplicitAny: optional package without types in this project
  let mod: any;
  const name = "oidc-provider";
  try {
    mod = await import(name);
  } catch (err) {
    return { skipped: `${name} is not installed (npm install --no-save ${name}): ${(err as Error).message}` };
  }
  try {
    let version = "?";
    try {
      const { createRequire } = await import("node:module");
      const req = createRequire(import.meta.url);
      version = (req(`${name}/package.json`) as { version: string }).version;
    } catch {
      // the version is informative only
    }
    const Provider = mod.default ?? mod.Provider;
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = { ...(await exportJWK(privateKey)), kid: "bench", alg: "RS256", use: "sig" };
    const http: Server = createServer();
    await new Promise<void>((ok) => http.listen(0, "127.0.0.1", ok));
    const { port } = http.address() as AddressInfo;
    const issuer = `http://127.0.0.1:${port}`;
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: PEER_CLIENT_ID,
          client_secret: PEER_CLIENT_SECRET,
          grant_types: ["client_credentials"],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: "client_secret_post",
          scope: "api",
        },
      ],
      jwks: { keys: [jwk] },
      scopes: ["api"],
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string) => oneOf,
          useGrantedResource: async () => false,
          getResourceServerInfo: async (_ctx: unknown, resource: string) => {
            if (resource !== PEER_JWT_RESOURCE) throw new mod.errors.InvalidTarget();
            return {
              scope: "api",
              audience: PEER_JWT_RESOURCE,
              accessTokenTTL: 3600,
              accessTokenFormat: "jwt",
              jwt: { sign: { alg: "RS256" } },
            };
          },
        },
      },
      ttl: { ClientCredentials: 3600 },
    });
    // Silence the "server_error" logging it would do on stderr for anything unexpected: counted as failures.
    provider.on("server_error", () => {});
    http.on("request", provider.callback());
    return {
      peer: {
        name,
        version,
        tokenUrl: `${issuer}/token`,
        close: () =>
          new Promise<void>((ok) => {
            http.close(() => ok());
            http.closeAllConnections();
          }),
      },
    };
  } catch (err) {
    return { skipped: `${name} could not be configured: ${(err as Error).message}` };
  }
}
