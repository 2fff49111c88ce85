/**
 * The jwt-bearer grant checks its assertion's RS256 signature directly with `crypto.verify`: a
 * forged, altered or oddly encoded assertion gets `invalid_grant`, never a token.
 */
import assert from "node:assert/strict";
import { createHmac, createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";

const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const b64 = (x: unknown) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");

describe("forged jwt-bearer assertions", () => {
  let h: Harness;
  let kid: string;
  let pem: string;
  before(async () => {
    h = await startHarness();
    const r = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}/keys`, { body: {} });
    assert.equal(r.status, 200, r.text);
    const kf = JSON.parse(Buffer.from(r.body.privateKeyData as string, "base64").toString()) as {
      private_key_id: string;
      private_key: string;
    };
    kid = kf.private_key_id;
    pem = kf.private_key;
  });
  after(() => h.close());

  const claims = (extra: Record<string, unknown> = {}) => {
    const iat = Math.floor(Date.now() / 1000);
    return { iss: SA, aud: "https://oauth2.googleapis.com/token", iat, exp: iat + 3600, ...extra };
  };
  const signed = (header: Record<string, unknown>, payload: Record<string, unknown>, key = pem) => {
    const input = `${b64(header)}.${b64(payload)}`;
    return `${input}.${sign("sha256", Buffer.from(input), createPrivateKey(key)).toString("base64url")}`;
  };
  const grant = async (assertion: string) => {
    const r = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, string> };
  };
  const refused = async (assertion: string, what: string) => {
    const r = await grant(assertion);
    assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, "invalid_grant", what);
    assert.equal(r.body.access_token, undefined, what);
  };

  test("the genuine assertion works, with and without kid (the control)", async () => {
    for (const header of [
      { alg: "RS256", kid, typ: "JWT" },
      { alg: "RS256", typ: "JWT" },
    ]) {
      const r = await grant(signed(header, claims()));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.access_token);
    }
  });

  test("altered claims, alg none, HS256 keyed with the public key, another key's signature", async () => {
    const genuine = signed({ alg: "RS256", kid }, claims());
    const [hh, , s] = genuine.split(".") as [string, string, string];
    await refused(
      `${hh}.${b64(claims({ scope: "https://www.googleapis.com/auth/admin" }))}.${s}`,
      "altered payload",
    );
    await refused(`${b64({ alg: "none", kid })}.${b64(claims())}.`, "alg none, empty signature");
    await refused(`${b64({ alg: "none", kid })}.${b64(claims())}.${s}`, "alg none with a signature");
    const publicPem = createPrivateKey(pem).export({ type: "pkcs1", format: "pem" }).toString();
    const hsInput = `${b64({ alg: "HS256", kid })}.${b64(claims())}`;
    await refused(
      `${hsInput}.${createHmac("sha256", publicPem).update(hsInput).digest("base64url")}`,
      "HS256 with the key as secret",
    );
    const attacker = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    await refused(
      signed({ alg: "RS256", kid }, claims(), attacker.toString()),
      "attacker's key, victim's kid",
    );
    await refused(signed({ alg: "RS256" }, claims(), attacker.toString()), "attacker's key, no kid");
  });

  test("non-canonical encodings, extra segments and critical headers of a genuine signature", async () => {
    const genuine = signed({ alg: "RS256", kid }, claims());
    const [hh, p, s] = genuine.split(".") as [string, string, string];
    await refused(`${hh}.${p}.${s}=`, "padding on the signature");
    await refused(`${hh}.${p}.${s}.`, "a fourth segment");
    await refused(`${hh}.${p}`, "no signature");
    const b64std = Buffer.from(s, "base64url").toString("base64");
    if (b64std.replace(/=+$/, "") !== s) await refused(`${hh}.${p}.${b64std}`, "standard base64 signature");
    await refused(signed({ alg: "RS256", kid, crit: ["exp"] }, claims()), "a critical header");
    await refused(signed({ alg: "RS256", kid, b64: false }, claims()), "unencoded payload header");
  });
});
