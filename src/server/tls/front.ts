/**
 * HTTPS for `warrant serve --tls`: one port speaks both HTTP and HTTPS. The first byte of each
 * connection tells them apart (0x16 opens a TLS handshake); TLS is terminated here with a leaf of
 * the installation's CA and the decrypted connection goes to the same node:http server, so the
 * CLI and in-process metadata servers keep using plain HTTP on loopback while clients that need
 * HTTPS (gsutil's JSON API is HTTPS-only) get it on the same address.
 */
import type { Server } from "node:http";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import type { ConnectionGovernor } from "../../net/connection-governor.js";
import type { CertificateAuthority, Leaf } from "./ca.js";

/** Google API hosts whose names Warrant's server certificates carry (and its proxy intercepts). */
export const GOOGLE_API_HOSTS: readonly string[] = [
  "oauth2.googleapis.com",
  "www.googleapis.com",
  "storage.googleapis.com",
  "compute.googleapis.com",
  "iam.googleapis.com",
  "iamcredentials.googleapis.com",
  "cloudresourcemanager.googleapis.com",
  "sts.googleapis.com",
  "policytroubleshooter.googleapis.com",
  "logging.googleapis.com",
  "accounts.google.com",
];

/** A secure context for `names`, replaced when the CA re-mints the leaf (before it expires). */
export class LeafContexts {
  private readonly contexts = new WeakMap<Leaf, SecureContext>();
  constructor(private readonly ca: CertificateAuthority) {}

  context(names: string[]): SecureContext {
    const leaf = this.ca.leaf(names);
    let ctx = this.contexts.get(leaf);
    if (!ctx) {
      ctx = createSecureContext({ key: leaf.key, cert: leaf.cert });
      this.contexts.set(leaf, ctx);
    }
    return ctx;
  }
}

/** Wraps a raw server-side socket in TLS (ALPN http/1.1); a handshake not done in time is dropped. */
export function terminateTls(
  socket: Socket,
  secureContext: SecureContext,
  opts: {
    handshakeTimeoutMs: number;
    SNICallback?: (name: string, cb: (e: Error | null, ctx?: SecureContext) => void) => void;
  },
): TLSSocket {
  const tls = new TLSSocket(socket, {
    isServer: true,
    secureContext,
    ALPNProtocols: ["http/1.1"],
    ...(opts.SNICallback ? { SNICallback: opts.SNICallback } : {}),
  });
  const timer = setTimeout(() => tls.destroy(), opts.handshakeTimeoutMs);
  timer.unref();
  tls.once("secure", () => clearTimeout(timer));
  tls.once("close", () => clearTimeout(timer));
  tls.on("error", () => tls.destroy());
  return tls;
}

export class TlsFront {
  readonly server: NetServer;
  private readonly sockets = new Set<Socket>();
  private readonly contexts: LeafContexts;

  constructor(
    http: Server,
    ca: CertificateAuthority,
    private readonly names: string[],
    firstByteTimeoutMs = 20_000,
    /** Admits (or refuses) each raw connection before its first byte is awaited. */
    governor?: ConnectionGovernor,
  ) {
    this.contexts = new LeafContexts(ca);
    governor?.watch(http);
    this.server = createServer((socket) => {
      if (governor && !governor.admit(socket)) return;
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
      socket.on("error", () => socket.destroy());
      socket.setTimeout(firstByteTimeoutMs, () => socket.destroy());
      socket.once("data", (chunk: Buffer) => {
        socket.pause();
        socket.setTimeout(0);
        if (chunk[0] === 0x16) {
          socket.unshift(chunk);
          const tls = terminateTls(socket, this.context(), { handshakeTimeoutMs: firstByteTimeoutMs });
          governor?.alias(tls, socket);
          http.emit("connection", tls);
        } else {
          http.emit("connection", socket);
          socket.emit("data", chunk);
          socket.resume();
        }
      });
    });
  }

  private context(): SecureContext {
    return this.contexts.context(this.names);
  }

  close(): Promise<void> {
    return new Promise((ok) => {
      this.server.close(() => ok());
      for (const s of this.sockets) s.destroy();
    });
  }
}
