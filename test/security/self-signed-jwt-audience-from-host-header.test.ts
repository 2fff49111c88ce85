/**
 * Attack: replaying a self-signed JWT made for another service. Its audience was compared with the
 * request's `Host` header, which the client chooses: a JWT for `http://other-svc.internal/` was
 * accepted when sent with `Host: other-svc.internal`. Audiences are now compared with the URLs
 * this installation is configured to answer at, and `nbf` is honoured.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { importPKCS8, SignJWT } from "jose";
import { type Harness, startHarness } from "../support/harness.js";

const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const LIST = "/compute/v1/projects/demo-project/zones/us-central1-a/instances";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

interface KeyFile {
  private_key_id: string;
  private_key: string;
  client_email: string;
}

/** A request with a Host header of the test's choosing (fetch does not allow setting it). */
function withHost(
  h: Harness,
  method: string,
  path: string,
  host: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, h.url), { method, headers: { ...headers, host } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode!, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("a self-signed JWT's audience is checked against configuration, never the Host header", () => {
  let h: Harness;
  let keyFile: KeyFile;
  const now = () => Math.floor(Date.now() / 1000);
  const sign = async (claims: Record<string, unknown>) => {
    const key = await importPKCS8(keyFile.private_key, "RS256");
    const iat = now();
    return new SignJWT({ iss: SA, sub: SA, iat, exp: iat + 3600, ...claims })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: keyFile.private_key_id })
      .sign(key);
  };
  const list = async (token: string, host: string) =>
    (await withHost(h, "GET", LIST, host, { authorization: `Bearer ${token}` })).status;

  before(async () => {
    h = await startHarness({ externalUrls: ["https://warrant.example.com"] });
    const r = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}/keys`, { body: {} });
    assert.equal(r.status, 200, r.text);
    keyFile = JSON.parse(Buffer.from(r.body.privateKeyData, "base64").toString());
  });
  after(() => h.close());

  test("a JWT for http://other-svc.internal/ sent with Host: other-svc.internal → 401", async () => {
    const token = await sign({ aud: "http://other-svc.internal/" });
    assert.equal(await list(token, "other-svc.internal"), 401);
    assert.equal(await list(token, new URL(h.url).host), 401);
  });

  test("a jwt-bearer assertion for another token endpoint, with a forged Host → invalid_grant", async () => {
    const key = await importPKCS8(keyFile.private_key, "RS256");
    const iat = now();
    const assertion = await new SignJWT({
      iss: SA,
      aud: "http://other-svc.internal/token",
      iat,
      exp: iat + 3600,
      scope: "https://www.googleapis.com/auth/cloud-platform",
    })
      .setProtectedHeader({ alg: "RS256" })
      .sign(key);
    const r = await withHost(
      h,
      "POST",
      "/token",
      "other-svc.internal",
      { "content-type": "application/x-www-form-urlencoded" },
      new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
    );
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /audience/);
  });

  test("audiences this installation answers at are accepted, whatever the Host header says", async () => {
    const host = new URL(h.url).host;
    assert.equal(await list(await sign({ aud: `${h.url}${LIST}` }), "other-svc.internal"), 200);
    assert.equal(await list(await sign({ aud: `http://localhost:${new URL(h.url).port}/` }), host), 200);
    assert.equal(await list(await sign({ aud: "https://warrant.example.com/compute/v1/" }), host), 200);
    assert.equal(await list(await sign({ aud: "https://compute.googleapis.com/" }), host), 200);
    // Only Google API hosts Warrant serves, over HTTPS.
    assert.equal(await list(await sign({ aud: "http://compute.googleapis.com/" }), host), 401);
    assert.equal(await list(await sign({ aud: "https://pubsub.googleapis.com/" }), host), 401);
  });

  test("nbf in the future → 401; nbf now → 200", async () => {
    const host = new URL(h.url).host;
    assert.equal(await list(await sign({ aud: `${h.url}/`, nbf: now() + 600 }), host), 401);
    assert.equal(
      await list(
        await sign({ scope: "https://www.googleapis.com/auth/cloud-platform", nbf: now() + 600 }),
        host,
      ),
      401,
    );
    assert.equal(await list(await sign({ aud: `${h.url}/`, nbf: "soon" }), host), 401);
    assert.equal(await list(await sign({ aud: `${h.url}/`, nbf: now() }), host), 200);
  });
});
