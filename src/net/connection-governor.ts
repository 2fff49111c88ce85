/**
 * Admission and stall control for an HTTP listener, so that connections held open cannot exhaust
 * the process's file descriptors. The listener is a plain `net` server that hands admitted sockets
 * to a `node:http` server; the governor
 *
 * - bounds connections overall and per peer address; at the bound it first sheds the stalest
 *   stalled connection (idle or sending its headers, or a request body below the rate floor, with
 *   no progress for `shedAfterMs`), and a connection that still finds no slot gets a 503 and is
 *   closed, never left waiting;
 * - closes a connection whose request headers have not arrived `headersTimeoutMs` after it opened
 *   or after its previous response;
 * - closes a connection whose request body arrives slower than `minBodyBytesPerSecond` over
 *   `bodyRateWindowMs`, unless the server is the one not reading (its buffers hold data), so large
 *   uploads at any reasonable speed are never cut short by a total-time limit.
 *
 * It only reads counters (`bytesRead`, buffer lengths) once a second; the hot path is untouched.
 */
import { readFileSync } from "node:fs";
import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { ApiError } from "../domain/errors.js";

export interface ConnectionLimits {
  /** Connections held at most; more are shed or refused with 503. */
  maxConnections: number;
  /** Connections held at most from one peer address. */
  maxConnectionsPerPeer: number;
  /** Request headers must be complete this long after the connection opened or the last response. */
  headersTimeoutMs: number;
  /** Request bodies slower than this, measured over `bodyRateWindowMs`, are cut off. */
  minBodyBytesPerSecond: number;
  bodyRateWindowMs: number;
  /** A stalled connection without progress this long may be shed for a new one at the bound. */
  shedAfterMs: number;
}

/** The soft RLIMIT_NOFILE of this process (Linux `/proc/self/limits`), else a conservative 1024. */
export function openFileLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    if (Number.isInteger(soft) && soft > 0) return soft;
  } catch {
    // Not Linux: fall through.
  }
  return 1024;
}

const TIMING = {
  headersTimeoutMs: 10_000,
  minBodyBytesPerSecond: 1024,
  bodyRateWindowMs: 10_000,
  shedAfterMs: 1_000,
};

/**
 * The API port's defaults: 70 % of the descriptor limit, leaving the rest to metadata servers, the
 * datastore, blobs being read or written and outgoing connections; a quarter of that per peer.
 */
export function defaultApiLimits(nofile = openFileLimit()): ConnectionLimits {
  const maxConnections = Math.max(64, Math.floor(nofile * 0.7));
  return { ...TIMING, maxConnections, maxConnectionsPerPeer: Math.max(32, Math.floor(maxConnections / 4)) };
}

/**
 * Each metadata server's own budget (5 % of the limit, 256 to 1024): an API flood cannot take it.
 * No per-peer share: an instance's workloads all reach it from loopback.
 */
export function defaultMetadataLimits(nofile = openFileLimit()): ConnectionLimits {
  const maxConnections = Math.min(1024, Math.max(256, Math.floor(nofile * 0.05)));
  return { ...TIMING, maxConnections, maxConnectionsPerPeer: maxConnections };
}

interface Conn {
  socket: Socket;
  peer: string;
  /** Requests whose response is not finished. */
  requests: number;
  /** The request whose body may still be arriving. */
  req: IncomingMessage | undefined;
  /** When the wait for the next request's headers began, and bytesRead then. */
  waitingSince: number;
  bytesAtWait: number;
  /** Last time bytesRead was seen to move. */
  lastBytes: number;
  lastProgress: number;
  windowStart: number;
  windowBytes: number;
}

export interface GovernorStats {
  connections: number;
  refused: number;
  shed: number;
  timedOut: number;
}

const CONNECTION = Symbol("the governed connection carrying this response");
type GovernedResponse = ServerResponse & { [CONNECTION]?: Conn };

/** A response ended: its connection waits for the next request. One function for all (hot path). */
function responseClosed(this: GovernedResponse) {
  const conn = this[CONNECTION];
  if (!conn) return;
  conn.requests--;
  if (conn.req === this.req) conn.req = undefined;
  if (conn.requests === 0) {
    conn.waitingSince = Date.now();
    conn.bytesAtWait = conn.socket.bytesRead;
  }
}

export class ConnectionGovernor {
  private readonly conns = new Map<Socket, Conn>();
  private readonly byPeer = new Map<string, Set<Conn>>();
  /** TLS sockets wrapping an admitted raw socket. */
  private readonly wrapped = new WeakMap<Duplex, Socket>();
  /** Why the governor closed a socket, for the audit of the request on it. */
  private readonly reasons = new WeakMap<Socket, string>();
  /** Stalled connections, stalest first, as of the last sweep. */
  private shedQueue: Conn[] = [];
  private lingering = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly counters = { refused: 0, shed: 0, timedOut: 0 };

  constructor(
    readonly limits: ConnectionLimits,
    /** The raw HTTP response sent to a connection refused at the bound. */
    private readonly refusal: () => string,
  ) {
    this.timer = setInterval(() => this.sweep(), 1000);
    this.timer.unref();
  }

  stats(): GovernorStats {
    return { connections: this.conns.size, ...this.counters };
  }

  /** A listener that admits each connection here before `http` sees it. */
  listener(http: HttpServer): NetServer {
    this.watch(http);
    // Nagle off, as node:http's own server sets it: this server accepts the connections, not `http`,
    // and a response must not wait for the client's delayed ACK of the previous one.
    return createServer({ noDelay: true }, (socket) => {
      if (this.admit(socket)) http.emit("connection", socket);
    });
  }

  /** Follows `http`'s requests, to tell stalled connections from busy ones. */
  watch(http: HttpServer): void {
    http.prependListener("request", (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
  }

  /** Records that `wrapper` (a TLS socket) carries the admitted raw `socket`. */
  alias(wrapper: Duplex, socket: Socket): void {
    this.wrapped.set(wrapper, socket);
  }

  /** Why the governor closed the connection carrying `socket`, if it did. */
  closeReason(socket: Duplex): string | undefined {
    const raw = this.wrapped.get(socket) ?? (socket as Socket);
    return this.reasons.get(raw);
  }

  /** Takes a slot for `socket`, shedding a stalled connection if needed; false when refused (and answered). */
  admit(socket: Socket): boolean {
    socket.on("error", () => socket.destroy());
    const peer = (socket.remoteAddress ?? "").replace(/^::ffff:/, "");
    const now = Date.now();
    const mine = this.byPeer.get(peer);
    if (mine && mine.size >= this.limits.maxConnectionsPerPeer) {
      const victim = this.stalest(mine, now);
      if (!victim) return this.refuse(socket);
      this.shed(victim);
    }
    if (this.conns.size >= this.limits.maxConnections) {
      const victim = this.nextShed(now);
      if (!victim) return this.refuse(socket);
      this.shed(victim);
    }
    const bytes = socket.bytesRead;
    const conn: Conn = {
      socket,
      peer,
      requests: 0,
      req: undefined,
      waitingSince: now,
      bytesAtWait: bytes,
      lastBytes: bytes,
      lastProgress: now,
      windowStart: now,
      windowBytes: bytes,
    };
    this.conns.set(socket, conn);
    let set = this.byPeer.get(peer);
    if (!set) {
      set = new Set();
      this.byPeer.set(peer, set);
    }
    set.add(conn);
    socket.once("close", () => this.forget(conn));
    return true;
  }

  /** Stops the sweeps and closes every connection. */
  close(): void {
    clearInterval(this.timer);
    for (const c of [...this.conns.values()]) c.socket.destroy();
  }

  private forget(conn: Conn) {
    if (this.conns.get(conn.socket) !== conn) return;
    this.conns.delete(conn.socket);
    const set = this.byPeer.get(conn.peer);
    set?.delete(conn);
    if (set?.size === 0) this.byPeer.delete(conn.peer);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse) {
    const raw = this.wrapped.get(req.socket) ?? (req.socket as Socket);
    const conn = this.conns.get(raw);
    if (!conn) return;
    const now = Date.now();
    conn.requests++;
    conn.req = req;
    conn.windowStart = now;
    conn.windowBytes = raw.bytesRead;
    (res as GovernedResponse)[CONNECTION] = conn;
    res.on("close", responseClosed);
  }

  /** The server, not the client, is behind: bytes wait in its buffers to be read. */
  private serverBehind(conn: Conn): boolean {
    return (conn.req?.readableLength ?? 0) > 0 || conn.socket.readableLength > 0;
  }

  private progress(conn: Conn, now: number) {
    const bytes = conn.socket.bytesRead;
    if (bytes !== conn.lastBytes) {
      conn.lastBytes = bytes;
      conn.lastProgress = now;
    }
  }

  /** Waiting for headers, or for a request body the server is ready to read, with no recent progress. */
  private stalled(conn: Conn, now: number): boolean {
    this.progress(conn, now);
    if (now - conn.lastProgress < this.limits.shedAfterMs) return false;
    if (conn.requests === 0) return true;
    return conn.req !== undefined && !conn.req.complete && !this.serverBehind(conn);
  }

  private stalest(set: Iterable<Conn>, now: number): Conn | undefined {
    let best: Conn | undefined;
    for (const c of set) if (this.stalled(c, now) && (!best || c.lastProgress < best.lastProgress)) best = c;
    return best;
  }

  private nextShed(now: number): Conn | undefined {
    while (this.shedQueue.length) {
      const c = this.shedQueue.shift()!;
      if (this.conns.get(c.socket) === c && this.stalled(c, now)) return c;
    }
    return undefined;
  }

  private shed(conn: Conn) {
    this.counters.shed++;
    this.drop(conn, "shed: the server was at its connection limit and this connection was stalled");
  }

  private drop(conn: Conn, reason: string, answer?: string) {
    this.reasons.set(conn.socket, reason);
    this.forget(conn);
    if (!answer) {
      conn.socket.destroy();
      return;
    }
    conn.socket.end(answer);
    conn.socket.setTimeout(1000, () => conn.socket.destroy());
  }

  private refuse(socket: Socket): false {
    this.counters.refused++;
    // The answer is written before the request is read; reading on for a moment lets the client
    // see it rather than a reset. Under a flood the lingering itself is bounded.
    if (this.lingering >= 256) {
      socket.destroy();
      return false;
    }
    this.lingering++;
    socket.once("close", () => this.lingering--);
    socket.end(this.refusal());
    socket.resume();
    socket.setTimeout(1000, () => socket.destroy());
    return false;
  }

  private sweep() {
    const now = Date.now();
    const stalled: Conn[] = [];
    const l = this.limits;
    for (const conn of [...this.conns.values()]) {
      this.progress(conn, now);
      if (conn.requests === 0) {
        if (now - conn.waitingSince > l.headersTimeoutMs) {
          this.counters.timedOut++;
          const partial = conn.socket.bytesRead > conn.bytesAtWait;
          this.drop(conn, "request headers not received in time", partial ? timeoutResponse() : undefined);
          continue;
        }
      } else if (conn.req && !conn.req.complete) {
        if (this.serverBehind(conn)) {
          conn.windowStart = now;
          conn.windowBytes = conn.socket.bytesRead;
        } else if (now - conn.windowStart >= l.bodyRateWindowMs) {
          const rate = (conn.socket.bytesRead - conn.windowBytes) / ((now - conn.windowStart) / 1000);
          if (rate < l.minBodyBytesPerSecond) {
            this.counters.timedOut++;
            this.drop(conn, `request body slower than ${l.minBodyBytesPerSecond} bytes/s`);
            continue;
          }
          conn.windowStart = now;
          conn.windowBytes = conn.socket.bytesRead;
        }
      }
      if (this.stalled(conn, now)) stalled.push(conn);
    }
    this.shedQueue = stalled.sort((a, b) => a.lastProgress - b.lastProgress);
  }
}

function timeoutResponse(): string {
  const error = new ApiError(
    408,
    "INVALID_ARGUMENT",
    "requestTimeout",
    "The request was not received in time.",
  );
  return rawResponse(
    408,
    "Request Timeout",
    "application/json; charset=UTF-8",
    JSON.stringify(error.toJSON()),
  );
}

/** A complete HTTP/1.1 response that closes the connection. */
export function rawResponse(
  status: number,
  statusText: string,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): string {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  return (
    `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: ${contentType}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`
  );
}
