/**
 * Idle kept-alive connections: the timeout a server advertises (`Keep-Alive: timeout=5`) and the
 * later moment it really closes them. Clients close an idle connection around the advertised time,
 * Node's fetch with timers that may fire a second late; a server closing at exactly that moment races
 * a client that reuses the connection, and the client's request fails with a reset it cannot retry
 * safely. Closing a few seconds after the advertised time (as Node 24's `keepAliveTimeoutBuffer`
 * does) leaves the client to close first. Idle connections are still shed at once when the
 * connection governor needs their slot.
 */
import type { Server, ServerResponse } from "node:http";

export const KEEP_ALIVE_ADVERTISED_MS = 5_000;
export const KEEP_ALIVE_CLOSE_MS = 8_000;

export function keepAliveWithGrace(server: Server): void {
  server.keepAliveTimeout = KEEP_ALIVE_CLOSE_MS;
  // Node 20 advertises the response's own `_keepAliveTimeout` (copied from the server's) and closes
  // on the server's: set the advertised value per response.
  server.prependListener("request", (_req, res: ServerResponse) => {
    (res as unknown as { _keepAliveTimeout: number })._keepAliveTimeout = KEEP_ALIVE_ADVERTISED_MS;
  });
}
