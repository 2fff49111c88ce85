/**
 * Enforcement modes: `enforce` fails denied calls; `audit-only` lets them through and records each
 * would-be denial in audit.log; `off` checks no scope or IAM, but still authenticates.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const BOB = "user:bob@example.com";
const ADMIN = "user:admin@warrant.local";
const RO = "https://www.googleapis.com/auth/devstorage.read_only";

interface Check {
  permission: string;
  resource: string;
  allowed: boolean;
  denial?: string;
  reason?: string;
  wouldDeny?: boolean;
}
interface Entry {
  kind: string;
  principal: string;
  method: string;
  path: string;
  status: number;
  checks?: Check[];
  wouldDeny?: boolean;
  enforcement?: string;
}

/** The newest request entry for method, path and principal; waits for the audit stream to land it. */
async function audited(h: Harness, method: string, path: string, principal: string): Promise<Entry> {
  const deadline = Date.now() + 5000;
  for (;;) {
    let text = "";
    try {
      text = readFileSync(join(h.stateDir, "audit.log"), "utf8");
    } catch {}
    const hit = text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Entry)
      .filter(
        (e) => e.kind === "request" && e.method === method && e.path === path && e.principal === principal,
      )
      .at(-1);
    if (hit) return hit;
    assert.ok(Date.now() < deadline, `no audit entry for ${principal} ${method} ${path}:\n${text}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("enforcement: enforce (default)", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("a caller without a role is refused, and the failed check carries its reason", async () => {
    const bob = await tokenAs(h, BOB);
    const r = await h.call("GET", "/v1/projects/demo-project", { token: bob });
    assert.equal(r.status, 403, r.text);
    const e = await audited(h, "GET", "/v1/projects/demo-project", BOB);
    assert.equal(e.status, 403);
    assert.equal(e.wouldDeny, undefined);
    assert.equal(e.enforcement, undefined);
    const check = e.checks?.find((c) => c.permission === "resourcemanager.projects.get");
    assert.ok(check, JSON.stringify(e));
    assert.equal(check.allowed, false);
    assert.equal(check.denial, "iam");
    assert.equal(check.wouldDeny, undefined);
    assert.match(check.reason ?? "", /user:bob@example\.com does not have resourcemanager\.projects\.get/);
  });

  test("list filtering hides what the caller may not see", async () => {
    const bob = await tokenAs(h, BOB);
    const r = await h.call("GET", "/v1/projects", { token: bob });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.projects ?? [], []);
  });

  test("a token without the scope is refused even for the owner", async () => {
    const ro = await tokenAs(h, ADMIN, [RO]);
    const r = await h.call("POST", "/storage/v1/b?project=demo-project", {
      token: ro,
      body: { name: "enforced-bucket-1" },
    });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.errors[0].reason, "insufficientPermissions");
  });
});

describe("enforcement: audit-only", () => {
  let h: Harness;
  let logs: string[];
  before(async () => {
    logs = [];
    h = await startHarness({ enforcement: "audit-only", log: (l) => logs.push(l) });
  });
  after(() => h.close());

  test("an IAM denial is allowed and logged as wouldDeny with the permission and reason", async () => {
    const bob = await tokenAs(h, BOB);
    const r = await h.call("GET", "/storage/v1/b?project=demo-project", { token: bob });
    assert.equal(r.status, 200, r.text);
    const e = await audited(h, "GET", "/storage/v1/b", BOB);
    assert.equal(e.status, 200);
    assert.equal(e.wouldDeny, true);
    assert.equal(e.enforcement, "audit-only");
    const check = e.checks?.find((c) => c.permission === "storage.buckets.list");
    assert.ok(check, JSON.stringify(e));
    assert.deepEqual(
      { ...check, reason: undefined },
      {
        permission: "storage.buckets.list",
        resource: "projects/demo-project",
        project: "demo-project",
        allowed: false,
        denial: "iam",
        wouldDeny: true,
        reason: undefined,
      },
    );
    assert.match(
      check.reason ?? "",
      /^user:bob@example\.com does not have storage\.buckets\.list on projects\/demo-project: .*Roles that grant it: roles\/storage\.viewer/,
    );
    assert.ok(
      logs.some((l) =>
        l.startsWith(
          "audit-only: would deny user:bob@example.com storage.buckets.list on projects/demo-project",
        ),
      ),
      logs.join("\n"),
    );
  });

  test("a scope denial is allowed and logged as wouldDeny", async () => {
    const ro = await tokenAs(h, ADMIN, [RO]);
    const r = await h.call("POST", "/storage/v1/b?project=demo-project", {
      token: ro,
      body: { name: "audit-only-bucket-1" },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.name, "audit-only-bucket-1");
    const e = await audited(h, "POST", "/storage/v1/b", ADMIN);
    assert.equal(e.wouldDeny, true);
    const check = e.checks?.find((c) => c.permission === "storage.buckets.create");
    assert.ok(check, JSON.stringify(e));
    assert.equal(check.allowed, false);
    assert.equal(check.denial, "scope");
    assert.equal(check.wouldDeny, true);
    assert.match(check.reason ?? "", /insufficient authentication scopes.*devstorage\.read_only/);
  });

  test("list filtering lets everything through and records what it would have hidden", async () => {
    const bob = await tokenAs(h, BOB);
    const r = await h.call("GET", "/v1/projects", { token: bob });
    assert.equal(r.status, 200, r.text);
    assert.ok(
      (r.body.projects as { projectId: string }[]).some((p) => p.projectId === "demo-project"),
      r.text,
    );
    const e = await audited(h, "GET", "/v1/projects", BOB);
    assert.equal(e.wouldDeny, true);
    assert.ok(
      e.checks?.some(
        (c) =>
          c.permission === "resourcemanager.projects.get" &&
          c.resource === "projects/demo-project" &&
          c.wouldDeny === true,
      ),
      JSON.stringify(e),
    );
  });

  test("an allowed call carries no wouldDeny", async () => {
    const r = await h.call("GET", "/v1/projects/demo-project/serviceAccounts");
    assert.equal(r.status, 200, r.text);
    const e = await audited(h, "GET", "/v1/projects/demo-project/serviceAccounts", ADMIN);
    assert.equal(e.wouldDeny, undefined);
    assert.ok(
      e.checks?.every((c) => c.allowed && c.wouldDeny === undefined),
      JSON.stringify(e),
    );
  });

  test("testIamPermissions still answers the truth", async () => {
    const bob = await tokenAs(h, BOB);
    const r = await h.call("POST", "/v1/projects/demo-project:testIamPermissions", {
      token: bob,
      body: { permissions: ["resourcemanager.projects.get"] },
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, {});
  });

  test("warrant logs read --would-deny lists exactly the let-through calls", async () => {
    await audited(h, "GET", "/v1/projects/demo-project/serviceAccounts", ADMIN);
    const r = await runCli(["logs", "read", "--state-dir", h.stateDir, "--would-deny", "--format=json"]);
    assert.equal(r.code, 0, r.stderr);
    const entries = JSON.parse(r.stdout) as Entry[];
    assert.ok(entries.length >= 3, r.stdout);
    assert.ok(
      entries.every((e) => e.wouldDeny === true && e.status === 200),
      r.stdout,
    );
    assert.ok(
      entries.some((e) => e.path === "/storage/v1/b" && e.principal === BOB),
      r.stdout,
    );
    const table = await runCli(["logs", "read", "--state-dir", h.stateDir, "--would-deny"]);
    assert.match(
      table.stdout,
      /user:bob@example\.com\s+GET \/storage\/v1\/b\s+200 \(would deny\)\s+storage\.buckets\.list/,
    );
  });
});

describe("enforcement: off", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ enforcement: "off" });
  });
  after(() => h.close());

  test("no IAM check: a caller without a role reads the project and lists buckets", async () => {
    const bob = await tokenAs(h, BOB);
    const p = await h.call("GET", "/v1/projects/demo-project", { token: bob });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.body.projectId, "demo-project");
    const b = await h.call("GET", "/storage/v1/b?project=demo-project", { token: bob });
    assert.equal(b.status, 200, b.text);
    const e = await audited(h, "GET", "/v1/projects/demo-project", BOB);
    assert.equal(e.enforcement, "off");
    assert.equal(e.checks, undefined);
  });

  test("no scope check", async () => {
    const ro = await tokenAs(h, ADMIN, [RO]);
    const r = await h.call("POST", "/storage/v1/b?project=demo-project", {
      token: ro,
      body: { name: "off-bucket-1" },
    });
    assert.equal(r.status, 200, r.text);
  });

  test("tokens are still authenticated", async () => {
    const bob = await tokenAs(h, BOB);
    const forged = `${bob.slice(0, -4)}AAAA`;
    const r = await h.call("GET", "/v1/projects/demo-project", { token: forged });
    assert.equal(r.status, 401, r.text);
    const none = await h.call("GET", "/v1/projects/demo-project", { token: null });
    assert.equal(none.status, 401, none.text);
  });
});
