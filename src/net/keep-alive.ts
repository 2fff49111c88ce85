/**
 * Idle kept-alive connections: the timeout a server advertises (`Keep-Alive: timeout=5`) and the
 * later moment it really closes them. Clients close an idle connection around the advertised time,
 * Node's fetch with timers that may fire a second late; a server closing at exactly that moment races
 * a client that reuses the connection, and the client's request fails with a reset it cannot retry
 * safely. Closing a few seconds after the advertised time (as Node 24's `keepAliveTimeoutBuffer`
 * does) leaves the client to close first. Idle connections are still shed at once when the
 * connection governor needs their slot.
 */
import { type Server, ServerResponse } from "node:http";

export const KEEP_ALIVE_ADVERTISED_MS = 5_000;
export const KEEP_ALIVE_CLOSE_MS = 8_000;

/**
 * A response that advertises the shorter timeout. Node 20 copies the server's `keepAliveTimeout`
 * into each response's `_keepAliveTimeout` (which the `Keep-Alive` header states) right after making
 * it, and closes idle connections on the server's own value; an accessor on the class keeps the
 * advertised one without a listener on every request.
 */
export class KeepAliveResponse extends ServerResponse {}
Object.defineProperty(KeepAliveResponse.prototype, "_keepAliveTimeout", {
  get: () => KEEP_ALIVE_ADVERTISED_MS,
  set: () => {},
  configurable: true,
});

/**
 * Closes idle connections at `KEEP_ALIVE_CLOSE_MS`; the server must have been made with
 * `{ ServerResponse: KeepAliveResponse }` (or a subclass) to advertise `KEEP_ALIVE_ADVERTISED_MS`.
 */
export function keepAliveWithGrace(server: Server): void {
  server.keepAliveTimeout = KEEP_ALIVE_CLOSE_MS;
}
