/**
 * The peer: panva's `oidc-provider` (a certified OpenID Provider) issuing client_credentials tokens
 * on 127.0.0.1, for a same-machine, same-run comparison with Warrant's token endpoint. It is a pinned
 * dev dependency (package.json), so a fresh clone measures it; `npm run bench` runs it in a process
 * of its own (`startPeerProcess`) and fails when it cannot start it.
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
    return { skipped: `${name} is not installed (a dev dependency: run npm ci): ${(err as Error).message}` };
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

/** The peer in a process of its own, with its CPU time readable by the parent. */
export interface PeerProcess extends Peer {
  cpuUsage(): Promise<NodeJS.CpuUsage>;
}

/** Forks bench/peer-child.ts and waits for the peer to listen (or say why it cannot). */
export async function startPeerProcess(): Promise<{ peer: PeerProcess } | { skipped: string }> {
  const { fork } = await import("node:child_process");
  const { dirname, join } = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), "peer-child.js"), [], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  type Msg =
    | { t: "ready"; name: string; version: string; tokenUrl: string }
    | { t: "skipped"; reason: string }
    | { t: "cpu"; id: number; usage: NodeJS.CpuUsage };
  const first = await new Promise<Msg>((ok, fail) => {
    child.once("message", (m: Msg) => ok(m));
    child.once("exit", (code) => fail(new Error(`the peer's process exited (${code}) before starting`)));
  });
  if (first.t !== "ready") {
    child.disconnect();
    return { skipped: first.t === "skipped" ? first.reason : "the peer's process answered nonsense" };
  }
  let nextId = 0;
  const waiting = new Map<number, (u: NodeJS.CpuUsage) => void>();
  child.on("message", (m: Msg) => {
    if (m.t === "cpu") {
      waiting.get(m.id)?.(m.usage);
      waiting.delete(m.id);
    }
  });
  return {
    peer: {
      name: first.name,
      version: first.version,
      tokenUrl: first.tokenUrl,
      cpuUsage: () =>
        new Promise((ok) => {
          const id = nextId++;
          waiting.set(id, ok);
          child.send({ t: "cpu", id });
        }),
      close: () =>
        new Promise<void>((ok) => {
          if (child.exitCode !== null) return ok();
          child.once("exit", () => ok());
          child.disconnect();
        }),
    },
  };
}
