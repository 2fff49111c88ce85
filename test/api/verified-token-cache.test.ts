/**
 * The verified-token cache skips only the signature check of a token seen before: every request
 * still checks the token's lifetime and its subject's state, so disabling an account or a user takes
 * effect on the very next request, exactly as without the cache.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { importPKCS8, SignJWT } from "jose";
import { serviceAccountPrincipal } from "../../src/domain/iam/principal.js";
import type { AccessTokenClaims } from "../../src/domain/tokens/access-token.js";
import { VerifiedTokenCache } from "../../src/server/auth/verified-token-cache.js";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const P = "demo-project";
const SA = `demo-sa@${P}.iam.gserviceaccount.com`;

const claims = (exp: number): AccessTokenClaims => ({
  sub: `serviceAccount:${SA}`,
  scopes: [],
  azp: "",
  jti: "j",
  iat: exp - 3600,
  exp,
  via: "test",
});

const verified = (exp: number) => {
  const c = claims(exp);
  return { claims: c, caller: { principal: serviceAccountPrincipal(SA), token: c }, kid: "k" };
};

describe("VerifiedTokenCache", () => {
  test("is bounded: the oldest entry leaves first", () => {
    const cache = new VerifiedTokenCache(3);
    for (const d of ["a", "b", "c", "d"]) cache.set(d, verified(2000));
    assert.equal(cache.size, 3);
    assert.equal(cache.get("a", 1000), undefined);
    assert.equal(cache.get("d", 1000)?.kid, "k");
  });

  test("an expired token's entry is dropped when it is asked for", () => {
    const cache = new VerifiedTokenCache();
    cache.set("x", verified(1000));
    assert.ok(cache.get("x", 999));
    assert.equal(cache.get("x", 1000), undefined);
    assert.equal(cache.size, 0);
  });

  test("keys are digests: the cache holds no bearer credential", () => {
    const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    const digest = VerifiedTokenCache.digest(token);
    assert.equal(digest.length, 43);
    for (const part of token.split(".")) assert.ok(!digest.includes(part));
    assert.equal(digest, VerifiedTokenCache.digest(token), "one token, one key");
  });
});

describe("a cached token still follows its subject's state", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("a service account disabled after its token was verified: the next request is 401", async () => {
    const token = await tokenAs(h, `serviceAccount:${SA}`);
    const asSa = () => h.call("GET", `/v1/projects/${P}/serviceAccounts/${SA}`, { token });
    // Authenticated (403 or 200 depending on its roles, never 401), twice: the second is a cache hit.
    for (let i = 0; i < 2; i++) assert.notEqual((await asSa()).status, 401);
    assert.equal(
      (await h.call("POST", `/v1/projects/${P}/serviceAccounts/${SA}:disable`, { body: {} })).status,
      200,
    );
    const refused = await asSa();
    assert.equal(refused.status, 401, refused.text);
    assert.match(refused.body.error.message, /disabled or deleted/);
    assert.equal(
      (await h.call("POST", `/v1/projects/${P}/serviceAccounts/${SA}:enable`, { body: {} })).status,
      200,
    );
    assert.notEqual((await asSa()).status, 401, "re-enabled: its unexpired token works again, as on Google");
  });

  test("a user disabled after their token was verified: the next request is 401", async () => {
    const token = await tokenAs(h, "user:cached@example.com");
    for (let i = 0; i < 2; i++) assert.equal((await h.call("GET", "/v1/projects", { token })).status, 200);
    const disabled = await h.call("POST", "/warrant/v1/users/cached@example.com:disable", { body: {} });
    assert.equal(disabled.status, 200, disabled.text);
    assert.equal((await h.call("GET", "/v1/projects", { token })).status, 401);
  });

  test("a self-signed JWT whose key is disabled after it was verified: the next request is 401", async () => {
    const created = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}/keys`, { body: {} });
    assert.equal(created.status, 200, created.text);
    const keyFile = JSON.parse(Buffer.from(created.body.privateKeyData, "base64").toString());
    const iat = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ iss: SA, sub: SA, aud: `${h.url}/`, iat, exp: iat + 600 })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: keyFile.private_key_id })
      .sign(await importPKCS8(keyFile.private_key, "RS256"));
    const asSa = () => h.call("GET", `/v1/projects/${P}/serviceAccounts/${SA}`, { token: jwt });
    for (let i = 0; i < 2; i++) assert.notEqual((await asSa()).status, 401);
    const disabled = await h.call(
      "POST",
      `/v1/projects/${P}/serviceAccounts/${SA}/keys/${keyFile.private_key_id}:disable`,
      { body: {} },
    );
    assert.equal(disabled.status, 200, disabled.text);
    const refused = await asSa();
    assert.equal(refused.status, 401, refused.text);
  });

  test("a cached token's header forms: the scheme's case and spacing as before, anything else refused", async () => {
    const token = await tokenAs(h, "user:forms@example.com");
    const get = (authorization: string) =>
      h.call("GET", "/v1/projects", { token: null, headers: { authorization } });
    assert.equal((await get(`Bearer ${token}`)).status, 200, "verified, and now cached");
    for (const ok of [`bearer ${token}`, `Bearer   ${token}`, `Bearer ${token} `])
      assert.equal((await get(ok)).status, 200, JSON.stringify(ok.slice(0, 10)));
    for (const bad of [`Bearer ${token}!`, `Bearer ${token}.x`, `Basic ${token}`, `Bearer${token}`])
      assert.equal((await get(bad)).status, 401, JSON.stringify(bad.slice(0, 10)));
  });
});
