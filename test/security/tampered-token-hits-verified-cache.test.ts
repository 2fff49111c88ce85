/**
 * Attack: ride the verified-token cache. Once a token is verified, its signature is not checked
 * again; if the cache were keyed by the signature or a prefix, a token whose payload was changed but
 * whose signature was kept (another subject, wider scopes, a later expiry) would be a cache hit and
 * pass. The cache is keyed by a digest of the whole token, so every such variant is verified afresh
 * and refused.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

describe("attack: a tampered token rides the verified-token cache", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("payload changed, signature kept, after the original was verified and cached → 401", async () => {
    const token = await tokenAs(h, "user:mallory@example.com");
    assert.equal((await h.call("GET", "/v1/projects", { token })).status, 200);
    assert.equal((await h.call("GET", "/v1/projects", { token })).status, 200);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const variants = [
      { ...claims, sub: "user:admin@warrant.local" },
      { ...claims, exp: claims.exp + 86_400 },
      { ...claims, scope: `${claims.scope} https://www.googleapis.com/auth/devstorage.full_control` },
    ];
    for (const v of variants) {
      const forged = `${header}.${Buffer.from(JSON.stringify(v)).toString("base64url")}.${signature}`;
      const r = await h.call("GET", "/v1/projects", { token: forged });
      assert.equal(r.status, 401, JSON.stringify(v));
    }
    // The signature alone, or with a changed header, is no way in either.
    const alteredHeader = Buffer.from(JSON.stringify({ alg: "RS256", typ: "at+jwt", kid: "other" })).toString(
      "base64url",
    );
    assert.equal(
      (await h.call("GET", "/v1/projects", { token: `${alteredHeader}.${payload}.${signature}` })).status,
      401,
    );
  });
});
