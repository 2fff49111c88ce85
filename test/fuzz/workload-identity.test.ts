/**
 * Fuzz of workload identity federation's parsers of untrusted input: subject tokens (random
 * strings, and every byte-wise mutation of a valid one) only ever fail with SubjectTokenRejected,
 * and random claims given to the mapping and condition only ever fail with MappingRefused.
 * Seeded: a failure names WARRANT_FUZZ_SEED and the case to replay it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { MappingRefused, mapIdentity } from "../../src/domain/iam/workload-identity.js";
import { SubjectTokenRejected, verifySubjectToken } from "../../src/domain/tokens/subject-token.js";
import { Rng, replay } from "./random.js";

const ISS = "https://issuer.fuzz.example";
const AUD = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p1/providers/p2";

describe("fuzz: workload identity federation", () => {
  test("verifySubjectToken rejects random and mutated tokens with SubjectTokenRejected only", async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    const keys = [{ ...(await exportJWK(publicKey)), kid: "k1" }];
    const now = Math.floor(Date.now() / 1000);
    const valid = await new SignJWT({ iss: ISS, sub: "s", aud: AUD, iat: now, exp: now + 600 })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .sign(privateKey);
    const rules = { issuer: ISS, audience: (a: string) => a === AUD, keys, nowSeconds: now };
    assert.equal((await verifySubjectToken(valid, rules)).sub, "s");
    const rng = Rng.for("verifySubjectToken");
    const inputs: string[] = [];
    for (let i = 0; i < 300; i++) inputs.push(rng.string(200));
    for (let i = 0; i < 400; i++) {
      const at = rng.int(0, valid.length - 1);
      const replacement = rng.chars("ABCabc012._-=+/ ", 1);
      const mutated = valid.slice(0, at) + replacement + valid.slice(at + 1);
      if (mutated !== valid) inputs.push(mutated);
    }
    // The signature's last character carries spare bits: every other spelling of it must be refused.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (const c of alphabet) if (c !== valid.at(-1)) inputs.push(valid.slice(0, -1) + c);
    for (const [i, input] of inputs.entries()) {
      const where = replay(`verifySubjectToken case ${i}`);
      try {
        await verifySubjectToken(input, rules);
        // A mutation may leave the token intact only if it changed nothing the signature covers.
        assert.fail(`accepted a mutated or random token ${JSON.stringify(input).slice(0, 80)} ${where}`);
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.ok(err instanceof SubjectTokenRejected, `${(err as Error).stack} ${where}`);
      }
    }
  });

  test("mapIdentity with random claims fails only with MappingRefused", () => {
    const rng = Rng.for("mapIdentity");
    const provider = {
      attributeMapping: {
        "google.subject": "assertion.sub",
        "google.groups": "assertion.groups",
        "attribute.repo": "assertion.repo",
        "attribute.n": "string(assertion.n)",
      },
      attributeCondition: "!has(assertion.block) && google.subject.size() > 0",
    };
    for (let i = 0; i < 2000; i++) {
      const claims: Record<string, unknown> = {};
      for (const k of ["sub", "groups", "repo", "n", "block"]) if (rng.bool(0.6)) claims[k] = rng.json(2);
      const where = replay(`mapIdentity case ${i}`);
      try {
        const p = mapIdentity(provider, "projects/1/locations/global/workloadIdentityPools/p1", claims);
        assert.equal(typeof p.subject, "string", where);
        assert.ok(p.subject.length > 0, where);
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.ok(err instanceof MappingRefused, `${(err as Error).stack} ${where}`);
      }
    }
  });
});
