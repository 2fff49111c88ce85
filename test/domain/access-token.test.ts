import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  CLOCK_TOLERANCE_S,
  InvalidToken,
  mintAccessToken,
  verifyAccessToken,
} from "../../src/domain/tokens/access-token.js";
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

// Whole seconds, as the claims are: each check below sits at an exact distance from the limit.
const T0 = Math.floor(Date.now() / 1000) * 1000;
const mintAt = async (nowMs: number, lifetimeSeconds = 60) =>
  (
    await mintAccessToken(key, ISS, {
      sub: "user:a@b.c",
      scopes: [],
      azp: "",
      via: "t",
      lifetimeSeconds,
      now: nowMs,
    })
  ).token;
const isProblem = (re: RegExp) => (e: Error) => e instanceof InvalidToken && re.test(e.message);

test("expired tokens are accepted up to the 30 s skew past exp, and rejected from there on", async () => {
  assert.equal(CLOCK_TOLERANCE_S, 30);
  const token = await mintAt(T0); // exp = T0 + 60 s
  const exp = T0 + 60_000;
  await verifyAccessToken(token, ISS, keyFor, exp - 1_000);
  // Past exp, but within the skew: only the tolerance lets these through.
  await verifyAccessToken(token, ISS, keyFor, exp);
  await verifyAccessToken(token, ISS, keyFor, exp + 29_000);
  await assert.rejects(verifyAccessToken(token, ISS, keyFor, exp + 30_000), isProblem(/expired/));
  await assert.rejects(verifyAccessToken(token, ISS, keyFor, exp + 3_600_000), isProblem(/expired/));
});

test("a token issued in the future is rejected beyond the 30 s skew, accepted within it", async () => {
  const ahead = await mintAt(T0 + 31_000);
  await assert.rejects(verifyAccessToken(ahead, ISS, keyFor, T0), isProblem(/issued in the future/));
  const farAhead = await mintAt(T0 + 3_600_000);
  await assert.rejects(verifyAccessToken(farAhead, ISS, keyFor, T0), isProblem(/issued in the future/));
  // A node whose clock runs up to 30 s ahead still mints tokens the others accept.
  await verifyAccessToken(await mintAt(T0 + 30_000), ISS, keyFor, T0);
  await verifyAccessToken(await mintAt(T0 + 1_000), ISS, keyFor, T0);
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
