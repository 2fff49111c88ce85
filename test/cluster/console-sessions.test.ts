/**
 * The console's sessions live in the datastore: with two nodes on one PostgreSQL database, a user
 * signed in through node A is signed in at node B (calls through B's /console/api act as the
 * user), and signing out at B ends the session at A.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { CookieJar, consoleSignIn, userWithPassword } from "../console/support.js";
import { createTestDatabase, dropTestDatabase, postgresUnavailable } from "../datastore/pg-fixture.js";
import { type Harness, startHarness } from "../support/harness.js";

const why = await postgresUnavailable();
const dbName = `warrant_console_${process.pid}_${randomBytes(4).toString("hex")}`;
const masterKey = randomBytes(32).toString("base64");

describe("console sessions shared by the nodes of an installation", {
  skip: why ?? false,
  timeout: 120_000,
}, () => {
  let a: Harness;
  let b: Harness;
  before(async () => {
    const url = await createTestDatabase(dbName);
    const start = () => startHarness({ datastore: url, masterKey, agents: false, log: () => {} });
    a = await start();
    b = await start();
  });
  after(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await dropTestDatabase(dbName);
  });

  it("a session made at node A works at node B, and sign-out at B ends it at A", async () => {
    await userWithPassword(a, "carol@example.com", "a password long enough");
    const jar = new CookieJar();
    const signedIn = await consoleSignIn(a, "carol@example.com", "a password long enough", jar);
    assert.equal(signedIn.status, 303);
    const session = (n: Harness) =>
      fetch(`${n.url}/console/auth/session`, { headers: { cookie: jar.header() } }).then(
        (r) => r.json() as Promise<{ signedIn: boolean; email?: string }>,
      );
    assert.equal((await session(b)).email, "carol@example.com");
    // Through node B's forwarder, as carol: IAM refuses her the policy, naming her.
    const denied = await fetch(`${b.url}/console/api/v1/projects/demo-project:getIamPolicy`, {
      method: "POST",
      headers: { cookie: jar.header(), origin: new URL(b.url).origin, "x-warrant-console": "1" },
    });
    assert.equal(denied.status, 403);
    assert.match(await denied.text(), /user:carol@example\.com/);
    const out = await fetch(`${b.url}/console/auth/logout`, {
      method: "POST",
      headers: { cookie: jar.header(), origin: new URL(b.url).origin, "x-warrant-console": "1" },
    });
    assert.equal(out.status, 204);
    assert.deepEqual(await session(a), { signedIn: false });
  });
});
