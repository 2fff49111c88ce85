/**
 * Attack: carry a federated identity across trust boundaries —
 *  - a subject of pool A presents its token where a binding names the same subject in pool B;
 *  - a pool's mapped group named like a Google group (`admins@example.com`) claims a `group:` binding;
 *  - a token signed with a key that one provider trusts (inline JWKS) is presented to another
 *    provider of the same issuer whose keys differ: keys must never be shared between providers.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { type Issuer, startIssuer } from "../support/oidc-issuer.js";
import { bindOnBucket, createBucket, createFederation, exchange, type Federation } from "../support/wif.js";

const BUCKET = "wif-cross-pools";

describe("federated identities stay in their pool and provider", () => {
  let h: Harness;
  let issuer: Issuer;
  let other: Issuer;
  let a: Federation;
  let b: Federation;
  before(async () => {
    h = await startHarness({ agents: false });
    issuer = await startIssuer();
    other = await startIssuer();
    a = await createFederation(h, issuer, { poolId: "pool-a", providerId: "prov-a" });
    b = await createFederation(h, issuer, { poolId: "pool-b", providerId: "prov-b" });
    await createBucket(h, BUCKET);
    await bindOnBucket(
      h,
      BUCKET,
      "roles/storage.objectViewer",
      `principal://iam.googleapis.com/${b.pool}/subject/alice`,
    );
    await bindOnBucket(h, BUCKET, "roles/storage.objectViewer", "group:admins@example.com");
  });
  after(async () => {
    await h.close();
    await issuer.close();
    await other.close();
  });

  const sts = async (fed: Federation, claims: Record<string, unknown>) => {
    const r = await exchange(h, {
      audience: fed.audience,
      subject_token: await issuer.sign({ aud: fed.audience, ...claims }),
    });
    assert.equal(r.status, 200, r.text);
    return (r.body as { access_token: string }).access_token;
  };

  test("the same subject in another pool is another principal", async () => {
    const fromA = await sts(a, { sub: "alice" });
    const r = await h.call("GET", `/storage/v1/b/${BUCKET}/o`, { token: fromA });
    assert.equal(r.status, 403, r.text);
    const fromB = await sts(b, { sub: "alice" });
    assert.equal((await h.call("GET", `/storage/v1/b/${BUCKET}/o`, { token: fromB })).status, 200);
  });

  test("a pool group named like a Google group does not match group: members", async () => {
    const t = await sts(a, { sub: "mallory", groups: ["admins@example.com"] });
    const r = await h.call("GET", `/storage/v1/b/${BUCKET}/o`, { token: t });
    assert.equal(r.status, 403, r.text);
  });

  test("a token for pool A's audience is refused by pool B's provider", async () => {
    const token = await issuer.sign({ sub: "alice", aud: a.audience });
    const r = await exchange(h, { audience: b.audience, subject_token: token });
    assert.equal(r.status, 400);
    assert.match((r.body as { error_description: string }).error_description, /audience/);
  });

  test("keys trusted by one provider (inline) are not used for another provider of the same issuer", async () => {
    // prov-inline trusts `other`'s keys inline while claiming `issuer`'s URL; prov-b fetches issuer's own keys.
    const inline = await h.call(
      "POST",
      "/v1/projects/demo-project/locations/global/workloadIdentityPools/pool-b/providers?workloadIdentityPoolProviderId=prov-inline",
      {
        body: {
          attributeMapping: { "google.subject": "assertion.sub" },
          oidc: { issuerUri: issuer.url, jwksJson: JSON.stringify(other.jwks()) },
        },
      },
    );
    assert.equal(inline.status, 200, inline.text);
    const inlineAud = `//iam.googleapis.com/${b.pool}/providers/prov-inline`;
    // Signed by `other`'s key (same kid names as issuer's), with issuer's iss.
    const now = Math.floor(Date.now() / 1000);
    const crafted = await other.sign({
      iss: issuer.url,
      sub: "alice",
      aud: [inlineAud, b.audience],
      iat: now,
      exp: now + 600,
    });
    const viaInline = await exchange(h, { audience: inlineAud, subject_token: crafted });
    assert.equal(viaInline.status, 200, "the inline provider trusts this key");
    const viaB = await exchange(h, { audience: b.audience, subject_token: crafted });
    assert.equal(viaB.status, 400, viaB.text);
    assert.match((viaB.body as { error_description: string }).error_description, /signature/);
  });
});
