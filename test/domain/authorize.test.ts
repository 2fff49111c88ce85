import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type AuthorizeContext,
  authorize,
  heldPermissions,
  type PolicyLink,
} from "../../src/domain/iam/authorize.js";
import { GroupIndex, wouldCycle } from "../../src/domain/iam/groups.js";
import type { Policy } from "../../src/domain/iam/policy.js";
import {
  ANONYMOUS,
  type Principal,
  serviceAccountPrincipal,
  userPrincipal,
} from "../../src/domain/iam/principal.js";
import { roleResolver } from "../../src/domain/iam/roles.js";

const ORG = "organizations/1";
const PROJ = "projects/p1";
const SA_EMAIL = "worker@p1.iam.gserviceaccount.com";
const SA_RES = `projects/p1/serviceAccounts/${SA_EMAIL}`;
const BUCKET = "projects/_/buckets/b1";

const pol = (...bindings: Policy["bindings"]): Policy => ({ version: 1, etag: "x", bindings });
const link = (resource: string, policy?: Policy): PolicyLink => ({ resource, policy });
const condPol = (role: string, member: string, expression: string): Policy => ({
  version: 3,
  etag: "x",
  bindings: [{ role, members: [member], condition: { title: "t", expression } }],
});

const customRoles = [
  {
    name: "projects/p1/roles/lister",
    title: "",
    description: "",
    stage: "GA",
    includedPermissions: ["compute.instances.list"],
  },
  {
    name: "projects/p1/roles/gone",
    title: "",
    description: "",
    stage: "GA",
    includedPermissions: ["compute.instances.get"],
    deleted: true,
  },
];
const ctx = (projectPolicies: Record<string, Policy> = {}): AuthorizeContext => ({
  roles: roleResolver(customRoles),
  projectChain: (id) => (projectPolicies[id] ? [link(`projects/${id}`, projectPolicies[id])] : undefined),
});

const alice = userPrincipal("alice@example.com");
const bob = userPrincipal("bob@other.org", ["devs@example.com"]);
const sa = serviceAccountPrincipal(SA_EMAIL, "123456789012");

interface Case {
  name: string;
  who: Principal;
  permission: string;
  chain: PolicyLink[];
  projects?: Record<string, Policy>;
  allowed: boolean;
  reason?: RegExp;
}

const cases: Case[] = [
  {
    name: "direct user binding on the resource grants",
    who: alice,
    permission: "iam.serviceAccounts.get",
    chain: [
      link(SA_RES, pol({ role: "roles/iam.serviceAccountUser", members: ["user:alice@example.com"] })),
      link(PROJ),
      link(ORG),
    ],
    allowed: true,
    reason: /roles\/iam\.serviceAccountUser to user:alice@example\.com on projects\/p1\/serviceAccounts/,
  },
  {
    name: "project binding is inherited by the service account",
    who: alice,
    permission: "iam.serviceAccounts.actAs",
    chain: [
      link(SA_RES),
      link(PROJ, pol({ role: "roles/editor", members: ["user:alice@example.com"] })),
      link(ORG),
    ],
    allowed: true,
  },
  {
    name: "organization binding is inherited two levels down",
    who: alice,
    permission: "compute.instances.delete",
    chain: [
      link("projects/p1/zones/z/instances/i"),
      link(PROJ),
      link(ORG, pol({ role: "roles/owner", members: ["user:alice@example.com"] })),
    ],
    allowed: true,
  },
  {
    name: "a binding on a sibling resource does not leak",
    who: alice,
    permission: "iam.serviceAccounts.get",
    chain: [link(`projects/p1/serviceAccounts/other@p1.iam.gserviceaccount.com`), link(PROJ), link(ORG)],
    allowed: false,
    reason: /no binding on the resource or its ancestors grants it/,
  },
  {
    name: "role without the permission does not grant (viewer has no actAs)",
    who: alice,
    permission: "iam.serviceAccounts.actAs",
    chain: [link(SA_RES), link(PROJ, pol({ role: "roles/viewer", members: ["user:alice@example.com"] }))],
    allowed: false,
    reason: /Roles that grant it: .*roles\/iam\.serviceAccountUser/,
  },
  {
    name: "owner holds no storage.objects permissions",
    who: alice,
    permission: "storage.objects.get",
    chain: [link(BUCKET), link(PROJ, pol({ role: "roles/owner", members: ["user:alice@example.com"] }))],
    allowed: false,
  },
  {
    name: "custom role grants its permissions",
    who: sa,
    permission: "compute.instances.list",
    chain: [link(PROJ, pol({ role: "projects/p1/roles/lister", members: [`serviceAccount:${SA_EMAIL}`] }))],
    allowed: true,
  },
  {
    name: "a deleted custom role grants nothing",
    who: sa,
    permission: "compute.instances.get",
    chain: [link(PROJ, pol({ role: "projects/p1/roles/gone", members: [`serviceAccount:${SA_EMAIL}`] }))],
    allowed: false,
  },
  {
    name: "group membership grants",
    who: bob,
    permission: "compute.instances.list",
    chain: [link(PROJ, pol({ role: "roles/compute.viewer", members: ["group:devs@example.com"] }))],
    allowed: true,
  },
  {
    name: "domain member matches users of that domain only",
    who: alice,
    permission: "compute.instances.list",
    chain: [link(PROJ, pol({ role: "roles/compute.viewer", members: ["domain:example.com"] }))],
    allowed: true,
  },
  {
    name: "domain member does not match another domain",
    who: bob,
    permission: "compute.instances.list",
    chain: [link(PROJ, pol({ role: "roles/compute.viewer", members: ["domain:example.com"] }))],
    allowed: false,
  },
  {
    name: "allUsers admits anonymous callers",
    who: ANONYMOUS,
    permission: "storage.objects.get",
    chain: [link(BUCKET, pol({ role: "roles/storage.objectViewer", members: ["allUsers"] })), link(PROJ)],
    allowed: true,
  },
  {
    name: "allAuthenticatedUsers refuses anonymous callers",
    who: ANONYMOUS,
    permission: "storage.objects.get",
    chain: [link(BUCKET, pol({ role: "roles/storage.objectViewer", members: ["allAuthenticatedUsers"] }))],
    allowed: false,
  },
  {
    name: "allAuthenticatedUsers admits any signed-in principal",
    who: sa,
    permission: "storage.objects.get",
    chain: [link(BUCKET, pol({ role: "roles/storage.objectViewer", members: ["allAuthenticatedUsers"] }))],
    allowed: true,
  },
  {
    name: "projectViewer: convenience member resolves through the project's viewers",
    who: alice,
    permission: "storage.objects.get",
    chain: [
      link(BUCKET, pol({ role: "roles/storage.legacyObjectReader", members: ["projectViewer:p1"] })),
      link(PROJ),
    ],
    projects: { p1: pol({ role: "roles/viewer", members: ["user:alice@example.com"] }) },
    allowed: true,
  },
  {
    name: "projectOwner: does not admit a mere viewer",
    who: alice,
    permission: "storage.objects.get",
    chain: [link(BUCKET, pol({ role: "roles/storage.legacyObjectOwner", members: ["projectOwner:p1"] }))],
    projects: { p1: pol({ role: "roles/viewer", members: ["user:alice@example.com"] }) },
    allowed: false,
  },
  {
    name: "principalSet of a project's service accounts matches by project number",
    who: sa,
    permission: "compute.instances.list",
    chain: [
      link(
        PROJ,
        pol({
          role: "roles/compute.viewer",
          members: [
            "principalSet://cloudresourcemanager.googleapis.com/projects/123456789012/type/ServiceAccount",
          ],
        }),
      ),
    ],
    allowed: true,
  },
  {
    name: "a conditional binding whose condition is true grants, and the reason names the condition",
    who: alice,
    permission: "compute.instances.list",
    chain: [
      link(
        PROJ,
        condPol(
          "roles/compute.viewer",
          "user:alice@example.com",
          "request.time < timestamp('2999-01-01T00:00:00Z')",
        ),
      ),
    ],
    allowed: true,
    reason: /roles\/compute\.viewer to user:alice@example\.com on projects\/p1 \(condition "t" met\)/,
  },
  {
    name: "a binding with request.time before a past instant no longer grants; the reason gives request.time",
    who: alice,
    permission: "compute.instances.list",
    chain: [
      link(
        PROJ,
        condPol(
          "roles/compute.viewer",
          "user:alice@example.com",
          "request.time < timestamp('2020-01-01T00:00:00Z')",
        ),
      ),
    ],
    allowed: false,
    reason:
      /condition "t" \(request\.time < timestamp\('2020-01-01T00:00:00Z'\)\) was false with request\.time = "20\d\d-/,
  },
  {
    name: "an object-prefix condition grants on an object under the prefix",
    who: alice,
    permission: "storage.objects.get",
    chain: [
      link(`${BUCKET}/objects/reports/q1.csv`),
      link(BUCKET),
      link(
        PROJ,
        condPol(
          "roles/storage.objectViewer",
          "user:alice@example.com",
          'resource.name.startsWith("projects/_/buckets/b1/objects/reports/")',
        ),
      ),
    ],
    allowed: true,
  },
  {
    name: "an object-prefix condition refuses an object outside it, naming resource.name's value",
    who: alice,
    permission: "storage.objects.get",
    chain: [
      link(`${BUCKET}/objects/secret.txt`),
      link(BUCKET),
      link(
        PROJ,
        condPol(
          "roles/storage.objectViewer",
          "user:alice@example.com",
          'resource.name.startsWith("projects/_/buckets/b1/objects/reports/")',
        ),
      ),
    ],
    allowed: false,
    reason: /was false with resource\.name = "projects\/_\/buckets\/b1\/objects\/secret\.txt"/,
  },
  {
    name: "an attribute the resource does not provide is an error absorbed by ||: a type guard grants on a project",
    who: alice,
    permission: "compute.instances.list",
    chain: [
      link(
        PROJ,
        condPol(
          "roles/compute.viewer",
          "user:alice@example.com",
          'resource.type != "storage.googleapis.com/Object" || resource.name.startsWith("projects/_/buckets/x/")',
        ),
      ),
    ],
    allowed: true,
  },
  {
    name: "an evaluation error means not granted, and the reason says which attribute was missing",
    who: alice,
    permission: "compute.instances.list",
    chain: [
      link(
        PROJ,
        condPol("roles/compute.viewer", "user:alice@example.com", 'resource.name.startsWith("projects/p1")'),
      ),
    ],
    allowed: false,
    reason:
      /could not be evaluated .*resource\.name: not provided for this resource, so it counts as not met/,
  },
  {
    name: "an invalid timestamp() never grants",
    who: alice,
    permission: "compute.instances.list",
    chain: [
      link(
        PROJ,
        condPol("roles/compute.viewer", "user:alice@example.com", 'request.time < timestamp("not-a-time")'),
      ),
    ],
    allowed: false,
    reason: /could not be evaluated/,
  },
  {
    name: "extract() and resource.type on an instance",
    who: alice,
    permission: "compute.instances.get",
    chain: [
      link("projects/p1/zones/us-central1-a/instances/web-1"),
      link(
        PROJ,
        condPol(
          "roles/compute.viewer",
          "user:alice@example.com",
          'resource.type == "compute.googleapis.com/Instance" && resource.name.extract("/instances/{n}") == "web-1"',
        ),
      ),
    ],
    allowed: true,
  },
  {
    name: "an unconditional binding of the same role grants even when the conditional one is false",
    who: alice,
    permission: "compute.instances.list",
    chain: [
      link(PROJ, {
        version: 3,
        etag: "x",
        bindings: [
          { role: "roles/compute.viewer", members: ["user:alice@example.com"] },
          {
            role: "roles/compute.viewer",
            members: ["user:alice@example.com"],
            condition: { title: "t", expression: "false" },
          },
        ],
      }),
    ],
    allowed: true,
  },
  {
    name: "user: member does not match a service account with the same email",
    who: sa,
    permission: "compute.instances.list",
    chain: [link(PROJ, pol({ role: "roles/compute.viewer", members: [`user:${SA_EMAIL}`] }))],
    allowed: false,
  },
  {
    name: "unknown role grants nothing",
    who: alice,
    permission: "compute.instances.list",
    chain: [link(PROJ, pol({ role: "roles/doesNotExist", members: ["user:alice@example.com"] }))],
    allowed: false,
  },
];

describe("authorize", () => {
  for (const c of cases) {
    test(c.name, () => {
      const d = authorize(c.who, c.permission, c.chain, ctx(c.projects));
      assert.equal(d.allowed, c.allowed, d.reason);
      assert.equal(d.resource, c.chain[0]!.resource);
      assert.equal(d.permission, c.permission);
      if (c.reason) assert.match(d.reason, c.reason);
      if (c.allowed) assert.ok(d.grantedBy.length > 0);
      else assert.equal(d.grantedBy.length, 0);
    });
  }

  test("a denial names the principal, the permission and the resource", () => {
    const d = authorize(alice, "compute.instances.create", [link(PROJ)], ctx());
    assert.match(
      d.reason,
      /^user:alice@example\.com does not have compute\.instances\.create on projects\/p1/,
    );
  });

  test("a group member's grant names the groups it matched through; GroupIndex finds nested membership", () => {
    const index = new GroupIndex([
      { email: "sre@example.com", members: ["group:oncall@example.com"], createTime: "" },
      { email: "oncall@example.com", members: ["user:alice@example.com"], createTime: "" },
      { email: "other@example.com", members: ["user:bob@other.org"], createTime: "" },
    ]);
    const membership = index.membership(alice);
    assert.deepEqual([...membership.keys()].sort(), ["oncall@example.com", "sre@example.com"]);
    assert.deepEqual(membership.get("sre@example.com"), ["oncall@example.com", "sre@example.com"]);
    const who = { ...alice, groups: [...membership.keys()] };
    const d = authorize(
      who,
      "compute.instances.stop",
      [link(PROJ, pol({ role: "roles/compute.instanceAdmin.v1", members: ["group:sre@example.com"] }))],
      { ...ctx(), groupPath: (g) => membership.get(g) },
    );
    assert.ok(d.allowed, d.reason);
    assert.deepEqual(d.grantedBy[0]!.via, ["oncall@example.com", "sre@example.com"]);
    assert.match(
      d.reason,
      /granted by roles\/compute\.instanceAdmin\.v1 to group:sre@example\.com \(as a member of group:oncall@example\.com in group:sre@example\.com\)/,
    );
    assert.equal(index.membership(ANONYMOUS).size, 0);
  });

  test("wouldCycle finds the path back to the parent", () => {
    const groups = new Map(
      [
        { email: "a@x.com", members: ["group:b@x.com"], createTime: "" },
        { email: "b@x.com", members: ["group:c@x.com"], createTime: "" },
        { email: "c@x.com", members: [], createTime: "" },
      ].map((g) => [g.email, g]),
    );
    assert.deepEqual(wouldCycle(groups, "c@x.com", "a@x.com"), ["a@x.com", "b@x.com", "c@x.com"]);
    assert.equal(wouldCycle(groups, "a@x.com", "c@x.com"), null);
  });

  test("heldPermissions returns the held subset in request order", () => {
    const chain = [link(PROJ, pol({ role: "roles/compute.viewer", members: ["user:alice@example.com"] }))];
    assert.deepEqual(
      heldPermissions(
        alice,
        ["compute.instances.delete", "compute.instances.list", "compute.instances.get"],
        chain,
        ctx(),
      ),
      ["compute.instances.list", "compute.instances.get"],
    );
  });
});
