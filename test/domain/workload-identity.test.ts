/** Pure rules of workload identity federation: federated members, mapping, conditions, provider validation. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { memberMatches, parseMember } from "../../src/domain/iam/members.js";
import { type FederatedPrincipal, memberOf } from "../../src/domain/iam/principal.js";
import {
  MappingRefused,
  mapIdentity,
  mergeProvider,
  providerAudienceMatcher,
} from "../../src/domain/iam/workload-identity.js";

const POOL = "projects/123/locations/global/workloadIdentityPools/ci-pool";
const who: FederatedPrincipal = {
  kind: "federated",
  pool: POOL,
  subject: "repo:org/app",
  poolGroups: ["deployers"],
  groups: [],
  attributes: { repository: "org/app", teams: ["a", "b"] },
};

test("federated members parse and match only their pool's identities", () => {
  const m = (s: string) => {
    const p = parseMember(s);
    assert.notEqual(typeof p, "string", `${s}: ${p as string}`);
    return memberMatches(p as Exclude<typeof p, string>, who);
  };
  assert.equal(m(`principal://iam.googleapis.com/${POOL}/subject/repo:org/app`), true);
  assert.equal(m(`principal://iam.googleapis.com/${POOL}/subject/repo:org/other`), false);
  assert.equal(
    m(`principal://iam.googleapis.com/${POOL.replace("ci-pool", "xx-pool")}/subject/repo:org/app`),
    false,
  );
  assert.equal(m(`principalSet://iam.googleapis.com/${POOL}/group/deployers`), true);
  assert.equal(m(`principalSet://iam.googleapis.com/${POOL}/group/admins`), false);
  assert.equal(m(`principalSet://iam.googleapis.com/${POOL}/attribute.repository/org/app`), true);
  assert.equal(m(`principalSet://iam.googleapis.com/${POOL}/attribute.teams/b`), true);
  assert.equal(m(`principalSet://iam.googleapis.com/${POOL}/attribute.repository/org/other`), false);
  assert.equal(m(`principalSet://iam.googleapis.com/${POOL}/*`), true);
  assert.equal(m("group:deployers@example.com"), false);
  assert.equal(m("allAuthenticatedUsers"), true);
  assert.equal(memberOf(who), `principal://iam.googleapis.com/${POOL}/subject/repo:org/app`);
  for (const bad of [
    "principal://iam.googleapis.com/projects/my-project/locations/global/workloadIdentityPools/p1/subject/x",
    `principal://iam.googleapis.com/${POOL}/subject/${"x".repeat(128)}`,
    `principalSet://iam.googleapis.com/${POOL}/attribute.Bad/x`,
    `principalSet://iam.googleapis.com/${POOL}/nope/x`,
  ])
    assert.equal(typeof parseMember(bad), "string", bad);
});

test("mapping: subject, groups, attributes; absent attributes are unset; the subject is required and bounded", () => {
  const provider = {
    attributeMapping: {
      "google.subject": "'gh:' + assertion.sub",
      "google.groups": "assertion.groups",
      "attribute.repository": "assertion.repository",
      "attribute.missing": "assertion.nope",
    },
  };
  const p = mapIdentity(provider, POOL, { sub: "1", groups: ["g1"], repository: "org/app" });
  assert.deepEqual([p.subject, p.poolGroups, p.attributes], ["gh:1", ["g1"], { repository: "org/app" }]);
  assert.throws(() => mapIdentity(provider, POOL, { groups: [] }), MappingRefused);
  assert.throws(() => mapIdentity(provider, POOL, { sub: "x".repeat(200) }), /127/);
});

test("conditions: true admits, false and errors refuse with the reason", () => {
  const provider = {
    attributeMapping: { "google.subject": "assertion.sub", "attribute.repo": "assertion.repo" },
    attributeCondition: "attribute.repo == 'org/app' && google.subject.startsWith('s')",
  };
  assert.equal(mapIdentity(provider, POOL, { sub: "s1", repo: "org/app" }).subject, "s1");
  assert.throws(() => mapIdentity(provider, POOL, { sub: "s1", repo: "org/evil" }), /is false/);
  assert.throws(
    () => mapIdentity({ ...provider, attributeCondition: "assertion.sub" }, POOL, { sub: "s1" }),
    /did not return a boolean/,
  );
  assert.throws(
    () => mapIdentity({ ...provider, attributeCondition: "assertion.nope == 1" }, POOL, { sub: "s1" }),
    /could not be evaluated/,
  );
});

test("provider validation and audiences", () => {
  const base = { disabled: false, attributeMapping: {}, oidc: { issuerUri: "" } };
  const fields = ["attributeMapping", "oidc"];
  const ok = mergeProvider(
    base,
    { attributeMapping: { "google.subject": "assertion.sub" }, oidc: { issuerUri: "https://i.example" } },
    fields,
  );
  assert.notEqual(typeof ok, "string", ok as string);
  assert.match(
    mergeProvider(
      base,
      { attributeMapping: { "google.subject": "assertion.sub" }, oidc: { issuerUri: "http://i.example" } },
      fields,
    ) as string,
    /https/,
  );
  assert.match(
    mergeProvider(
      base,
      {
        attributeMapping: { "google.subject": "s" },
        oidc: { issuerUri: "https://i", jwksJson: '{"keys":[{"kty":"RSA","kid":"k","d":"x"}]}' },
      },
      fields,
    ) as string,
    /public keys only/,
  );
  const match = providerAudienceMatcher(
    { name: `${POOL}/providers/p1`, oidc: { issuerUri: "https://i" } },
    "my-project",
    "123",
  );
  assert.equal(match(`//iam.googleapis.com/${POOL}/providers/p1`), true);
  assert.equal(
    match(
      `https://iam.googleapis.com/projects/my-project/locations/global/workloadIdentityPools/ci-pool/providers/p1`,
    ),
    true,
  );
  assert.equal(match(`//iam.googleapis.com/${POOL}/providers/p2`), false);
  const listed = providerAudienceMatcher(
    { name: `${POOL}/providers/p1`, oidc: { issuerUri: "https://i", allowedAudiences: ["a1"] } },
    "my-project",
    "123",
  );
  assert.equal(listed("a1"), true);
  assert.equal(listed(`//iam.googleapis.com/${POOL}/providers/p1`), false);
});
