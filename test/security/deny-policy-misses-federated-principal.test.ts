/**
 * Attack: walk past a deny policy as a federated identity. Deny policies accept workload identity
 * pool principals (`principal://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/
 * P/subject/S`, `principalSet://…/group/G`, `…/attribute.NAME/VALUE`, `…/*`), the same strings as
 * allow policies. A deny rule naming them once validated and then matched nobody, so an
 * administrator fencing off a CI repository's identities was told it was done while the identities
 * kept their access. Each form must deny the identities it names, and only those, and
 * `exceptionPrincipals` in these forms must exempt.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { type Issuer, startIssuer } from "../support/oidc-issuer.js";
import { bindOnBucket, createBucket, createFederation, exchange, type Federation } from "../support/wif.js";

const BUCKET = "wif-deny-fence";
const DENY = "/v2/policies/cloudresourcemanager.googleapis.com%252Fprojects%252Fdemo-project/denypolicies";
const LIST = "storage.googleapis.com/objects.list";

describe("deny policies name federated identities", () => {
  let h: Harness;
  let issuer: Issuer;
  let fed: Federation;
  before(async () => {
    h = await startHarness({ agents: false });
    issuer = await startIssuer();
    fed = await createFederation(h, issuer, { poolId: "fence-pool", providerId: "fence-oidc" });
    await createBucket(h, BUCKET);
    // Every identity of the pool may list the bucket: the deny rules below must take it back.
    await bindOnBucket(
      h,
      BUCKET,
      "roles/storage.objectViewer",
      `principalSet://iam.googleapis.com/${fed.pool}/*`,
    );
    const p = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    p.bindings.push({ role: "roles/iam.denyAdmin", members: ["user:admin@warrant.local"] });
    const set = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } });
    assert.equal(set.status, 200, set.text);
  });
  after(async () => {
    await h.close();
    await issuer.close();
  });

  const tokenFor = async (claims: Record<string, unknown>) => {
    const r = await exchange(h, {
      audience: fed.audience,
      subject_token: await issuer.sign({ aud: fed.audience, ...claims }),
    });
    assert.equal(r.status, 200, r.text);
    return (r.body as { access_token: string }).access_token;
  };
  const list = async (token: string) => (await h.call("GET", `/storage/v1/b/${BUCKET}/o`, { token })).status;

  /** Adds deny policy `id` with one rule; returns a function that deletes it. */
  const deny = async (id: string, deniedPrincipals: string[], exceptionPrincipals: string[] = []) => {
    const r = await h.call("POST", `${DENY}?policyId=${id}`, {
      body: { rules: [{ denyRule: { deniedPrincipals, exceptionPrincipals, deniedPermissions: [LIST] } }] },
    });
    assert.equal(r.status, 200, r.text);
    return async () => assert.equal((await h.call("DELETE", `${DENY}/${id}`)).status, 200);
  };

  test("subject, attribute, group and whole-pool rules each deny the identities they name", async () => {
    const alice = await tokenFor({ sub: "alice", repository: "org/app", groups: ["deployers"] });
    const bob = await tokenFor({ sub: "bob", repository: "org/other", groups: ["readers"] });
    assert.equal(await list(alice), 200, "the pool binding admits alice");
    assert.equal(await list(bob), 200, "the pool binding admits bob");

    const cases: [string, string, { alice: number; bob: number }][] = [
      ["by-subject", `principal://iam.googleapis.com/${fed.pool}/subject/alice`, { alice: 403, bob: 200 }],
      [
        "by-attribute",
        `principalSet://iam.googleapis.com/${fed.pool}/attribute.repository/org/other`,
        { alice: 200, bob: 403 },
      ],
      ["by-group", `principalSet://iam.googleapis.com/${fed.pool}/group/deployers`, { alice: 403, bob: 200 }],
      ["whole-pool", `principalSet://iam.googleapis.com/${fed.pool}/*`, { alice: 403, bob: 403 }],
    ];
    for (const [id, principal, want] of cases) {
      const remove = await deny(id, [principal]);
      assert.equal(await list(alice), want.alice, `${id}: alice`);
      assert.equal(await list(bob), want.bob, `${id}: bob`);
      await remove();
      assert.equal(await list(alice), 200, `${id} removed: alice`);
      assert.equal(await list(bob), 200, `${id} removed: bob`);
    }
  });

  test("a rule for another pool of the same project number denies nobody here", async () => {
    const alice = await tokenFor({ sub: "alice", repository: "org/app" });
    const otherPool = fed.pool.replace(/fence-pool$/, "other-pool");
    const remove = await deny("other-pool", [`principalSet://iam.googleapis.com/${otherPool}/*`]);
    assert.equal(await list(alice), 200);
    await remove();
  });

  test("exceptionPrincipals in federated forms exempt; Google identities are not matched by pool sets", async () => {
    const alice = await tokenFor({ sub: "alice", repository: "org/app" });
    const bob = await tokenFor({ sub: "bob", repository: "org/other" });
    const remove = await deny(
      "all-but-app",
      [`principalSet://iam.googleapis.com/${fed.pool}/*`],
      [`principalSet://iam.googleapis.com/${fed.pool}/attribute.repository/org/app`],
    );
    assert.equal(await list(alice), 200, "the exception exempts alice");
    assert.equal(await list(bob), 403);
    assert.equal(
      (await h.call("GET", `/storage/v1/b/${BUCKET}/o`)).status,
      200,
      "the administrator (a Google identity) is not in the pool's set",
    );
    await remove();
  });

  test("a malformed workload identity principal is refused when the policy is written", async () => {
    const r = await h.call("POST", `${DENY}?policyId=malformed`, {
      body: {
        rules: [
          {
            denyRule: {
              deniedPrincipals: [`principalSet://iam.googleapis.com/${fed.pool}/nonsense`],
              deniedPermissions: [LIST],
            },
          },
        ],
      },
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /principalSet:\/\/iam\.googleapis\.com/);
  });
});
