/**
 * Attack: impersonate a service account through a chain of delegates where some hop was never
 * granted. For `delegates: [A, B]` and target T, the caller needs
 * iam.serviceAccounts.implicitDelegation on A, A needs it on B, and B needs the method's own
 * permission (getAccessToken, signBlob, signJwt, getOpenIdToken) on T. Breaking any one link refuses
 * the call with 403 naming that link, and no credential is issued; holding a permission on the
 * target directly does not repair a broken chain the caller chose to present.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const P = "demo-project";
const email = (id: string) => `${id}@${P}.iam.gserviceaccount.com`;
const [A, B, T] = ["chain-a", "chain-b", "chain-target"].map(email) as [string, string, string];
const CAROL = "user:carol@example.com";
const DELEGATOR = "roles/iam.serviceAccountTokenCreator"; // holds implicitDelegation and the four methods

const METHODS = [
  ["generateAccessToken", { scope: ["https://www.googleapis.com/auth/cloud-platform"] }, "accessToken"],
  ["signBlob", { payload: Buffer.from("x").toString("base64") }, "signedBlob"],
  ["signJwt", { payload: JSON.stringify({ sub: "x", aud: "y" }) }, "signedJwt"],
  ["generateIdToken", { audience: "https://aud.example" }, "token"],
] as const;

describe("attack: delegation chains with a missing hop", () => {
  let h: Harness;
  let carol: string;

  async function setTokenCreators(account: string, members: string[]) {
    const r = await h.call("POST", `/v1/projects/-/serviceAccounts/${account}:setIamPolicy`, {
      body: { policy: { bindings: members.length ? [{ role: DELEGATOR, members }] : [] } },
    });
    assert.equal(r.status, 200, r.text);
  }
  const chain = (links: { a: boolean; b: boolean; t: boolean }) =>
    Promise.all([
      setTokenCreators(A, links.a ? [CAROL] : []),
      setTokenCreators(B, links.b ? [`serviceAccount:${A}`] : []),
      setTokenCreators(T, links.t ? [`serviceAccount:${B}`] : []),
    ]);
  const call = (method: string, body: object, delegates = [A, B]) =>
    h.call("POST", `/v1/projects/-/serviceAccounts/${T}:${method}`, {
      token: carol,
      body: { ...body, delegates: delegates.map((d) => `projects/-/serviceAccounts/${d}`) },
    });

  before(async () => {
    h = await startHarness({ agents: false });
    for (const id of ["chain-a", "chain-b", "chain-target"])
      assert.equal(
        (await h.call("POST", `/v1/projects/${P}/serviceAccounts`, { body: { accountId: id } })).status,
        200,
      );
    carol = await tokenAs(h, CAROL);
  });
  after(() => h.close());

  test("the complete chain works for every method (the control)", async () => {
    await chain({ a: true, b: true, t: true });
    for (const [method, body, field] of METHODS) {
      const r = await call(method, body);
      assert.equal(r.status, 200, `${method}: ${r.text}`);
      assert.ok(r.body[field], method);
    }
  });

  for (const [broken, links, who] of [
    ["the caller's hop to A", { a: false, b: true, t: true }, /user:carol@example\.com/],
    ["A's hop to B", { a: true, b: false, t: true }, /serviceAccount:chain-a@/],
    ["B's hop to the target", { a: true, b: true, t: false }, /serviceAccount:chain-b@/],
  ] as const)
    test(`missing ${broken}: 403 naming it, for every method, nothing issued`, async () => {
      await chain(links);
      for (const [method, body, field] of METHODS) {
        const r = await call(method, body);
        assert.equal(r.status, 403, `${method}: ${r.text}`);
        assert.match(r.body.error.message, who, method);
        assert.equal(r.body[field], undefined);
      }
    });

  test("permission on the target itself does not repair a broken chain", async () => {
    await chain({ a: true, b: false, t: true });
    await setTokenCreators(T, [`serviceAccount:${B}`, CAROL]);
    assert.equal((await call("generateAccessToken", METHODS[0][1], [])).status, 200, "directly: allowed");
    const r = await call("generateAccessToken", METHODS[0][1]);
    assert.equal(r.status, 403, "through the broken chain: refused");
  });

  test("reordered delegates, an unknown delegate, a malformed one", async () => {
    await chain({ a: true, b: true, t: true });
    assert.equal((await call("generateAccessToken", METHODS[0][1], [B, A])).status, 403, "order matters");
    const unknown = await call("generateAccessToken", METHODS[0][1], [A, email("ghost")]);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.accessToken, undefined);
    const malformed = await h.call("POST", `/v1/projects/-/serviceAccounts/${T}:generateAccessToken`, {
      token: carol,
      body: { ...METHODS[0][1], delegates: [`projects/${P}/serviceAccounts/${A}/../..`] },
    });
    assert.equal(malformed.status, 400);
  });
});
