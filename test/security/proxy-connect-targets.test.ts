/**
 * Attack: use Warrant's HTTPS interception proxy as a way out — to a non-Google host, to an IP
 * literal (the metadata address, the loopback API port, another local service), to a Google host
 * on another port, or with a host spelled to look like Google's. Every such CONNECT is answered
 * 403 at once, and no outbound socket is ever opened: the proxy terminates TLS for the Google API
 * hosts it serves itself and forwards nothing.
 */
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { createServer, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { rawExchange } from "../support/proxy.js";

describe("attack: proxy CONNECT targets", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ agents: false, proxyPort: 0 });
  });
  after(() => h.close());

  test("other hosts, ports and IP literals are refused with 403 and no outbound socket is opened", async () => {
    // A reachable non-Google target: if the proxy forwarded, this listener would see a connection.
    let reached = 0;
    const bait = createServer((s) => {
      reached++;
      s.destroy();
    });
    await new Promise<void>((ok) => bait.listen(0, "127.0.0.1", ok));
    const baitPort = (bait.address() as { port: number }).port;
    const apiPort = new URL(h.url).port;
    // Every client socket this process creates (the test's own included) is published here.
    const created: Socket[] = [];
    const onSocket = (m: unknown) => created.push((m as { socket: Socket }).socket);
    subscribe("net.client.socket", onSocket);
    const before = h.server.proxyStats!().refused;
    const targets = [
      "example.com:443",
      `127.0.0.1:${baitPort}`,
      `localhost:${baitPort}`,
      `127.0.0.1:${apiPort}`,
      "169.254.169.254:80",
      "metadata.google.internal:80",
      "2130706433:443",
      "0x7f.0.0.1:443",
      "oauth2.googleapis.com:80",
      "oauth2.googleapis.com:8443",
      "storage.googleapis.com.evil.example:443",
      "evilgoogleapis.com:443",
      // Non-routable: a forwarding proxy would hang here instead of answering at once.
      "10.255.255.1:443",
    ];
    try {
      for (const target of targets) {
        const before = created.length;
        const r = await rawExchange(h, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
        assert.match(r.data, /^HTTP\/1\.1 403 Forbidden\r\n/, target);
        assert.match(
          r.data,
          new RegExp(`refuses CONNECT ${target.replace(/\./g, "\\.")}: it only intercepts Google API hosts`),
        );
        assert.ok(r.closedAfterMs < 1000, `${target} answered in ${r.closedAfterMs} ms`);
        assert.equal(created.length - before, 1, `${target}: only the test's own connection to the proxy`);
      }
      assert.equal(reached, 0, "no connection reached the non-Google listener");
      assert.equal(h.server.proxyStats!().refused - before, targets.length);
    } finally {
      unsubscribe("net.client.socket", onSocket);
      bait.close();
    }
  });

  test("IPv6 literals, userinfo and junk are not host:port at all: 400, nothing opened", async () => {
    for (const target of [
      "[::1]:443",
      "[::ffff:127.0.0.1]:443",
      "user@oauth2.googleapis.com:443",
      "oauth2.googleapis.com",
      ":443",
    ]) {
      const r = await rawExchange(h, `CONNECT ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.match(r.data, /^HTTP\/1\.1 (400|403) /, `${target}: ${r.data.slice(0, 60)}`);
      assert.doesNotMatch(r.data, /200 Connection Established/, target);
    }
  });
});
