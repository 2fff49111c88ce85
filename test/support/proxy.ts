/** Raw exchanges with the interception proxy of a harness started with `proxyPort`. */
import { connect } from "node:net";
import type { Harness } from "./harness.js";

export const proxyAddress = (h: Harness) => new URL(h.server.proxyUrl!);

/** Sends raw bytes to the proxy and collects everything until it closes (or `untilMs`). */
export function rawExchange(
  h: Harness,
  text: string,
  untilMs = 5000,
): Promise<{ data: string; closedAfterMs: number }> {
  const { hostname, port } = proxyAddress(h);
  const started = Date.now();
  return new Promise((ok, fail) => {
    const s = connect(Number(port), hostname);
    let data = "";
    const timer = setTimeout(() => {
      s.destroy();
      fail(new Error(`still open after ${untilMs} ms; got ${JSON.stringify(data)}`));
    }, untilMs);
    s.on("data", (c) => (data += c));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      ok({ data, closedAfterMs: Date.now() - started });
    });
    s.write(text);
  });
}
