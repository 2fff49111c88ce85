/**
 * Attack: spread password guesses over the nodes of an installation to multiply the attempts the
 * sign-in page allows. The failure counters live in the datastore, so two nodes on one PostgreSQL
 * database limit a guesser alternating between them as one node would: after the per-account limit
 * in total, both refuse even the right password.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { SIGNIN_LIMITS } from "../../src/server/auth/sign-in.js";
import { createTestDatabase, dropTestDatabase, postgresUnavailable } from "../datastore/pg-fixture.js";
import { type Harness, startHarness } from "../support/harness.js";
import { authorizeQuery, createUserWithPassword, pkcePair, signIn } from "../support/signin.js";

const why = await postgresUnavailable();
const dbName = `warrant_signin_${process.pid}_${randomBytes(4).toString("hex")}`;
const masterKey = randomBytes(32).toString("base64");
const PASSWORD = "wanda's real password";

describe("password guessing spread over nodes", { skip: why ?? false, timeout: 120_000 }, () => {
  let a: Harness;
  let b: Harness;
  let query: string;
  before(async () => {
    const url = await createTestDatabase(dbName);
    const start = () => startHarness({ datastore: url, masterKey, agents: false, log: () => {} });
    a = await start();
    b = await start();
    await createUserWithPassword(a, "wanda@example.com", PASSWORD);
    query = authorizeQuery({
      client_id: WARRANT_CLI_CLIENT_ID,
      redirect_uri: "http://127.0.0.1:40007/",
      state: "s",
      code_challenge: pkcePair().challenge,
      code_challenge_method: "S256",
    });
  });
  after(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await dropTestDatabase(dbName);
  });

  it("failures at node A and node B add up to one limit, and both then refuse the right password", async () => {
    for (let i = 0; i < SIGNIN_LIMITS.perUser; i++) {
      const node = i % 2 === 0 ? a : b;
      const r = await signIn(node, query, "wanda@example.com", `guess number ${i}`);
      assert.equal(r.res.status, 401, `guess ${i} at node ${node === a ? "A" : "B"}`);
    }
    for (const [name, node] of [
      ["A", a],
      ["B", b],
    ] as const) {
      const right = await signIn(node, query, "wanda@example.com", PASSWORD);
      assert.equal(right.res.status, 429, `node ${name} still lets the guesser try`);
      assert.ok(Number(right.res.headers.get("retry-after")) > 0);
    }
  });
});
