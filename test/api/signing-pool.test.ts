/**
 * The signing pool (src/server/tokens/signing-pool.ts): libuv's threads make the same RS256
 * signatures as `crypto.sign` while the event loop turns, a full queue signs on the event loop, a
 * failed signature fails alone, and close lets what is in hand finish. A server's minted tokens, signed by its pool, verify with the
 * published keys.
 */
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { verifyAccessToken } from "../../src/domain/tokens/access-token.js";
import { SigningPool } from "../../src/server/tokens/signing-pool.js";
import { type Harness, startHarness } from "../support/harness.js";

const keyA = generateKeyPairSync("rsa", { modulusLength: 2048 });
const keyB = generateKeyPairSync("rsa", { modulusLength: 2048 });
const verifies = (input: string, sig: Buffer, publicKey: KeyObject) =>
  verify("sha256", Buffer.from(input), publicKey, sig);

describe("SigningPool", () => {
  test("signs exactly as crypto.sign does, with each request's own key, off the event loop", async () => {
    const pool = new SigningPool();
    try {
      const inputs = Array.from({ length: 40 }, (_, i) => `header.payload-${i}`);
      const pending = inputs.map((input, i) =>
        pool.sign(i % 2 ? "b" : "a", i % 2 ? keyB.privateKey : keyA.privateKey, input),
      );
      // Handed to the threads, not made on this one: none is made before this turn ends.
      assert.equal(pool.inFlight, 40);
      const sigs = await Promise.all(pending);
      assert.equal(pool.inFlight, 0);
      sigs.forEach((sig, i) => {
        // RSASSA-PKCS1-v1_5 is deterministic: the thread's signature is crypto.sign's.
        assert.deepEqual(
          sig,
          sign("sha256", Buffer.from(inputs[i]!), i % 2 ? keyB.privateKey : keyA.privateKey),
        );
        assert.ok(verifies(inputs[i]!, sig, i % 2 ? keyB.publicKey : keyA.publicKey));
        assert.ok(!verifies(inputs[i]!, sig, i % 2 ? keyA.publicKey : keyB.publicKey));
      });
      assert.equal(pool.signedInline, 0, "all made by the threads");
    } finally {
      await pool.close();
    }
  });

  test("the event loop keeps turning while the threads sign", async () => {
    const pool = new SigningPool();
    try {
      let turns = 0;
      const ticker = setInterval(() => turns++, 1);
      // About 30 ms of signing on 4 threads: a loop that signed them itself would not turn meanwhile.
      await Promise.all(Array.from({ length: 400 }, (_, i) => pool.sign("a", keyA.privateKey, `busy-${i}`)));
      clearInterval(ticker);
      assert.ok(turns > 0, "a 1 ms timer fired while 400 signatures were made");
      assert.equal(pool.signedInline, 0);
    } finally {
      await pool.close();
    }
  });

  test("the queue is bounded: beyond maxPending, signatures are made on the event loop", async () => {
    const pool = new SigningPool({ maxPending: 4 });
    try {
      const inputs = Array.from({ length: 12 }, (_, i) => `burst-${i}`);
      const sigs = await Promise.all(inputs.map((input) => pool.sign("a", keyA.privateKey, input)));
      for (const [i, sig] of sigs.entries()) assert.ok(verifies(inputs[i]!, sig, keyA.publicKey));
      assert.equal(pool.signedInline, 8, "4 went to the threads, the other 8 were signed here");
    } finally {
      await pool.close();
    }
  });

  test("a key that cannot sign fails that signature alone", async () => {
    const pool = new SigningPool();
    try {
      const results = await Promise.allSettled([
        pool.sign("a", keyA.privateKey, "good"),
        // A public key cannot make a signature: the thread reports the error.
        pool.sign("pub", keyA.publicKey, "bad"),
      ]);
      assert.equal(results[0]!.status, "fulfilled");
      assert.ok(verifies("good", (results[0] as PromiseFulfilledResult<Buffer>).value, keyA.publicKey));
      assert.equal(results[1]!.status, "rejected");
      assert.equal(pool.inFlight, 0, "a failed signature leaves the queue too");
    } finally {
      await pool.close();
    }
  });

  test("close lets the signatures in hand finish; later ones are made here", async () => {
    const pool = new SigningPool();
    const inputs = Array.from({ length: 50 }, (_, i) => `closing-${i}`);
    const pending = inputs.map((input) => pool.sign("a", keyA.privateKey, input));
    let closed = false;
    const closing = pool.close().then(() => {
      closed = true;
    });
    // Asked twice (shutdown paths overlap): both wait for the same signatures.
    const again = pool.close();
    const sigs = await Promise.all(pending);
    await Promise.all([closing, again]);
    assert.ok(closed);
    assert.equal(pool.inFlight, 0);
    for (const [i, sig] of sigs.entries()) assert.ok(verifies(inputs[i]!, sig, keyA.publicKey));
    const later = await pool.sign("a", keyA.privateKey, "after close");
    assert.ok(verifies("after close", later, keyA.publicKey));
    assert.equal(pool.signedInline, 1);
  });

  test("threads: UV_THREADPOOL_SIZE when set, else libuv's 4", () => {
    const pool = new SigningPool();
    const expected = process.env.UV_THREADPOOL_SIZE ? Number(process.env.UV_THREADPOOL_SIZE) : 4;
    assert.equal(pool.threads, expected);
  });
});

describe("a server's minted tokens are signed by its pool", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("refresh-token mints verify with the published key set", async () => {
    const certs = (await (await fetch(`${h.url}/oauth2/v3/certs`)).json()) as { keys: { kid: string }[] };
    const tokens = await Promise.all([1, 2, 3, 4, 5, 6].map(() => h.tokenFor(h.server.adminCredentialFile)));
    for (const token of tokens) {
      const claims = await verifyAccessToken(
        token,
        JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).iss,
        (kid) => {
          const jwk = certs.keys.find((k) => k.kid === kid);
          return jwk ? createPublicKey({ key: jwk as never, format: "jwk" }) : undefined;
        },
      );
      assert.equal(claims.sub, "user:admin@warrant.local");
      // Accepted by the server that minted it.
      const r = await h.call("GET", "/v1/projects/demo-project", { token });
      assert.equal(r.status, 200, r.text);
    }
  });
});
