import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { InvalidToken, mintAccessToken, verifyAccessToken } from "../../src/domain/tokens/access-token.js";
import { generateSigningKey, loadSigningKey } from "../../src/domain/tokens/signing-key.js";

const MASTER = randomBytes(32);
const key = loadSigningKey(generateSigningKey(MASTER), MASTER);
const other = loadSigningKey(generateSigningKey(MASTER), MASTER);
const ISS = "urn:warrant:test";
const keyFor = (kid: string) => (kid === key.kid ? key.publicKey : undefined);

test("a minted token verifies and carries its claims", async () => {
  const { token, claims } = await mintAccessToken(key, ISS, {
    sub: "user:a@b.c",
    scopes: ["s1", "s2"],
    azp: "cli",
    via: "test",
  });
  assert.ok(Buffer.byteLength(token) <= 2048);
  const v = await verifyAccessToken(token, ISS, keyFor);
  assert.deepEqual(v, claims);
});

test("expired tokens are rejected (beyond the 30 s skew)", async () => {
  const now = Date.now();
  const { token } = await mintAccessToken(key, ISS, {
    sub: "user:a@b.c",
    scopes: [],
    azp: "",
    via: "t",
    lifetimeSeconds: 60,
    now: now - 120_000,
  });
  await assert.rejects(
    verifyAccessToken(token, ISS, keyFor, now),
    (e: Error) => e instanceof InvalidToken && /expired/.test(e.message),
  );
  // Within the skew it still verifies.
  await verifyAccessToken(token, ISS, keyFor, now - 70_000);
});

test("tokens from an unknown key, another issuer, or tampered are rejected", async () => {
  const { token } = await mintAccessToken(other, ISS, { sub: "user:a@b.c", scopes: [], azp: "", via: "t" });
  await assert.rejects(verifyAccessToken(token, ISS, keyFor), InvalidToken);
  const { token: t2 } = await mintAccessToken(key, "urn:other", {
    sub: "user:a@b.c",
    scopes: [],
    azp: "",
    via: "t",
  });
  await assert.rejects(verifyAccessToken(t2, ISS, keyFor), InvalidToken);
  const { token: t3 } = await mintAccessToken(key, ISS, { sub: "user:a@b.c", scopes: [], azp: "", via: "t" });
  const tampered = `${t3.slice(0, -4)}AAAA`;
  await assert.rejects(verifyAccessToken(tampered, ISS, keyFor), InvalidToken);
  await assert.rejects(verifyAccessToken("a.b.c", ISS, keyFor), InvalidToken);
});
