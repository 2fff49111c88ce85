/**
 * `warrant serve --proxy`: an HTTP CONNECT proxy on loopback for clients that ignore `token_uri`
 * and endpoint settings (Node google-auth-library, @google-cloud/storage, Python authorized_user).
 * A CONNECT to a Google API host is answered `200 Connection Established`; the proxy then
 * terminates TLS itself with a leaf of the installation's CA for that host and hands the decrypted
 * HTTP to Warrant's own handlers in-process. Nothing is ever forwarded: any other host is refused
 * with 403 before any DNS lookup or outbound connection (this module opens no sockets at all).
 */
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { CertificateAuthority } from "./ca.js";
import { GOOGLE_API_HOSTS, LeafContexts, terminateTls } from "./front.js";

export interface ProxyOptions {
  /** Serves the decrypted requests; never listens itself. */
  inner: Server;
  ca: CertificateAuthority;
  host: string;
  port: number;
  log: (line: string) => void;
  /** Closes connections idle this long, tunnels included (default 120 s). */
  idleTimeoutMs?: number;
  /** Time allowed for the CONNECT request's headers and for the TLS handshake (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Concurrent connections accepted (default 512). */
  maxConnections?: number;
}

/** Paths Google serves on a host that Warrant serves elsewhere; everything else keeps its path. */
function rewritePath(host: string, path: string): string {
  if (host === "accounts.google.com" && /^\/o\/oauth2\/token(\?|$)/.test(path))
    return path.replace("/o/oauth2/token", "/token");
  return path;
}

function refuse(socket: Duplex, status: number, message: string, extra = "") {
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`,
  );
}

export interface RunningProxy {
  url: string;
  /** Tunnels opened to each intercepted host, and CONNECTs refused. */
  stats(): { intercepted: Record<string, number>; refused: number };
  close(): Promise<void>;
}

export async function startProxy(o: ProxyOptions): Promise<RunningProxy> {
  const idle = o.idleTimeoutMs ?? 120_000;
  const handshake = o.handshakeTimeoutMs ?? 10_000;
  const contexts = new LeafContexts(o.ca);
  const allowed = new Set(GOOGLE_API_HOSTS);
  const targets = new WeakMap<Duplex, string>();
  const sockets = new Set<Duplex>();
  const intercepted: Record<string, number> = {};
  let refused = 0;

  // Requests inside a tunnel are addressed to the host the client connected to, whatever Host says.
  o.inner.prependListener("request", (req: IncomingMessage) => {
    const target = targets.get(req.socket);
    if (!target) return;
    req.headers.host = target;
    req.url = rewritePath(target, req.url ?? "/");
  });

  // Slow CONNECT headers are checked at this interval (Node's default is 30 s).
  const proxy = createServer({ connectionsCheckingInterval: Math.min(handshake, 30_000) }, (req, res) => {
    const body =
      `This is Warrant's HTTPS interception proxy: it accepts only CONNECT to Google API hosts ` +
      `(${GOOGLE_API_HOSTS.join(", ")}), never ${req.method} requests, and forwards nothing.\n`;
    res.writeHead(405, {
      "Content-Type": "text/plain; charset=utf-8",
      Allow: "CONNECT",
      Connection: "close",
    });
    res.end(body);
  });
  proxy.headersTimeout = handshake;
  proxy.requestTimeout = handshake;
  proxy.timeout = idle;
  proxy.maxConnections = o.maxConnections ?? 512;
  proxy.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  proxy.on("clientError", (_err, socket: Duplex) => {
    if (socket.writable) refuse(socket, 400, "Warrant's proxy: malformed request.");
    else socket.destroy();
  });

  proxy.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    const m = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(req.url ?? "");
    const host = m?.[1]?.toLowerCase().replace(/\.$/, "");
    if (!m || !host) {
      refused++;
      refuse(socket, 400, `Warrant's proxy: CONNECT needs host:port, got '${req.url}'.`);
      return;
    }
    if (!allowed.has(host) || m[2] !== "443") {
      refused++;
      o.log(
        `proxy: refused CONNECT ${host}:${m[2]} (not a Google API host Warrant serves; nothing forwarded)`,
      );
      refuse(
        socket,
        403,
        `Warrant's proxy refuses CONNECT ${host}:${m[2]}: it only intercepts Google API hosts on port 443 ` +
          `(${GOOGLE_API_HOSTS.join(", ")}) and never forwards anywhere. Add the host to NO_PROXY to reach it directly.`,
      );
      return;
    }
    intercepted[host] = (intercepted[host] ?? 0) + 1;
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length) socket.unshift(head);
    const tls = terminateTls(socket, contexts.context([host]), { handshakeTimeoutMs: handshake });
    targets.set(tls, host);
    o.inner.emit("connection", tls);
    // After the HTTP server's own socket timeout, which this replaces.
    tls.setTimeout(idle, () => tls.destroy());
  });

  await new Promise<void>((ok, fail) => {
    proxy.once("error", fail);
    proxy.listen(o.port, o.host, () => {
      proxy.off("error", fail);
      ok();
    });
  });
  const { port } = proxy.address() as { port: number };
  const host = o.host.includes(":") ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}`,
    stats: () => ({ intercepted: { ...intercepted }, refused }),
    close: () =>
      new Promise<void>((ok) => {
        proxy.close(() => ok());
        for (const s of sockets) s.destroy();
      }),
  };
}
