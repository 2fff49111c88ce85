/**
 * Policy Troubleshooter (`POST /v1/iam:troubleshoot`, `/v2alpha1/iam:troubleshoot`): Google's shape,
 * the same engine as `warrant iam explain` and the 403 explanations (deny policies, groups,
 * conditions included), and policies shown only to callers who may read them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { explainOffline } from "../../src/cli/explain.js";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const P = "demo-project";
const PROJECT = `//cloudresourcemanager.googleapis.com/projects/${P}`;
const BUCKET = "troubleshoot-bucket-1";

async function grant(h: Harness, path: string, binding: Record<string, unknown>) {
  const got = await h.call("POST", `${path}:getIamPolicy`, {
    body: { options: { requestedPolicyVersion: 3 } },
  });
  assert.equal(got.status, 200, got.text);
  const policy = got.body as { bindings?: unknown[]; version?: number };
  policy.bindings = [...(policy.bindings ?? []), binding];
  if ("condition" in binding) policy.version = 3;
  const set = await h.call("POST", `${path}:setIamPolicy`, { body: { policy } });
  assert.equal(set.status, 200, set.text);
}

describe("Policy Troubleshooter API", () => {
  let h: Harness;
  let orgId: string;
  const troubleshoot = (accessTuple: Record<string, unknown>, token?: string, version = "v1") =>
    h.call("POST", `/${version}/iam:troubleshoot`, {
      body: { accessTuple },
      ...(token ? { token } : {}),
    });

  before(async () => {
    h = await startHarness({ agents: false });
    const project = await h.call("GET", `/v1/projects/${P}`);
    orgId = String(project.body.parent.id);
    await tokenAs(h, "user:bob@example.com");
    await tokenAs(h, "user:carol@example.com");
    const b = await h.call("POST", `/storage/v1/b?project=${P}`, { body: { name: BUCKET } });
    assert.equal(b.status, 200, b.text);
  });
  after(async () => h.close());

  it("NOT_GRANTED: every policy of the chain, every binding annotated, the engine's reason", async () => {
    const r = await troubleshoot({
      principal: "bob@example.com",
      fullResourceName: PROJECT,
      permission: "resourcemanager.projects.getIamPolicy",
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.access, "NOT_GRANTED");
    assert.deepEqual(
      r.body.explainedPolicies.map((p: { fullResourceName: string }) => p.fullResourceName),
      [PROJECT, `//cloudresourcemanager.googleapis.com/organizations/${orgId}`],
    );
    const project = r.body.explainedPolicies[0];
    assert.equal(project.access, "NOT_GRANTED");
    const owner = project.bindingExplanations.find((b: { role: string }) => b.role === "roles/owner");
    assert.equal(owner.rolePermission, "ROLE_PERMISSION_INCLUDED");
    assert.equal(owner.access, "NOT_GRANTED");
    assert.deepEqual(owner.memberships["user:admin@warrant.local"], {
      membership: "MEMBERSHIP_NOT_INCLUDED",
      relevance: "NORMAL",
    });
    assert.ok(project.policy.bindings.some((b: { role: string }) => b.role === "roles/owner"));
    assert.match(
      r.body.explanation.reason,
      /^user:bob@example\.com does not have resourcemanager\.projects\.getIamPolicy on projects\/demo-project/,
    );
    assert.ok(r.body.explanation.rolesThatGrantPermission.includes("roles/iam.securityReviewer"));
  });

  it("GRANTED through a group, with the binding and membership that grant it marked HIGH", async () => {
    const g = await h.call("POST", "/warrant/v1/groups", {
      body: { email: "viewers@example.com", members: ["user:bob@example.com"] },
    });
    assert.equal(g.status, 200, g.text);
    await grant(h, `/v1/projects/${P}`, { role: "roles/viewer", members: ["group:viewers@example.com"] });
    const r = await troubleshoot({
      principal: "bob@example.com",
      fullResourceName: PROJECT,
      permission: "resourcemanager.projects.get",
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.access, "GRANTED");
    const viewer = r.body.explainedPolicies[0].bindingExplanations.find(
      (b: { role: string }) => b.role === "roles/viewer",
    );
    assert.equal(viewer.access, "GRANTED");
    assert.equal(viewer.relevance, "HIGH");
    assert.deepEqual(viewer.memberships["group:viewers@example.com"], {
      membership: "MEMBERSHIP_INCLUDED",
      relevance: "HIGH",
    });
    assert.equal(r.body.explainedPolicies[0].access, "GRANTED");
  });

  it("conditions: evaluated at conditionContext.request.receiveTime (v2alpha1, as gcloud sends it)", async () => {
    await grant(h, `/v1/projects/${P}`, {
      role: "roles/iam.serviceAccountAdmin",
      members: ["user:carol@example.com"],
      condition: { title: "before-2020", expression: 'request.time < timestamp("2020-01-01T00:00:00Z")' },
    });
    const tuple = {
      principal: "carol@example.com",
      fullResourceName: PROJECT,
      permission: "iam.serviceAccounts.create",
    };
    const now = await troubleshoot(tuple, undefined, "v2alpha1");
    assert.equal(now.status, 200, now.text);
    assert.equal(now.body.access, "NOT_GRANTED");
    const b = now.body.explainedPolicies[0].bindingExplanations.find(
      (x: { role: string }) => x.role === "roles/iam.serviceAccountAdmin",
    );
    assert.equal(b.access, "NOT_GRANTED");
    assert.equal(b.condition.title, "before-2020");
    assert.equal(b.conditionExplanation.value, false);
    assert.match(b.conditionExplanation.explanation, /was false/);
    const then = await troubleshoot(
      { ...tuple, conditionContext: { request: { receiveTime: "2019-06-01T00:00:00Z" } } },
      undefined,
      "v2alpha1",
    );
    assert.equal(then.status, 200, then.text);
    assert.equal(then.body.access, "GRANTED");
  });

  it("deny policies: NOT_GRANTED although a role grants it, the rule shown to whoever may read it", async () => {
    await grant(h, `/v1/projects/${P}`, { role: "roles/storage.admin", members: ["user:bob@example.com"] });
    const deny = await h.call(
      "POST",
      `/v2/policies/cloudresourcemanager.googleapis.com%252Fprojects%252F${P}/denypolicies?policyId=no-bucket-deletes`,
      {
        body: {
          displayName: "no bucket deletes",
          rules: [
            {
              denyRule: {
                deniedPrincipals: ["principal://goog/subject/bob@example.com"],
                deniedPermissions: ["storage.googleapis.com/buckets.delete"],
              },
            },
          ],
        },
      },
    );
    // Creating deny policies needs roles/iam.denyAdmin, which an owner lacks (as on Google).
    assert.equal(deny.status, 403, deny.text);
    await grant(h, `/v1/projects/${P}`, {
      role: "roles/iam.denyAdmin",
      members: ["user:admin@warrant.local"],
    });
    const created = await h.call(
      "POST",
      `/v2/policies/cloudresourcemanager.googleapis.com%252Fprojects%252F${P}/denypolicies?policyId=no-bucket-deletes`,
      {
        body: {
          displayName: "no bucket deletes",
          rules: [
            {
              denyRule: {
                deniedPrincipals: ["principal://goog/subject/bob@example.com"],
                deniedPermissions: ["storage.googleapis.com/buckets.delete"],
              },
            },
          ],
        },
      },
    );
    assert.equal(created.status, 200, created.text);
    const r = await troubleshoot({
      principal: "bob@example.com",
      fullResourceName: `//storage.googleapis.com/projects/_/buckets/${BUCKET}`,
      permission: "storage.buckets.delete",
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.access, "NOT_GRANTED");
    assert.equal(
      r.body.explainedPolicies[0].fullResourceName,
      `//storage.googleapis.com/projects/_/buckets/${BUCKET}`,
    );
    // The allow policy of the project grants it...
    assert.equal(r.body.explainedPolicies[1].access, "GRANTED");
    // ...and the deny rule refuses it, named in full for the admin (iam.denypolicies.get).
    assert.equal(r.body.denyExplanation.access, "NOT_GRANTED");
    assert.equal(r.body.denyExplanation.deniedBy.displayName, "no bucket deletes");
    assert.equal(r.body.denyExplanation.deniedBy.matchedPermission, "storage.googleapis.com/buckets.delete");
    assert.match(r.body.explanation.reason, /deny/i);
  });

  it("authorization: a caller who may read no policy learns nothing; one who may read some sees those", async () => {
    const dave = await tokenAs(h, "user:dave@example.com");
    const tuple = {
      principal: "bob@example.com",
      fullResourceName: PROJECT,
      permission: "resourcemanager.projects.get",
    };
    const none = await troubleshoot(tuple, dave);
    assert.equal(none.status, 200, none.text);
    assert.equal(none.body.access, "UNKNOWN_INFO_DENIED");
    assert.deepEqual(none.body.explainedPolicies, [
      { access: "UNKNOWN_INFO_DENIED" },
      { access: "UNKNOWN_INFO_DENIED" },
    ]);
    assert.equal(none.body.explanation, undefined);
    assert.doesNotMatch(none.text, /viewers@example\.com|roles\//);

    // roles/iam.securityReviewer on the project: its policy, not the organization's.
    await grant(h, `/v1/projects/${P}`, {
      role: "roles/iam.securityReviewer",
      members: ["user:dave@example.com"],
    });
    const some = await troubleshoot(tuple, dave);
    assert.equal(some.status, 200, some.text);
    assert.equal(some.body.access, "GRANTED", "the readable project policy grants it: settled");
    assert.equal(some.body.explainedPolicies[0].fullResourceName, PROJECT);
    assert.deepEqual(some.body.explainedPolicies[1], { access: "UNKNOWN_INFO_DENIED" });
    assert.equal(some.body.explanation, undefined, "no reason text: it could name what dave cannot read");
    const notGranted = await troubleshoot({ ...tuple, permission: "resourcemanager.projects.delete" }, dave);
    assert.equal(
      notGranted.body.access,
      "UNKNOWN_INFO_DENIED",
      "the organization's policy, which dave cannot read, might grant it",
    );
  });

  it("answers as `warrant iam explain` does: one engine", async () => {
    const cases: [string, string, string, string][] = [
      ["bob@example.com", "user:bob@example.com", "resourcemanager.projects.get", `projects/${P}`],
      ["bob@example.com", "user:bob@example.com", "resourcemanager.projects.delete", `projects/${P}`],
      ["bob@example.com", "user:bob@example.com", "storage.buckets.delete", `projects/_/buckets/${BUCKET}`],
      ["bob@example.com", "user:bob@example.com", "storage.buckets.get", `projects/_/buckets/${BUCKET}`],
      ["carol@example.com", "user:carol@example.com", "iam.serviceAccounts.create", `projects/${P}`],
      [
        "demo-sa@demo-project.iam.gserviceaccount.com",
        "serviceAccount:demo-sa@demo-project.iam.gserviceaccount.com",
        "compute.instances.list",
        `projects/${P}`,
      ],
    ];
    for (const [email, member, permission, resource] of cases) {
      const full = resource.startsWith("projects/_/buckets/")
        ? `//storage.googleapis.com/${resource}`
        : `//cloudresourcemanager.googleapis.com/${resource}`;
      const api = await troubleshoot({ principal: email, fullResourceName: full, permission });
      assert.equal(api.status, 200, api.text);
      const offline = await explainOffline(h.stateDir, member, permission, resource);
      const what = `${member} ${permission} ${resource}`;
      assert.equal(api.body.access, offline.allowed ? "GRANTED" : "NOT_GRANTED", what);
      // Conditions read request.time, which differs by milliseconds between the two answers.
      const untimed = (s: string) => s.replace(/request\.time = "[^"]+"/g, 'request.time = "…"');
      assert.equal(untimed(api.body.explanation.reason), untimed(offline.reason), what);
    }
  });

  it("a denied call's 403 and the troubleshooter agree, and the request id is in the 403", async () => {
    const bob = await tokenAs(h, "user:bob@example.com");
    const denied = await h.call("POST", `/v1/projects/${P}:setIamPolicy?explain=true`, {
      token: bob,
      body: { policy: { bindings: [] } },
    });
    assert.equal(denied.status, 403, denied.text);
    const requestId = denied.headers.get("x-request-id");
    assert.ok(requestId);
    assert.equal(denied.body.error.details[0].requestId, requestId);
    const r = await troubleshoot({
      principal: "bob@example.com",
      fullResourceName: PROJECT,
      permission: "resourcemanager.projects.setIamPolicy",
    });
    assert.equal(r.body.access, "NOT_GRANTED");
    assert.equal(r.body.explanation.reason, denied.body.error.explanation.reason);
  });

  it("bad requests are 400 INVALID_ARGUMENT with a clear message; unknown resources 404", async () => {
    const bad = async (body: unknown, pattern: RegExp, status = 400) => {
      const r = await h.call("POST", "/v1/iam:troubleshoot", { body });
      assert.equal(r.status, status, r.text);
      assert.match(r.body.error.message, pattern);
    };
    await bad({}, /accessTuple is required/);
    await bad({ accessTuple: "x" }, /accessTuple is required/);
    await bad(
      { accessTuple: { fullResourceName: PROJECT, permission: "a.b.c" } },
      /accessTuple\.principal is required/,
    );
    await bad(
      { accessTuple: { principal: "bob@example.com", fullResourceName: PROJECT, permission: "nope" } },
      /not a permission name/,
    );
    await bad(
      { accessTuple: { principal: "not an email", fullResourceName: PROJECT, permission: "a.b.c" } },
      /not an e-mail address/,
    );
    await bad(
      {
        accessTuple: {
          principal: "bob@example.com",
          fullResourceName: `//iam.googleapis.com/projects/${P}`,
          permission: "a.b.c",
        },
      },
      /named through \/\/cloudresourcemanager\.googleapis\.com\//,
    );
    await bad(
      {
        accessTuple: {
          principal: "bob@example.com",
          fullResourceName: "//cloudresourcemanager.googleapis.com/projects/nope-project",
          permission: "a.b.c",
        },
      },
      /Project nope-project not found/,
      404,
    );
    await bad(
      {
        accessTuple: {
          principal: "bob@example.com",
          fullResourceName: PROJECT,
          permission: "a.b.c",
          conditionContext: { request: { receiveTime: "yesterday" } },
        },
      },
      /receiveTime must be an RFC 3339 timestamp/,
    );
  });
});
