/**
 * The real Node `google-auth-library` with a Warrant key file. Two flows need no interception:
 * the self-signed JWT a JWT client sends when it has no scopes, and ID-token verification against
 * Warrant's certificate URL. (With scopes, the library posts to Google's hard-coded token host,
 * ignoring the key file's token_uri: that flow is tested with the HTTPS interception proxy.)
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GoogleAuth, JWT, OAuth2Client } from "google-auth-library";
import { importPKCS8, SignJWT } from "jose";
import { type Harness, startHarness } from "../support/harness.js";

const SA = "demo-sa@demo-project.iam.gserviceaccount.com";

describe("Node google-auth-library against Warrant", () => {
  let h: Harness;
  let keyFile: Record<string, string>;
  before(async () => {
    h = await startHarness();
    const r = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}/keys`, { body: {} });
    keyFile = JSON.parse(Buffer.from(r.body.privateKeyData, "base64").toString());
  });
  after(() => h.close());

  test("GoogleAuth with the key file and no scopes: its self-signed JWT is accepted by the API", async () => {
    const auth = new GoogleAuth({ credentials: keyFile as never });
    const client = await auth.getClient();
    assert.ok(client instanceof JWT);
    const url = `${h.url}/compute/v1/projects/demo-project/zones/us-central1-a/instances`;
    const headers = await client.getRequestHeaders(url);
    const authorization =
      headers instanceof Headers
        ? headers.get("authorization")
        : (headers as Record<string, string>).Authorization;
    assert.match(authorization ?? "", /^Bearer ey/);
    const jwtHeader = JSON.parse(Buffer.from(authorization!.slice(7).split(".")[0]!, "base64url").toString());
    assert.equal(jwtHeader.kid, keyFile.private_key_id, "the library signed with the key file's key");
    const r = await fetch(url, { headers: { authorization: authorization! } });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { items: { name: string }[] };
    assert.ok(body.items.some((i) => i.name === "demo-vm"));
  });

  test("OAuth2Client.verifyIdToken accepts a Warrant ID token against Warrant's certs URL", async () => {
    const key = await importPKCS8(keyFile.private_key!, "RS256");
    const iat = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ target_audience: "https://service.example" })
      .setProtectedHeader({ alg: "RS256" })
      .setIssuer(SA)
      .setAudience("https://oauth2.googleapis.com/token")
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(key);
    const res = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
    });
    const { id_token } = (await res.json()) as { id_token: string };
    const verifier = new OAuth2Client({
      endpoints: { oauth2FederatedSignonPemCertsUrl: `${h.url}/oauth2/v1/certs` },
    });
    const ticket = await verifier.verifyIdToken({ idToken: id_token, audience: "https://service.example" });
    const payload = ticket.getPayload()!;
    assert.equal(payload.email, SA);
    assert.equal(payload.aud, "https://service.example");
    await assert.rejects(
      verifier.verifyIdToken({ idToken: id_token, audience: "https://other.example" }),
      /audience/i,
    );
  });
});
