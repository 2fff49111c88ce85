/**
 * The signing pool (src/server/tokens/signing-pool.ts): threads make the same RS256 signatures as
 * `crypto.sign`, a thread that dies loses no signature, a full queue signs on the event loop, and
 * close lets what is in hand finish. A server's minted tokens, signed by its pool, verify with the
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
  test("signs exactly as crypto.sign does, with each request's own key", async () => {
    const pool = new SigningPool({ size: 2 });
    try {
      assert.equal(pool.size, 2);
      const inputs = Array.from({ length: 40 }, (_, i) => `header.payload-${i}`);
      const sigs = await Promise.all(
        inputs.map((input, i) =>
          pool.sign(i % 2 ? "b" : "a", i % 2 ? keyB.privateKey : keyA.privateKey, input),
        ),
      );
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

  test("more keys in one turn than a thread holds: the thread forgets none a waiting signature needs", async () => {
    // A thread holds at most 8 keys; the 9th makes it forget them all, after the batch already
    // dispatched to it (which needs them) has gone.
    const keys = Array.from({ length: 12 }, () => generateKeyPairSync("rsa", { modulusLength: 2048 }));
    const pool = new SigningPool({ size: 1 });
    try {
      const inputs = keys.map((_, i) => `header.payload-${i}`);
      const sigs = await Promise.all(
        inputs.map((input, i) => pool.sign(`k${i}`, keys[i]!.privateKey, input)),
      );
      for (const [i, sig] of sigs.entries())
        assert.ok(verifies(inputs[i]!, sig, keys[i]!.publicKey), `signature ${i}`);
      assert.equal(pool.signedInline, 0, "none fell back to the event loop for a lost key");
    } finally {
      await pool.close();
    }
  });

  test("a thread that dies with signatures in hand loses none of them, and is replaced", async () => {
    const lines: string[] = [];
    const pool = new SigningPool({ size: 2, log: (l) => lines.push(l) });
    try {
      // Warm up: both threads running and holding the key.
      await Promise.all([1, 2, 3, 4].map((i) => pool.sign("a", keyA.privateKey, `warm-${i}`)));
      const inputs = Array.from({ length: 200 }, (_, i) => `in-flight-${i}`);
      const pending = inputs.map((input) => pool.sign("a", keyA.privateKey, input));
      const victim = pool.workers[0]!;
      assert.ok(pool.inFlight > 0, "signatures are in the threads' hands");
      await victim.terminate();
      const sigs = await Promise.all(pending);
      for (const [i, sig] of sigs.entries())
        assert.ok(verifies(inputs[i]!, sig, keyA.publicKey), `signature ${i}`);
      assert.equal(pool.deaths, 1);
      assert.equal(pool.size, 2, "replaced");
      assert.ok(!pool.workers.includes(victim));
      assert.ok(
        lines.some((l) => l.includes("died")),
        lines.join("\n"),
      );
      // The replacement signs too (it is sent the key it has never held).
      const after = await Promise.all([1, 2, 3, 4].map((i) => pool.sign("a", keyA.privateKey, `after-${i}`)));
      for (const [i, sig] of after.entries()) assert.ok(verifies(`after-${i + 1}`, sig, keyA.publicKey));
    } finally {
      await pool.close();
    }
  });

  test("past its replacement budget, a pool whose threads all died signs on the event loop", async () => {
    const pool = new SigningPool({ size: 1, maxRestarts: 0 });
    try {
      await pool.sign("a", keyA.privateKey, "warm");
      const pending = pool.sign("a", keyA.privateKey, "orphan");
      await pool.workers[0]!.terminate();
      assert.ok(verifies("orphan", await pending, keyA.publicKey));
      assert.equal(pool.size, 0);
      const sig = await pool.sign("a", keyA.privateKey, "no thread left");
      assert.ok(verifies("no thread left", sig, keyA.publicKey));
      assert.ok(pool.signedInline >= 2);
    } finally {
      await pool.close();
    }
  });

  test("the queue is bounded: beyond maxPending, signatures are made on the event loop", async () => {
    const pool = new SigningPool({ size: 1, maxPending: 4 });
    try {
      const inputs = Array.from({ length: 12 }, (_, i) => `burst-${i}`);
      const sigs = await Promise.all(inputs.map((input) => pool.sign("a", keyA.privateKey, input)));
      for (const [i, sig] of sigs.entries()) assert.ok(verifies(inputs[i]!, sig, keyA.publicKey));
      assert.equal(pool.signedInline, 8, "4 went to the thread, the other 8 were signed here");
    } finally {
      await pool.close();
    }
  });

  test("close lets the signatures in hand finish, then ends the threads; later ones are made here", async () => {
    const pool = new SigningPool({ size: 2 });
    const inputs = Array.from({ length: 50 }, (_, i) => `closing-${i}`);
    const pending = inputs.map((input) => pool.sign("a", keyA.privateKey, input));
    const exits = pool.workers.map((w) => new Promise((ok) => w.once("exit", ok)));
    await pool.close();
    const sigs = await Promise.all(pending);
    for (const [i, sig] of sigs.entries()) assert.ok(verifies(inputs[i]!, sig, keyA.publicKey));
    await Promise.all(exits);
    assert.equal(pool.deaths, 0, "ended on purpose, not died");
    const later = await pool.sign("a", keyA.privateKey, "after close");
    assert.ok(verifies("after close", later, keyA.publicKey));
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
