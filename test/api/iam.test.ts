import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

describe("IAM v1 service accounts and roles, Resource Manager projects", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("create, get (by email and unique id, with project '-'), list with paging, patch, disable/enable, delete", async () => {
    const created = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "svc-alpha", serviceAccount: { displayName: "Alpha", description: "first" } },
    });
    assert.equal(created.status, 200, created.text);
    const sa = created.body;
    assert.equal(sa.email, "svc-alpha@demo-project.iam.gserviceaccount.com");
    assert.match(sa.uniqueId, /^1\d{20}$/);
    assert.equal(sa.name, `projects/demo-project/serviceAccounts/${sa.email}`);
    assert.equal(sa.oauth2ClientId, sa.uniqueId);

    const dup = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "svc-alpha" },
    });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.status, "ALREADY_EXISTS");

    for (const path of [
      `/v1/projects/-/serviceAccounts/${sa.email}`,
      `/v1/projects/-/serviceAccounts/${sa.uniqueId}`,
      `/v1/projects/demo-project/serviceAccounts/${encodeURIComponent(sa.email)}`,
    ]) {
      const got = await h.call("GET", path);
      assert.equal(got.status, 200, path);
      assert.equal(got.body.email, sa.email);
    }

    for (const n of ["svc-beta1", "svc-beta2", "svc-beta3"])
      assert.equal(
        (await h.call("POST", "/v1/projects/demo-project/serviceAccounts", { body: { accountId: n } }))
          .status,
        200,
      );
    const seen: string[] = [];
    let token = "";
    for (let i = 0; i < 10; i++) {
      const page = await h.call(
        "GET",
        `/v1/projects/demo-project/serviceAccounts?pageSize=2${token ? `&pageToken=${token}` : ""}`,
      );
      assert.equal(page.status, 200);
      assert.ok(page.body.accounts.length <= 2);
      seen.push(...page.body.accounts.map((a: { email: string }) => a.email));
      token = page.body.nextPageToken ?? "";
      if (!token) break;
    }
    assert.equal(new Set(seen).size, seen.length, "no account listed twice");
    assert.equal(seen.length, 6, "demo-sa, the default compute account, alpha and 3 betas");

    const patched = await h.call("PATCH", `/v1/projects/-/serviceAccounts/${sa.email}`, {
      body: { serviceAccount: { displayName: "Alpha 2" }, updateMask: "displayName" },
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.displayName, "Alpha 2");
    assert.equal(patched.body.description, "first", "fields outside the mask are kept");
    assert.notEqual(patched.body.etag, sa.etag);

    assert.equal(
      (await h.call("POST", `/v1/projects/-/serviceAccounts/${sa.email}:disable`, { body: {} })).status,
      200,
    );
    assert.equal((await h.call("GET", `/v1/projects/-/serviceAccounts/${sa.email}`)).body.disabled, true);
    assert.equal((await h.call("POST", `/v1/projects/-/serviceAccounts/${sa.email}:enable`)).status, 200);
    assert.equal(
      (await h.call("GET", `/v1/projects/-/serviceAccounts/${sa.email}`)).body.disabled,
      undefined,
    );

    assert.deepEqual((await h.call("DELETE", `/v1/projects/-/serviceAccounts/${sa.email}`)).body, {});
    const gone = await h.call("GET", `/v1/projects/-/serviceAccounts/${sa.email}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, "Unknown service account");
  });

  test("bad input → 400 naming the field; nothing is written", async () => {
    const cases: [unknown, RegExp][] = [
      [{ accountId: "ab" }, /between 6 and 30/],
      [{ accountId: "Bad_Name!" }, /must match/],
      [{}, /accountId is required/],
      [{ accountId: "okay-name", serviceAccount: { displayName: 5 } }, /displayName/],
      [{ accountId: "okay-name", serviceAccount: "x" }, /serviceAccount/],
    ];
    for (const [body, msg] of cases) {
      const r = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.status, "INVALID_ARGUMENT");
      assert.match(r.body.error.message, msg);
    }
    const r = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", { body: "{not json" });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.errors[0].reason, "parseError");
    const list = await h.call("GET", "/v1/projects/demo-project/serviceAccounts?pageSize=100");
    assert.ok(!list.body.accounts.some((a: { email: string }) => a.email.startsWith("okay-name")));
    assert.equal((await h.call("GET", "/v1/projects/demo-project/serviceAccounts?pageSize=-1")).status, 400);
    assert.equal(
      (await h.call("GET", "/v1/projects/demo-project/serviceAccounts?pageToken=%00")).status,
      400,
    );
  });

  test("unknown routes → 404 and wrong methods → 405, in Google's error shape", async () => {
    const r = await h.call("GET", "/v1/nothing/here");
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 404);
    const m = await h.call("PUT", "/v1/projects");
    assert.equal(m.status, 405);
    assert.match(m.headers.get("allow") ?? "", /GET/);
  });

  test("a principal without rights gets 403 naming permission and principal; list filters", async () => {
    const bob = await tokenAs(h, "user:bob@example.com");
    const r = await h.call("GET", "/v1/projects/demo-project/serviceAccounts", { token: bob });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.status, "PERMISSION_DENIED");
    assert.match(r.body.error.message, /iam\.serviceAccounts\.list/);
    assert.match(r.body.error.message, /user:bob@example\.com/);
    assert.equal(r.body.error.explanation, undefined, "details only on request");
    const explained = await h.call("GET", "/v1/projects/demo-project/serviceAccounts?explain=true", {
      token: bob,
    });
    assert.equal(explained.body.error.explanation.permission, "iam.serviceAccounts.list");
    assert.ok(
      explained.body.error.explanation.rolesThatGrantPermission.includes("roles/iam.serviceAccountUser"),
    );
    const projects = await h.call("GET", "/v1/projects", { token: bob });
    assert.deepEqual(projects.body, { projects: [] });
    const p = await h.call("GET", "/v1/projects/demo-project", { token: bob });
    assert.equal(p.status, 403);
    // A caller who may not see a project cannot tell a missing one from a hidden one.
    assert.equal((await h.call("GET", "/v1/projects/no-such-project", { token: bob })).status, 403);
    assert.equal((await h.call("GET", "/v1/projects/no-such-project")).status, 404);
  });

  test("a read-only scope blocks writes even for an owner", async () => {
    const ro = await tokenAs(h, "user:admin@warrant.local", [
      "https://www.googleapis.com/auth/cloud-platform.read-only",
    ]);
    assert.equal(
      (await h.call("GET", "/v1/projects/demo-project/serviceAccounts", { token: ro })).status,
      200,
    );
    const w = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      token: ro,
      body: { accountId: "scoped-out" },
    });
    assert.equal(w.status, 403);
    assert.equal(w.body.error.errors[0].reason, "insufficientPermissions");
    assert.match(w.body.error.message, /insufficient authentication scopes/);
  });

  test("projects: create makes the caller owner; get, list; bad ids are rejected", async () => {
    const r = await h.call("POST", "/v1/projects", { body: { projectId: "team-blue", name: "Team Blue" } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.done, true);
    assert.match(r.body.response.projectNumber, /^[1-9]\d{11}$/);
    assert.equal((await h.call("POST", "/v1/projects", { body: { projectId: "team-blue" } })).status, 409);
    const bad = await h.call("POST", "/v1/projects", { body: { projectId: "Team_Blue" } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /Invalid project ID/);
    const got = await h.call("GET", "/v1/projects/team-blue");
    assert.equal(got.body.lifecycleState, "ACTIVE");
    const pol = await h.call("POST", "/v1/projects/team-blue:getIamPolicy", {
      body: { options: { requestedPolicyVersion: 3 } },
    });
    assert.deepEqual(pol.body.bindings, [{ role: "roles/owner", members: ["user:admin@warrant.local"] }]);
    const bob = await tokenAs(h, "user:bob@example.com");
    const denied = await h.call("POST", "/v1/projects", { token: bob, body: { projectId: "bobs-project" } });
    assert.equal(denied.status, 403);
    assert.match(denied.body.error.message, /resourcemanager\.projects\.create/);
  });

  test("setIamPolicy: stale etag → 409 ABORTED; missing etag writes unconditionally; validation", async () => {
    const get = () => h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
    const p0 = (await get()).body;
    assert.match(p0.etag, /^[A-Za-z0-9+/]{11}=$/, "etag is canonical base64 of 8 bytes");
    const add = {
      ...p0,
      bindings: [...p0.bindings, { role: "roles/viewer", members: ["user:carol@example.com"] }],
    };
    const ok = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: add } });
    assert.equal(ok.status, 200, ok.text);
    assert.notEqual(ok.body.etag, p0.etag);
    const stale = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: add } });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.status, "ABORTED");
    const bad = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", {
      body: { policy: { bindings: [{ role: "roles/nope", members: ["user:x@y.z"] }] } },
    });
    assert.equal(bad.status, 400);
    assert.equal((await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: {} })).status, 400);
    const cur = (await get()).body;
    assert.ok(
      cur.bindings.some((b: { role: string }) => b.role === "roles/viewer"),
      "failed writes changed nothing",
    );
    assert.equal(cur.etag, ok.body.etag);
  });

  test("20 concurrent read-modify-write clients that retry on 409 all land", async () => {
    const members = Array.from({ length: 20 }, (_, i) => `user:racer${i}@example.com`);
    await Promise.all(
      members.map(async (member) => {
        for (let attempt = 0; attempt < 100; attempt++) {
          const p = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
          const bindings = p.bindings.map((b: { role: string; members: string[] }) =>
            b.role === "roles/browser" ? { ...b, members: [...b.members, member] } : b,
          );
          if (!bindings.some((b: { role: string }) => b.role === "roles/browser"))
            bindings.push({ role: "roles/browser", members: [member] });
          const r = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", {
            body: { policy: { ...p, bindings } },
          });
          if (r.status === 200) return;
          assert.equal(r.status, 409, r.text);
          await new Promise((res) => setTimeout(res, Math.random() * 20));
        }
        throw new Error(`${member} never landed`);
      }),
    );
    const final = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    const browsers = final.bindings.find((b: { role: string }) => b.role === "roles/browser").members;
    assert.deepEqual([...browsers].sort(), [...members].sort());
  });

  test("projects list pages never exceed pageSize and visit every visible project once", async () => {
    for (const id of ["page-one-a", "page-one-b", "page-one-c"])
      assert.equal((await h.call("POST", "/v1/projects", { body: { projectId: id } })).status, 200);
    const seen: string[] = [];
    let token = "";
    for (let i = 0; i < 20; i++) {
      const r = await h.call("GET", `/v1/projects?pageSize=2${token ? `&pageToken=${token}` : ""}`);
      assert.ok(r.body.projects.length <= 2);
      seen.push(...r.body.projects.map((p: { projectId: string }) => p.projectId));
      token = r.body.nextPageToken ?? "";
      if (!token) break;
    }
    assert.equal(new Set(seen).size, seen.length);
    for (const id of ["demo-project", "page-one-a", "page-one-b", "page-one-c"])
      assert.ok(seen.includes(id), id);
  });

  test("a conditional binding shows as such at version 3 and opaquely to version-1 readers", async () => {
    const p = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    const cond = { title: "until 2999", expression: "request.time < timestamp('2999-01-01T00:00:00Z')" };
    p.version = 3;
    p.bindings.push({ role: "roles/compute.viewer", members: ["user:cond@example.com"], condition: cond });
    const set = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } });
    assert.equal(set.status, 200, set.text);
    const v3 = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    assert.equal(v3.version, 3);
    assert.ok(
      v3.bindings.some((b: { condition?: unknown }) => JSON.stringify(b.condition) === JSON.stringify(cond)),
    );
    const v1 = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    assert.equal(v1.version, 1);
    assert.ok(v1.bindings.every((b: { condition?: unknown }) => b.condition === undefined));
    assert.ok(
      v1.bindings.some((b: { role: string }) => /^roles\/compute\.viewer_withcond_[0-9a-f]+$/.test(b.role)),
    );
    // Writing the opaque view back with its etag is refused as Google refuses it (version 1 < 3).
    const back = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: v1 } });
    assert.equal(back.status, 400);
    assert.match(
      back.body.error.message,
      /Specified policy version \(1\) cannot be less than the existing policy version \(3\)/,
    );
    // A blind write of it (no etag) keeps the condition: the opaque role maps back to its binding.
    const { etag: _e, ...blind } = v1;
    const kept = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: blind } });
    assert.equal(kept.status, 200, kept.text);
    assert.equal(kept.body.version, 3);
    assert.ok(
      kept.body.bindings.some(
        (b: { condition?: unknown }) => JSON.stringify(b.condition) === JSON.stringify(cond),
      ),
    );
    // Naming version 1 explicitly on a read of a conditional policy is refused.
    const explicit1 = await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
      body: { options: { requestedPolicyVersion: 1 } },
    });
    assert.equal(explicit1.status, 400);
    assert.match(
      explicit1.body.error.message,
      /Requested policy version \(1\) cannot be less than the existing policy version \(3\)/,
    );
    // The condition (until 2999) is true, so the binding grants.
    const token = await tokenAs(h, "user:cond@example.com");
    const r = await h.call("GET", "/compute/v1/projects/demo-project/zones/us-central1-a/instances", {
      token,
    });
    assert.equal(r.status, 200, r.text);
    // Remove the binding again so later tests see an unconditional policy.
    const now = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    now.bindings = now.bindings.filter((b: { condition?: unknown }) => !b.condition);
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: now } })).status,
      200,
    );
  });

  test("conditions are validated when set: syntax errors with their position, basic roles, allUsers, version", async () => {
    const base = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    const attempt = async (binding: Record<string, unknown>, version = 3) => {
      const policy = { ...base, version, bindings: [...base.bindings, binding] };
      return h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy } });
    };
    const syntax = await attempt({
      role: "roles/compute.viewer",
      members: ["user:x@example.com"],
      condition: { title: "bad", expression: 'resource.name.startsWith("a" ||' },
    });
    assert.equal(syntax.status, 400);
    assert.equal(syntax.body.error.status, "INVALID_ARGUMENT");
    assert.match(
      syntax.body.error.message,
      /condition\.expression is invalid: syntax error at line 1, column \d+/,
    );
    const unknown = await attempt({
      role: "roles/compute.viewer",
      members: ["user:x@example.com"],
      condition: { title: "bad", expression: "request.colour == 'red'" },
    });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /unknown attribute 'request\.colour'.* at line 1, column 8/);
    const basic = await attempt({
      role: "roles/viewer",
      members: ["user:x@example.com"],
      condition: { title: "t", expression: "true" },
    });
    assert.equal(basic.status, 400);
    assert.match(basic.body.error.message, /condition and a basic role/);
    const everyone = await attempt({
      role: "roles/compute.viewer",
      members: ["allUsers"],
      condition: { title: "t", expression: "true" },
    });
    assert.equal(everyone.status, 400);
    assert.match(everyone.body.error.message, /cannot include allUsers/);
    const v1 = await attempt(
      {
        role: "roles/compute.viewer",
        members: ["user:x@example.com"],
        condition: { title: "t", expression: "true" },
      },
      1,
    );
    assert.equal(v1.status, 400);
    assert.match(v1.body.error.message, /require policy version 3/);
    // Nothing was written by any of these.
    const after = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    assert.equal(after.etag, base.etag);
  });

  test("testIamPermissions returns the held subset", async () => {
    const bob = await tokenAs(h, "user:bob@example.com");
    const perms = ["resourcemanager.projects.get", "resourcemanager.projects.setIamPolicy"];
    const admin = await h.call("POST", "/v1/projects/demo-project:testIamPermissions", {
      body: { permissions: perms },
    });
    assert.deepEqual(admin.body, { permissions: perms });
    const b = await h.call("POST", "/v1/projects/demo-project:testIamPermissions", {
      token: bob,
      body: { permissions: perms },
    });
    assert.equal(b.status, 200, "testIamPermissions itself needs no permission");
    assert.deepEqual(b.body, {}, "an empty answer omits the field");
    const sa = await h.call(
      "POST",
      "/v1/projects/-/serviceAccounts/demo-sa@demo-project.iam.gserviceaccount.com:testIamPermissions",
      {
        body: { permissions: ["iam.serviceAccounts.actAs"] },
      },
    );
    assert.deepEqual(sa.body, { permissions: ["iam.serviceAccounts.actAs"] });
  });

  test("service-account IAM policy: a binding on the account grants actAs on it only", async () => {
    const email = "demo-sa@demo-project.iam.gserviceaccount.com";
    const p = (await h.call("POST", `/v1/projects/-/serviceAccounts/${email}:getIamPolicy`, { body: {} }))
      .body;
    assert.deepEqual(p, { version: 1, bindings: [], etag: "ACAB" });
    const set = await h.call("POST", `/v1/projects/-/serviceAccounts/${email}:setIamPolicy`, {
      body: {
        policy: {
          etag: p.etag,
          bindings: [{ role: "roles/iam.serviceAccountUser", members: ["user:dave@example.com"] }],
        },
      },
    });
    assert.equal(set.status, 200, set.text);
    const dave = await tokenAs(h, "user:dave@example.com");
    const t = await h.call("POST", `/v1/projects/-/serviceAccounts/${email}:testIamPermissions`, {
      token: dave,
      body: { permissions: ["iam.serviceAccounts.actAs", "iam.serviceAccounts.delete"] },
    });
    assert.deepEqual(t.body, { permissions: ["iam.serviceAccounts.actAs"] });
  });

  test("roles: predefined list/get with paging; custom roles CRUD and use in a policy", async () => {
    const page = await h.call("GET", "/v1/roles?pageSize=5");
    assert.equal(page.body.roles.length, 5);
    assert.equal(page.body.roles[0].includedPermissions, undefined, "BASIC view by default");
    assert.ok(page.body.nextPageToken);
    const full = await h.call("GET", "/v1/roles?pageSize=1&view=FULL");
    assert.ok(Array.isArray(full.body.roles[0].includedPermissions));
    const role = await h.call("GET", "/v1/roles/iam.serviceAccountUser");
    assert.ok(role.body.includedPermissions.includes("iam.serviceAccounts.actAs"));
    assert.equal((await h.call("GET", "/v1/roles/nope")).status, 404);

    const created = await h.call("POST", "/v1/projects/demo-project/roles", {
      body: {
        roleId: "instanceLister",
        role: { title: "Lister", includedPermissions: ["compute.instances.list"], stage: "GA" },
      },
    });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.body.name, "projects/demo-project/roles/instanceLister");
    const bad = await h.call("POST", "/v1/projects/demo-project/roles", {
      body: { roleId: "badRole", role: { includedPermissions: ["compute.instances.fly"] } },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /compute\.instances\.fly is not valid/);

    const p = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    p.bindings.push({
      role: "projects/demo-project/roles/instanceLister",
      members: ["user:erin@example.com"],
    });
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } })).status,
      200,
    );
    const erin = await tokenAs(h, "user:erin@example.com");
    const list = () =>
      h.call("GET", "/compute/v1/projects/demo-project/zones/us-central1-a/instances", { token: erin });
    assert.equal((await list()).status, 200);
    assert.equal(
      (await h.call("DELETE", "/v1/projects/demo-project/roles/instanceLister")).body.deleted,
      true,
    );
    assert.equal((await list()).status, 403, "a deleted custom role stops granting at once");
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project/roles/instanceLister:undelete")).status,
      200,
    );
    assert.equal((await list()).status, 200);
    const listed = await h.call("GET", "/v1/projects/demo-project/roles");
    assert.deepEqual(
      listed.body.roles.map((r: { name: string }) => r.name),
      ["projects/demo-project/roles/instanceLister"],
    );
  });
});
