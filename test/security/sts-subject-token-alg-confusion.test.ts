/**
 * Attack: a subject token whose header picks the algorithm — `none`, HS256 keyed with the
 * provider's public RSA key, or an algorithm of another key family than the key its kid names —
 * so that a verifier trusting the header accepts a token nobody with the private key signed.
 * STS must accept only RS256/ES256, and only with a key of the matching family.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { type Issuer, startIssuer } from "../support/oidc-issuer.js";
import { createFederation, exchange, type Federation, refusedExchanges } from "../support/wif.js";

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

describe("STS subject token: algorithm confusion", () => {
  let h: Harness;
  let issuer: Issuer;
  let fed: Federation;
  before(async () => {
    h = await startHarness({ agents: false });
    issuer = await startIssuer();
    fed = await createFederation(h, issuer, { inlineJwks: true });
  });
  after(async () => {
    await h.close();
    await issuer.close();
  });

  test("none, HS256 with the public key, PS256 and cross-family kids are all refused and audited", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer.url, sub: "repo:org/app", aud: fed.audience, iat: now, exp: now + 600 };
    const rsaPublic = JSON.stringify(issuer.jwks().keys[0]);
    const hs = (() => {
      const input = `${b64({ alg: "HS256", kid: "rsa-1", typ: "JWT" })}.${b64(claims)}`;
      return `${input}.${createHmac("sha256", rsaPublic).update(input).digest("base64url")}`;
    })();
    const signedRs = await issuer.sign(claims);
    const signedEs = await issuer.sign(claims, { alg: "ES256" });
    const [, rsPayload, rsSig] = signedRs.split(".");
    const [, esPayload, esSig] = signedEs.split(".");
    const forged: [string, string, RegExp][] = [
      ["alg none", `${b64({ alg: "none", kid: "rsa-1" })}.${b64(claims)}.AA`, /alg "none" is not allowed/],
      [
        "alg none, empty signature",
        `${b64({ alg: "none", kid: "rsa-1" })}.${b64(claims)}.`,
        /not a compact signed JWT/,
      ],
      ["HS256 keyed with the RSA public key", hs, /alg "HS256" is not allowed/],
      ["PS256", `${b64({ alg: "PS256", kid: "rsa-1" })}.${rsPayload}.${rsSig}`, /alg "PS256" is not allowed/],
      [
        "ES256 header naming the RSA key",
        `${b64({ alg: "ES256", kid: "rsa-1" })}.${esPayload}.${esSig}`,
        /does not match/,
      ],
      [
        "RS256 header naming the EC key",
        `${b64({ alg: "RS256", kid: "ec-1" })}.${rsPayload}.${rsSig}`,
        /does not match/,
      ],
      ["no kid", `${b64({ alg: "RS256" })}.${rsPayload}.${rsSig}`, /no kid/],
    ];
    for (const [what, token, reason] of forged) {
      const r = await exchange(h, { audience: fed.audience, subject_token: token });
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      const body = r.body as { error: string; error_description: string };
      assert.equal(body.error, "invalid_grant", what);
      assert.match(body.error_description, reason, what);
    }
    // The genuine tokens work, so the refusals above are about the forgery alone.
    for (const token of [signedRs, signedEs]) {
      const r = await exchange(h, { audience: fed.audience, subject_token: token });
      assert.equal(r.status, 200, r.text);
    }
    const refused = await refusedExchanges(h, forged.length);
    assert.equal(refused.length, forged.length, "each forgery is audited as a refused exchange");
  });
});
