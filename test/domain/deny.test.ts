import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  denyPrincipalMatches,
  findDenial,
  permissionMatches,
  type StoredDenyPolicy,
  v1Permission,
  v2Permission,
  validateDenyPolicy,
} from "../../src/domain/iam/deny.js";
import {
  ANONYMOUS,
  type FederatedPrincipal,
  serviceAccountPrincipal,
  userPrincipal,
} from "../../src/domain/iam/principal.js";

const SA = "worker@p1.iam.gserviceaccount.com";
const sa = serviceAccountPrincipal(SA, "123456789012", "1099");
const alice = userPrincipal("alice@example.com", ["devs@example.com"]);

const stored = (rules: StoredDenyPolicy["policy"]["rules"]): StoredDenyPolicy => ({
  attachedTo: "projects/p1",
  policyId: "d1",
  policy: {
    name: "policies/x/denypolicies/d1",
    uid: "u",
    kind: "DenyPolicy",
    etag: "e",
    createTime: "",
    updateTime: "",
    rules,
  },
});
const rule = (r: Partial<StoredDenyPolicy["policy"]["rules"][0]["denyRule"]>) => ({
  denyRule: {
    deniedPrincipals: [],
    exceptionPrincipals: [],
    deniedPermissions: [],
    exceptionPermissions: [],
    ...r,
  },
});

describe("deny policies", () => {
  test("v1 ↔ v2 permission names, Resource Manager's exception included", () => {
    assert.equal(v2Permission("storage.buckets.delete"), "storage.googleapis.com/buckets.delete");
    assert.equal(
      v2Permission("resourcemanager.projects.delete"),
      "cloudresourcemanager.googleapis.com/projects.delete",
    );
    assert.equal(v2Permission("iam.roles.create"), "iam.googleapis.com/roles.create");
    assert.equal(
      v1Permission("cloudresourcemanager.googleapis.com/projects.delete"),
      "resourcemanager.projects.delete",
    );
    assert.equal(v1Permission("storage.buckets.delete"), undefined);
  });

  test("permission groups: RESOURCE.*, *.*, *.VERB, within one service only", () => {
    const p = "compute.googleapis.com/instances.stop";
    assert.ok(permissionMatches("compute.googleapis.com/instances.*", p));
    assert.ok(permissionMatches("compute.googleapis.com/*.*", p));
    assert.ok(permissionMatches("compute.googleapis.com/*.stop", p));
    assert.ok(!permissionMatches("compute.googleapis.com/*.start", p));
    assert.ok(!permissionMatches("storage.googleapis.com/*.*", p));
    assert.ok(!permissionMatches("compute.googleapis.com/disks.*", p));
  });

  test("principal identifiers", () => {
    assert.ok(denyPrincipalMatches("principalSet://goog/public:all", ANONYMOUS));
    assert.ok(denyPrincipalMatches("principal://goog/subject/Alice@Example.com", alice));
    assert.ok(!denyPrincipalMatches("principal://goog/subject/alice@example.com", sa));
    assert.ok(denyPrincipalMatches(`principal://iam.googleapis.com/projects/-/serviceAccounts/${SA}`, sa));
    assert.ok(
      denyPrincipalMatches("principal://iam.googleapis.com/projects/-/serviceAccounts/1099", sa),
      "by unique id",
    );
    assert.ok(denyPrincipalMatches("principalSet://goog/group/devs@example.com", alice));
    assert.ok(!denyPrincipalMatches("principalSet://goog/group/ops@example.com", alice));
    assert.ok(
      denyPrincipalMatches(
        "principalSet://cloudresourcemanager.googleapis.com/projects/123456789012/type/ServiceAccount",
        sa,
      ),
    );
    assert.ok(
      !denyPrincipalMatches(
        "principalSet://cloudresourcemanager.googleapis.com/projects/999/type/ServiceAccount",
        sa,
      ),
    );
    assert.ok(
      !denyPrincipalMatches("principalSet://goog/cloudIdentityCustomerId/C01abc", alice),
      "accepted, matches nobody",
    );
  });

  test("workload identity pool principals match the federated identities they name", () => {
    const pool = "projects/123456789012/locations/global/workloadIdentityPools/ci-pool";
    const ci: FederatedPrincipal = {
      kind: "federated",
      pool,
      subject: "repo:org/app",
      poolGroups: ["deployers"],
      attributes: { repository: "org/app", teams: ["a", "b"] },
      groups: [],
    };
    const iam = "iam.googleapis.com";
    assert.ok(denyPrincipalMatches(`principal://${iam}/${pool}/subject/repo:org/app`, ci));
    assert.ok(!denyPrincipalMatches(`principal://${iam}/${pool}/subject/repo:org/other`, ci));
    assert.ok(denyPrincipalMatches(`principalSet://${iam}/${pool}/group/deployers`, ci));
    assert.ok(!denyPrincipalMatches(`principalSet://${iam}/${pool}/group/readers`, ci));
    assert.ok(denyPrincipalMatches(`principalSet://${iam}/${pool}/attribute.repository/org/app`, ci));
    assert.ok(
      denyPrincipalMatches(`principalSet://${iam}/${pool}/attribute.teams/b`, ci),
      "a list attribute",
    );
    assert.ok(denyPrincipalMatches(`principalSet://${iam}/${pool}/*`, ci));
    assert.ok(
      !denyPrincipalMatches(`principalSet://${iam}/${pool.replace(/ci-pool$/, "cd-pool")}/*`, ci),
      "another pool",
    );
    assert.ok(
      !denyPrincipalMatches(`principalSet://${iam}/${pool}/*`, alice),
      "a Google identity is in no pool",
    );
    assert.ok(!denyPrincipalMatches("principalSet://goog/group/deployers@example.com", ci));
    const v = validateDenyPolicy({
      rules: [
        {
          denyRule: {
            deniedPrincipals: [`principalSet://${iam}/${pool}/nonsense`],
            deniedPermissions: ["storage.googleapis.com/objects.list"],
          },
        },
      ],
    });
    assert.equal(typeof v, "string", "a malformed pool principal is refused");
  });

  test("exceptions subtract within the rule; the first matching rule is reported", () => {
    const links = [
      {
        resource: "projects/p1",
        policies: [
          stored([
            rule({
              deniedPrincipals: ["principalSet://goog/public:all"],
              exceptionPrincipals: ["principalSet://goog/group/devs@example.com"],
              deniedPermissions: ["storage.googleapis.com/buckets.*"],
              exceptionPermissions: ["storage.googleapis.com/buckets.get"],
            }),
            rule({
              deniedPrincipals: [`principal://iam.googleapis.com/projects/-/serviceAccounts/${SA}`],
              deniedPermissions: ["storage.googleapis.com/buckets.get"],
            }),
          ]),
        ],
      },
    ];
    const now = new Date();
    assert.equal(findDenial(alice, "storage.buckets.delete", links, {}, now), undefined, "alice is excepted");
    assert.equal(findDenial(sa, "storage.buckets.delete", links, {}, now)?.rule, 0);
    assert.equal(
      findDenial(sa, "storage.buckets.get", links, {}, now)?.rule,
      1,
      "rule 0 excepts get; rule 1 denies it",
    );
    assert.equal(findDenial(sa, "compute.instances.stop", links, {}, now), undefined);
  });

  test("validation normalizes and rejects", () => {
    const ok = validateDenyPolicy({
      displayName: "x",
      rules: [
        rule({
          deniedPrincipals: ["principalSet://goog/public:all", "principalSet://goog/public:all"],
          deniedPermissions: ["storage.googleapis.com/buckets.delete"],
        }),
      ],
    });
    assert.ok(typeof ok !== "string");
    assert.deepEqual(ok.rules[0]!.denyRule.deniedPrincipals, ["principalSet://goog/public:all"]);
    assert.match(
      validateDenyPolicy({
        rules: [rule({ deniedPrincipals: [], deniedPermissions: ["storage.googleapis.com/buckets.delete"] })],
      }) as string,
      /at least one principal/,
    );
    assert.match(
      validateDenyPolicy({
        rules: [
          rule({
            deniedPrincipals: ["principalSet://goog/public:all"],
            deniedPermissions: ["storage.googleapis.com/buckets.*.x"],
          }),
        ],
      }) as string,
      /not a deny permission/,
    );
    assert.match(validateDenyPolicy({ displayName: "y".repeat(64), rules: [] }) as string, /at most 63/);
  });
});
