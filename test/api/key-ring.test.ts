import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer } from "../../src/server/app.js";
import { datastoreBytes, type Harness, startHarness, tokenAs } from "../support/harness.js";

const kidOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split(".")[0]!, "base64url").toString()).kid as string;

async function jwksKids(h: Harness): Promise<string[]> {
  const body = (await (await fetch(`${h.url}/oauth2/v3/certs`)).json()) as { keys: { kid: string }[] };
  return body.keys.map((k) => k.kid).sort();
}

describe("signing-key ring: rotation, retirement, encryption at rest", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ keyRotation: { publishLeadSeconds: 0 } });
  });
  after(() => h.close());

  test("the staged key is published before it signs; old tokens verify after a rotation", async () => {
    const before = (await h.call("GET", "/warrant/v1/signingKeys")).body.keys as {
      kid: string;
      state: string;
    }[];
    const staged = before.find((k) => k.state === "staged")!;
    const primary = before.find((k) => k.state === "primary")!;
    assert.ok((await jwksKids(h)).includes(staged.kid), "a staged key is in the JWKS before it signs");
    assert.equal(kidOf(h.adminToken), primary.kid);

    const r = await h.call("POST", "/warrant/v1/signingKeys:rotate");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.promoted, staged.kid);
    assert.equal(r.body.demoted, primary.kid);
    assert.equal(
      (await h.call("GET", "/v1/projects")).status,
      200,
      "a token signed before the rotation still verifies",
    );
    const fresh = await h.tokenFor(h.server.adminCredentialFile);
    assert.equal(kidOf(fresh), staged.kid, "new tokens are signed by the promoted key");
    const states = Object.fromEntries(
      (r.body.keys as { kid: string; state: string }[]).map((k) => [k.kid, k.state]),
    );
    assert.equal(states[primary.kid], "secondary");
    assert.equal(states[r.body.staged], "staged");
  });

  test("only an installation owner may rotate", async () => {
    const bob = await tokenAs(h, "user:bob@example.com");
    const r = await h.call("POST", "/warrant/v1/signingKeys:rotate", { token: bob });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /resourcemanager\.projects\.setIamPolicy on organizations\//);
  });

  test("private signing keys are sealed at rest", () => {
    const db = datastoreBytes(h);
    assert.ok(!db.includes("BEGIN PRIVATE KEY"), "no private key in clear in the datastore");
    assert.ok(db.includes("A256GCM"));
  });
});

describe("signing-key ring: a retired key verifies nothing", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ keyRotation: { publishLeadSeconds: 0, retireAfterSeconds: 0 } });
  });
  after(() => h.close());

  test("after two rotations (with no grace) the first key is retired and its tokens are refused", async () => {
    const old = h.adminToken;
    assert.equal((await h.call("POST", "/warrant/v1/signingKeys:rotate")).status, 200);
    const newer = await h.tokenFor(h.server.adminCredentialFile);
    const second = await h.call("POST", "/warrant/v1/signingKeys:rotate", { token: newer });
    assert.equal(second.status, 200, second.text);
    assert.deepEqual(second.body.retired, [kidOf(old)]);
    assert.ok(!(await jwksKids(h)).includes(kidOf(old)), "the retired key is no longer published");
    const r = await h.call("GET", "/v1/projects", { token: old });
    assert.equal(r.status, 401);
  });
});

describe("signing-key ring: schedule and safety", () => {
  test("rotation is refused while the staged key may still be unknown to verifiers", async () => {
    const h = await startHarness();
    try {
      const r = await h.call("POST", "/warrant/v1/signingKeys:rotate");
      assert.equal(r.status, 400);
      assert.equal(r.body.error.status, "FAILED_PRECONDITION");
      assert.match(r.body.error.message, /verifiers may not know it/);
    } finally {
      await h.close();
    }
  });

  test("a wrong master key stops the server with a clear error instead of minting with garbage", async () => {
    const h = await startHarness();
    const stateDir = h.stateDir;
    await h.server.close();
    await assert.rejects(
      startServer({
        stateDir,
        host: "127.0.0.1",
        port: 0,
        log: () => {},
        masterKey: Buffer.alloc(32, 7).toString("base64"),
      }),
      /cannot decrypt the private key .*wrong master key/,
    );
    await assert.rejects(
      startServer({ stateDir, host: "127.0.0.1", port: 0, log: () => {}, masterKey: "short" }),
      /WARRANT_MASTER_KEY is invalid/,
    );
  });
});
