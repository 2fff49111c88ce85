/**
 * `serve --proxy`: CONNECT to a Google API host is served by Warrant itself over TLS with a leaf
 * of the installation's CA; every other target is refused without any outbound connection.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import { proxyAddress, rawExchange } from "../support/proxy.js";

/** CONNECT host:443 through the proxy, then TLS to it trusting only `ca` (SNI `servername`, default host). */
function tunnel(h: Harness, host: string, ca: string, servername = host): Promise<TLSSocket> {
  const { hostname, port } = proxyAddress(h);
  return new Promise((ok, fail) => {
    const s = connect(Number(port), hostname);
    s.once("error", fail);
    s.write(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`);
    s.once("data", (chunk) => {
      const head = chunk.toString();
      if (!head.startsWith("HTTP/1.1 200 Connection Established\r\n\r\n")) return fail(new Error(head));
      const t = tlsConnect({ socket: s, servername, ca, ALPNProtocols: ["http/1.1"] }, () => ok(t));
      t.once("error", fail);
    });
  });
}

/** One HTTP/1.1 request over an open tunnel. */
function requestOver(t: TLSSocket, lines: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    let data = "";
    t.on("data", (c) => (data += c));
    t.on("error", fail);
    t.on("end", () => {
      const [head, ...rest] = data.split("\r\n\r\n");
      let body = rest.join("\r\n\r\n");
      if (/transfer-encoding: chunked/i.test(head!)) {
        let out = "";
        let rem = body;
        for (;;) {
          const i = rem.indexOf("\r\n");
          const n = Number.parseInt(rem.slice(0, i), 16);
          if (!n) break;
          out += rem.slice(i + 2, i + 2 + n);
          rem = rem.slice(i + 4 + n);
        }
        body = out;
      }
      ok({ status: Number(head!.split(" ")[1]), body });
    });
    t.write(lines);
  });
}

describe("warrant serve --proxy", () => {
  let h: Harness;
  let ca: string;
  before(async () => {
    h = await startHarness({ proxyPort: 0, proxyIdleTimeoutMs: 600, proxyHandshakeTimeoutMs: 600 });
    ca = readFileSync(h.server.caFile!, "utf8");
  });
  after(() => h.close());

  test("warrant env --proxy prints the proxy and each runtime's CA variable", async () => {
    const r = await runCli(["env", "--proxy"], { env: { WARRANT_STATE_DIR: h.stateDir } });
    assert.equal(r.code, 0, r.stderr);
    const vars = Object.fromEntries(
      [...r.stdout.matchAll(/^export ([A-Za-z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    assert.equal(vars.HTTPS_PROXY, h.server.proxyUrl);
    assert.equal(vars.https_proxy, h.server.proxyUrl);
    assert.equal(vars.NO_PROXY, "127.0.0.1,localhost");
    assert.equal(vars.NODE_EXTRA_CA_CERTS, `${h.stateDir}/ca.pem`);
    for (const v of ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE"])
      assert.equal(vars[v], `${h.stateDir}/ca-bundle.pem`, v);
    assert.equal(vars.WARRANT_ENDPOINT, h.url);
    const bundle = readFileSync(`${h.stateDir}/ca-bundle.pem`, "utf8");
    assert.ok(bundle.endsWith(ca));
    assert.ok(bundle.length > ca.length + 1000, "the system bundle comes first");
  });

  test("warrant env --proxy against a server without the proxy says how to start it", async () => {
    const plain = await startHarness();
    try {
      const r = await runCli(["env", "--proxy"], { env: { WARRANT_STATE_DIR: plain.stateDir } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /without the interception proxy[\s\S]*serve --proxy/);
    } finally {
      await plain.close();
    }
  });

  test("oauth2.googleapis.com/token through the proxy is Warrant's token endpoint", async () => {
    const cred = JSON.parse(readFileSync(h.server.adminCredentialFile, "utf8"));
    const body = new URLSearchParams({
      grant_type: "refresh_token",
      client_id: cred.client_id,
      client_secret: cred.client_secret,
      refresh_token: cred.refresh_token,
    }).toString();
    const t = await tunnel(h, "oauth2.googleapis.com", ca);
    assert.equal(t.getPeerCertificate().subject.CN, "oauth2.googleapis.com");
    const r = await requestOver(
      t,
      `POST /token HTTP/1.1\r\nHost: oauth2.googleapis.com\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.equal(r.status, 200, r.body);
    const token = JSON.parse(r.body).access_token as string;
    const info = await h.call("GET", `/tokeninfo?access_token=${token}`, { token: null });
    assert.equal(info.status, 200, info.text);
    assert.equal(info.body.email, "admin@warrant.local");
  });

  test("accounts.google.com/o/oauth2/token (the legacy token URL) is the token endpoint too", async () => {
    const cred = JSON.parse(readFileSync(h.server.adminCredentialFile, "utf8"));
    const body = new URLSearchParams({
      grant_type: "refresh_token",
      client_id: cred.client_id,
      client_secret: cred.client_secret,
      refresh_token: cred.refresh_token,
    }).toString();
    const t = await tunnel(h, "accounts.google.com", ca);
    const r = await requestOver(
      t,
      `POST /o/oauth2/token HTTP/1.1\r\nHost: accounts.google.com\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.equal(r.status, 200, r.body);
    assert.match(JSON.parse(r.body).access_token, /^ey/);
    // The authorization endpoint is Warrant's sign-in (docs/sign-in.md): without a client, an error page.
    const auth = await requestOver(
      await tunnel(h, "accounts.google.com", ca),
      "GET /o/oauth2/auth HTTP/1.1\r\nHost: accounts.google.com\r\nConnection: close\r\n\r\n",
    );
    assert.equal(auth.status, 400);
    assert.match(auth.body, /client_id is missing/);
    // Other paths on accounts.google.com are not Warrant's.
    const other = await requestOver(
      await tunnel(h, "accounts.google.com", ca),
      "GET /ServiceLogin HTTP/1.1\r\nHost: accounts.google.com\r\nConnection: close\r\n\r\n",
    );
    assert.equal(other.status, 404);
  });

  test("storage.googleapis.com links name the Google host the client used", async () => {
    await h.call("POST", `/storage/v1/b?project=${h.server.defaultProject}`, { body: { name: "proxied" } });
    const t = await tunnel(h, "storage.googleapis.com", ca);
    const r = await requestOver(
      t,
      `GET /storage/v1/b/proxied HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer ${h.adminToken}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).selfLink, "https://storage.googleapis.com/storage/v1/b/proxied");
  });

  test("the leaf is for the host connected to only", async () => {
    const t = await tunnel(h, "www.googleapis.com", ca);
    const cert = t.getPeerX509Certificate()!;
    assert.equal(cert.checkHost("www.googleapis.com"), "www.googleapis.com");
    assert.equal(cert.checkHost("storage.googleapis.com"), undefined);
    const r = await requestOver(
      t,
      "GET /oauth2/v3/certs HTTP/1.1\r\nHost: www.googleapis.com\r\nConnection: close\r\n\r\n",
    );
    assert.equal(r.status, 200);
    assert.ok(Array.isArray(JSON.parse(r.body).keys));
  });

  test("a handshake naming another host (SNI) gets no certificate for it", async () => {
    // The tunnel is to a Google host; asking for evil.example inside it must not mint a leaf for it.
    await assert.rejects(
      tunnel(h, "oauth2.googleapis.com", ca, "evil.example"),
      (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, "ERR_TLS_CERT_ALTNAME_INVALID");
        return true;
      },
    );
  });

  // CONNECT to other hosts, ports and IP literals: test/security/proxy-connect-targets.test.ts.

  test("plain requests to the proxy get 405 with an explanation; garbage gets 400", async () => {
    const r = await rawExchange(h, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert.match(r.data, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    assert.match(r.data, /accepts only CONNECT to Google API hosts/);
    const bad = await rawExchange(h, "NONSENSE\r\n\r\n");
    assert.match(bad.data, /^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  test("slow CONNECT headers, a tunnel without a TLS handshake and an idle tunnel are all closed", async () => {
    const slow = await rawExchange(h, "CONNECT oauth2.googleapis.com:443 HTTP/1.1\r\nHost: oau");
    assert.ok(slow.closedAfterMs < 4000, `slow headers closed after ${slow.closedAfterMs} ms`);
    const noHandshake = await rawExchange(h, "CONNECT oauth2.googleapis.com:443 HTTP/1.1\r\n\r\n");
    assert.match(noHandshake.data, /^HTTP\/1\.1 200 Connection Established/);
    assert.ok(noHandshake.closedAfterMs < 4000);
    const t = await tunnel(h, "oauth2.googleapis.com", ca);
    const started = Date.now();
    await new Promise((ok) => t.on("close", ok));
    assert.ok(Date.now() - started < 4000);
  });
});
