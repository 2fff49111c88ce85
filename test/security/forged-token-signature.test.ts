/**
 * Attack: present an access token Warrant did not sign, or changed after signing. Every variant is
 * refused 401 `authError` at the APIs and `invalid_token` at tokeninfo, and the real token beside
 * it still works, so the refusal is about the forgery, not the request. (Forged *assertions* at the
 * token endpoint — the jwt-bearer grant — are refused in test/api/tokens.test.ts, "forgeries and
 * bad assertions".)
 */
import assert from "node:assert/strict";
import { createHmac, createPublicKey, generateKeyPairSync } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import { type Harness, mintWithServerKey, startHarness } from "../support/harness.js";

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const parts = (t: string) => {
  const [head, payload, sig] = t.split(".") as [string, string, string];
  return {
    head,
    payload,
    sig,
    header: JSON.parse(Buffer.from(head, "base64url").toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>,
  };
};

describe("attack: forged access-token signatures", () => {
  let h: Harness;
  let other: Harness;
  before(async () => {
    h = await startHarness({ agents: false });
    other = await startHarness({ agents: false });
  });
  after(async () => {
    await h.close();
    await other.close();
  });

  async function refused(name: string, token: string) {
    const r = await h.call("GET", "/v1/projects", { token });
    assert.equal(r.status, 401, `${name}: ${r.text}`);
    assert.equal(r.body.error.errors[0].reason, "authError", name);
    assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/, name);
    const info = await fetch(`${h.url}/tokeninfo?access_token=${encodeURIComponent(token)}`);
    assert.equal(info.status, 400, `${name} at tokeninfo`);
    assert.equal(((await info.json()) as { error: string }).error, "invalid_token", name);
  }

  test("the genuine token works (the control for every case below)", async () => {
    assert.equal((await h.call("GET", "/v1/projects")).status, 200);
  });

  test("tampered claims: another subject, a wider scope, a later expiry", async () => {
    const t = parts(h.adminToken);
    for (const [name, change] of [
      ["subject", { sub: "user:mallory@example.com" }],
      ["scope", { scope: `${t.claims.scope} https://www.googleapis.com/auth/iam` }],
      ["expiry", { exp: (t.claims.exp as number) + 86_400 }],
    ] as const)
      await refused(`tampered ${name}`, `${t.head}.${b64({ ...t.claims, ...change })}.${t.sig}`);
  });

  test("alg none, and HS256 keyed with the published public key", async () => {
    const t = parts(h.adminToken);
    await refused("alg none", `${b64({ ...t.header, alg: "none" })}.${t.payload}.`);
    await refused("alg none, signature kept", `${b64({ ...t.header, alg: "none" })}.${t.payload}.${t.sig}`);
    const certs = (await (await fetch(`${h.url}/oauth2/v1/certs`)).json()) as Record<string, string>;
    const pem = createPublicKey(certs[t.header.kid as string]!).export({ type: "spki", format: "pem" });
    for (const secret of [pem, certs[t.header.kid as string]!]) {
      const input = `${b64({ ...t.header, alg: "HS256" })}.${t.payload}`;
      await refused(
        "HS256 with the public key",
        `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`,
      );
    }
  });

  test("signed by an attacker's key: with Warrant's kid, with an unknown kid, with none", async () => {
    const t = parts(h.adminToken);
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    for (const [name, kid] of [
      ["Warrant's kid", t.header.kid as string],
      ["unknown kid", "0".repeat(40)],
      ["no kid", undefined],
    ] as const) {
      const token = await new SignJWT(t.claims)
        .setProtectedHeader({ alg: "RS256", typ: "at+jwt", ...(kid ? { kid } : {}) })
        .sign(privateKey);
      await refused(`attacker key, ${name}`, token);
    }
  });

  test("a genuine token of another installation, and Warrant's own key under another issuer", async () => {
    await refused("another installation's token", other.adminToken);
    const foreignIssuer = await mintWithServerKey(h, "urn:warrant:organizations:1", Date.now());
    await refused("another issuer", foreignIssuer);
  });

  test("expired, and issued in the future, by the server's own key", async () => {
    const iss = parts(h.adminToken).claims.iss as string;
    await refused("expired", await mintWithServerKey(h, iss, Date.now() - 2 * 3600_000));
    await refused("issued in the future", await mintWithServerKey(h, iss, Date.now() + 3600_000));
    // The same key and claims minted now are accepted: only the time differs.
    assert.equal(
      (await h.call("GET", "/v1/projects", { token: await mintWithServerKey(h, iss, Date.now()) })).status,
      200,
    );
  });

  test("garbage, truncated, and a token in a non-Bearer scheme", async () => {
    const t = parts(h.adminToken);
    for (const [name, token] of [
      ["garbage", "not-a-jwt"],
      ["two segments", `${t.head}.${t.payload}`],
      ["signature cut", `${t.head}.${t.payload}.${t.sig.slice(0, 20)}`],
      ["extra segment", `${h.adminToken}.x`],
    ] as const)
      await refused(name, token);
    const basic = await h.call("GET", "/v1/projects", {
      token: null,
      headers: { authorization: `Basic ${h.adminToken}` },
    });
    assert.equal(basic.status, 401);
  });
});
