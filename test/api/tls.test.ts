/** `serve --tls`: the API port speaks HTTPS (CA-signed) as well as HTTP, and links follow the scheme used. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { request } from "node:https";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";

// Asynchronous: the server under test runs in this process.
const run = promisify(execFile);

import { type Harness, startHarness } from "../support/harness.js";

function get(
  url: string,
  opts: { ca?: string; token?: string; servername?: string },
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((ok, fail) => {
    const req = request(
      url,
      {
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.servername ? { servername: opts.servername } : {}),
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
        agent: false,
      },
      (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => ok({ status: res.statusCode!, body, headers: res.headers }));
      },
    );
    req.on("error", fail);
    req.end();
  });
}

describe("warrant serve --tls", () => {
  let h: Harness;
  let ca: string;
  before(async () => {
    h = await startHarness({ tls: true });
    ca = readFileSync(h.server.caFile!, "utf8");
  });
  after(() => h.close());

  test("server.json records the https URL and the CA files", () => {
    const info = JSON.parse(readFileSync(`${h.stateDir}/server.json`, "utf8"));
    assert.equal(info.httpsUrl, h.url.replace("http://", "https://"));
    assert.equal(info.caFile, `${h.stateDir}/ca.pem`);
    assert.equal(new X509Certificate(ca).ca, true);
    assert.ok(readFileSync(info.caBundleFile, "utf8").endsWith(ca), "the bundle ends with the CA");
  });

  test("HTTPS with the CA trusted answers, and links in responses are https", async () => {
    const project = h.server.defaultProject;
    await h.call("POST", `/storage/v1/b?project=${project}`, { body: { name: "tls-bucket" } });
    const r = await get(`${h.server.httpsUrl}/storage/v1/b/tls-bucket`, { ca, token: h.adminToken });
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).selfLink, `${h.server.httpsUrl}/storage/v1/b/tls-bucket`);
    // Over plain HTTP on the same port, the same resource links to http.
    const plain = await h.call("GET", "/storage/v1/b/tls-bucket");
    assert.equal(plain.body.selfLink, `${h.url}/storage/v1/b/tls-bucket`);
  });

  test("localhost is a valid name too; without the CA the certificate is rejected", async () => {
    const port = new URL(h.url).port;
    const r = await get(`https://localhost:${port}/oauth2/v3/certs`, { ca });
    assert.equal(r.status, 200);
    await assert.rejects(
      get(`${h.server.httpsUrl}/oauth2/v3/certs`, {}),
      /self-signed|unable to (get|verify)/,
    );
  });

  test("a child process trusting the CA via NODE_EXTRA_CA_CERTS fetches over HTTPS", async () => {
    const out = await run(
      process.execPath,
      [
        "-e",
        `fetch(${JSON.stringify(`${h.server.httpsUrl}/oauth2/v3/certs`)}).then(r => console.log(r.status))`,
      ],
      {
        env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: h.server.caFile! },
        encoding: "utf8",
        timeout: 20_000,
      },
    );
    assert.equal(out.stdout.trim(), "200", out.stderr);
    const untrusted = await run(
      process.execPath,
      [
        "-e",
        `fetch(${JSON.stringify(`${h.server.httpsUrl}/oauth2/v3/certs`)}).then(r => console.log(r.status), e => console.log(e.cause?.code))`,
      ],
      { env: { PATH: process.env.PATH }, timeout: 20_000 },
    );
    assert.match(untrusted.stdout, /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/);
  });

  test("after a restart the same CA still verifies the new server certificate", async () => {
    await h.restart();
    const r = await get(`${h.server.httpsUrl}/oauth2/v3/certs`, { ca });
    assert.equal(r.status, 200);
  });
});
