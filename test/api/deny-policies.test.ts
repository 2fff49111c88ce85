/**
 * Deny policies over HTTP: validation, etags, both encodings of the attachment point, evaluation
 * before allow (group exceptions, permission groups, fail-closed denial conditions),
 * testIamPermissions and `warrant iam explain` honouring them, and who may manage them.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const DOUBLE = "/v2/policies/cloudresourcemanager.googleapis.com%252Fprojects%252Fdemo-project/denypolicies";
const SINGLE = "/v2/policies/cloudresourcemanager.googleapis.com%2Fprojects%2Fdemo-project/denypolicies";
const VM = "/compute/v1/projects/demo-project/zones/us-central1-a/instances/demo-vm";

describe("deny policies", () => {
  let h: Harness;
  let number: string;
  before(async () => {
    h = await startHarness({ agents: false });
    number = (await h.call("GET", "/v1/projects/demo-project")).body.projectNumber;
    const p = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    p.bindings.push({ role: "roles/iam.denyAdmin", members: ["user:admin@warrant.local"] });
    p.bindings.push({ role: "roles/compute.instanceAdmin.v1", members: ["group:ops@example.com"] });
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } })).status,
      200,
    );
    await h.call("POST", "/warrant/v1/groups", {
      body: { email: "ops@example.com", members: ["user:olga@example.com", "group:leads@example.com"] },
    });
    await h.call("POST", "/warrant/v1/groups", {
      body: { email: "leads@example.com", members: ["user:lena@example.com"] },
    });
  });
  after(() => h.close());

  const rule = (r: Record<string, unknown>) => ({ rules: [{ denyRule: r }] });

  test("validation: principals, permissions, policy ids, conditions; nothing is written on a 400", async () => {
    const bad: [string, unknown, RegExp][] = [
      [
        "bad-perm",
        rule({
          deniedPrincipals: ["principalSet://goog/public:all"],
          deniedPermissions: ["storage.buckets.delete"],
        }),
        /not a deny permission/,
      ],
      [
        "bad-perm2",
        rule({
          deniedPrincipals: ["principalSet://goog/public:all"],
          deniedPermissions: ["storage.googleapis.com/buckets.nosuch"],
        }),
        /not supported in deny policies/,
      ],
      [
        "bad-who",
        rule({
          deniedPrincipals: ["user:a@example.com"],
          deniedPermissions: ["storage.googleapis.com/buckets.delete"],
        }),
        /not a principal identifier/,
      ],
      [
        "bad-exc",
        rule({
          deniedPrincipals: ["principalSet://goog/public:all"],
          exceptionPrincipals: ["principalSet://goog/public:all"],
          deniedPermissions: ["storage.googleapis.com/buckets.delete"],
        }),
        /not allowed in exceptionPrincipals/,
      ],
      [
        "bad-cond",
        rule({
          deniedPrincipals: ["principalSet://goog/public:all"],
          deniedPermissions: ["storage.googleapis.com/buckets.delete"],
          denialCondition: { title: "t", expression: "resource.matchTag(" },
        }),
        /denialCondition\.expression is invalid: syntax error at line 1/,
      ],
      [
        "Bad_Id",
        rule({
          deniedPrincipals: ["principalSet://goog/public:all"],
          deniedPermissions: ["storage.googleapis.com/buckets.delete"],
        }),
        /Invalid policyId/,
      ],
    ];
    for (const [id, body, msg] of bad) {
      const r = await h.call("POST", `${DOUBLE}?policyId=${id}`, { body });
      assert.equal(r.status, 400, `${id}: ${r.text}`);
      assert.equal(r.body.error.status, "INVALID_ARGUMENT");
      assert.match(r.body.error.message, msg, id);
    }
    const list = await h.call("GET", DOUBLE);
    assert.deepEqual(list.body, {});
    const folder = await h.call(
      "GET",
      "/v2/policies/cloudresourcemanager.googleapis.com%252Ffolders%252F123/denypolicies",
    );
    assert.equal(folder.status, 404);
  });

  test("a group exception exempts nested members; permission groups; both encodings and the project number name one policy", async () => {
    const created = await h.call("POST", `${DOUBLE}?policyId=no-stops`, {
      body: {
        displayName: "No stops",
        rules: [
          {
            description: "only leads stop machines",
            denyRule: {
              deniedPrincipals: ["principalSet://goog/group/ops@example.com"],
              exceptionPrincipals: ["principalSet://goog/group/leads@example.com"],
              deniedPermissions: ["compute.googleapis.com/instances.*"],
              exceptionPermissions: [
                "compute.googleapis.com/instances.get",
                "compute.googleapis.com/instances.list",
              ],
            },
          },
        ],
      },
    });
    assert.equal(created.status, 200, created.text);
    const name = `policies/cloudresourcemanager.googleapis.com%2Fprojects%2F${number}/denypolicies/no-stops`;
    assert.equal(created.body.response.name, name);
    for (const base of [
      DOUBLE,
      SINGLE,
      `/v2/policies/cloudresourcemanager.googleapis.com%252Fprojects%252F${number}/denypolicies`,
    ]) {
      const got = await h.call("GET", `${base}/no-stops`);
      assert.equal(got.status, 200, base);
      assert.equal(got.body.name, name);
    }

    const olga = await tokenAs(h, "user:olga@example.com");
    const lena = await tokenAs(h, "user:lena@example.com");
    const stop = await h.call("POST", `${VM}/stop?explain=true`, { token: olga, body: {} });
    assert.equal(stop.status, 403, stop.text);
    assert.match(
      stop.body.error.message,
      /denied compute\.googleapis\.com\/instances\.stop by deny policy .*no-stops \("No stops"\).*rule 0 \("only leads stop machines"\): deniedPermissions compute\.googleapis\.com\/instances\.\* and deniedPrincipals principalSet:\/\/goog\/group\/ops@example\.com match/,
    );
    assert.equal(stop.body.error.explanation.deniedBy.rule, 0);
    // An exception permission is not denied.
    assert.equal((await h.call("GET", VM, { token: olga })).status, 200);
    // The nested lead is exempt and stops the machine.
    assert.equal((await h.call("POST", `${VM}/stop`, { token: lena, body: {} })).status, 200);
    assert.equal((await h.call("POST", `${VM}/start`, { token: lena, body: {} })).status, 200);

    // testIamPermissions honours the deny.
    const tested = await h.call("POST", "/v1/projects/demo-project:testIamPermissions", {
      token: olga,
      body: { permissions: ["compute.instances.stop", "compute.instances.list"] },
    });
    assert.deepEqual(tested.body.permissions, ["compute.instances.list"]);

    // warrant iam explain names the deny rule.
    const why = await runCli([
      "iam",
      "explain",
      "--state-dir",
      h.stateDir,
      "--member=user:olga@example.com",
      "--permission=compute.instances.stop",
      "--resource=projects/demo-project/zones/us-central1-a/instances/demo-vm",
    ]);
    assert.equal(why.code, 1, why.stdout + why.stderr);
    assert.match(why.stdout, /Denied by a deny policy/);
    assert.match(why.stdout, /principal: {2}principalSet:\/\/goog\/group\/ops@example\.com/);
  });

  test("update and delete honour the etag; a stale one is 409 ABORTED", async () => {
    const got = (await h.call("GET", `${DOUBLE}/no-stops`)).body;
    const stale = await h.call("PUT", `${DOUBLE}/no-stops`, { body: { ...got, etag: "c3RhbGU=" } });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.status, "ABORTED");
    const upd = await h.call("PUT", `${DOUBLE}/no-stops`, { body: { ...got, displayName: "Renamed" } });
    assert.equal(upd.status, 200, upd.text);
    // The operation is done at once, and found at both paths Google documents.
    const opName: string = upd.body.name;
    const opId = opName.split("/").pop();
    for (const path of [
      `/v2/${opName.replaceAll("%2F", "%252F")}`,
      `/v2/policies/cloudresourcemanager.googleapis.com%252Fprojects%252Fdemo-project/operations/${opId}`,
    ]) {
      const op = await h.call("GET", path);
      assert.equal(op.status, 200, `${path}: ${op.text}`);
      assert.equal(op.body.done, true);
      assert.equal(op.body.response.displayName, "Renamed");
    }
    assert.equal(
      (await h.call("GET", `${DOUBLE.replace(/\/denypolicies$/, "")}/operations/0123456789abcdef`)).status,
      404,
    );
    assert.notEqual(upd.body.response.etag, got.etag);
    const staleDel = await h.call("DELETE", `${DOUBLE}/no-stops?etag=${encodeURIComponent(got.etag)}`);
    assert.equal(staleDel.status, 409);
    const del = await h.call(
      "DELETE",
      `${DOUBLE}/no-stops?etag=${encodeURIComponent(upd.body.response.etag)}`,
    );
    assert.equal(del.status, 200);
    const olga = await tokenAs(h, "user:olga@example.com");
    assert.equal(
      (await h.call("POST", `${VM}/stop`, { token: olga, body: {} })).status,
      200,
      "deny gone: the grant applies",
    );
    await h.call("POST", `${VM}/start`, { token: olga, body: {} });
  });

  test("a denial condition that cannot be evaluated (tag functions) applies the rule: fail closed", async () => {
    const r = await h.call("POST", `${DOUBLE}?policyId=tagged`, {
      body: rule({
        deniedPrincipals: ["principal://goog/subject/olga@example.com"],
        deniedPermissions: ["compute.googleapis.com/instances.stop"],
        denialCondition: { title: "prod only", expression: "resource.matchTag('123/env', 'prod')" },
      }),
    });
    assert.equal(r.status, 200, r.text);
    const olga = await tokenAs(h, "user:olga@example.com");
    const stop = await h.call("POST", `${VM}/stop`, { token: olga, body: {} });
    assert.equal(stop.status, 403);
    assert.match(stop.body.error.message, /cannot be evaluated.*so the rule applies/);
    const falseCond = await h.call("PUT", `${DOUBLE}/tagged`, {
      body: rule({
        deniedPrincipals: ["principal://goog/subject/olga@example.com"],
        deniedPermissions: ["compute.googleapis.com/instances.stop"],
        denialCondition: { title: "never", expression: "request.time < timestamp('2000-01-01T00:00:00Z')" },
      }),
    });
    assert.equal(falseCond.status, 200, falseCond.text);
    assert.equal((await h.call("POST", `${VM}/stop`, { token: olga, body: {} })).status, 200);
    await h.call("POST", `${VM}/start`, { token: olga, body: {} });
    await h.call("DELETE", `${DOUBLE}/tagged`);
  });

  test("an owner without roles/iam.denyAdmin cannot manage deny policies; the 403 names the v2 permission", async () => {
    const p = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    p.bindings.push({ role: "roles/owner", members: ["user:owen@example.com"] });
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } })).status,
      200,
    );
    const owen = await tokenAs(h, "user:owen@example.com");
    const r = await h.call("POST", `${DOUBLE}?policyId=sneaky`, {
      token: owen,
      body: rule({
        deniedPrincipals: ["principalSet://goog/public:all"],
        deniedPermissions: ["storage.googleapis.com/buckets.delete"],
      }),
    });
    assert.equal(r.status, 403);
    assert.match(
      r.body.error.message,
      /Permission iam\.googleapis\.com\/denypolicies\.create denied on resource cloudresourcemanager\.googleapis\.com\/projects\/\d+/,
    );
  });
});
