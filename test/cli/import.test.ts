/**
 * `warrant projects import` with a hand-written gcloud export (test/fixtures/gcloud-export, after
 * Google's documented formats): what can be carried over round-trips — reading it back from Warrant
 * gives the fixture's accounts, roles, bindings and deny rules — and every item that cannot is
 * reported with its reason.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";
import { runCli } from "./helpers.js";

const FIXTURES = join(import.meta.dirname, "../../../test/fixtures/gcloud-export");
const fixture = (f: string) => JSON.parse(readFileSync(join(FIXTURES, f), "utf8"));
const P = "acme-prod";

const canon = (c: object | undefined) => JSON.stringify(c ? Object.entries(c).sort() : null);

interface B {
  role: string;
  members: string[];
  condition?: { title?: string; description?: string; expression: string };
}

describe("warrant projects import", () => {
  let h: Harness;
  let out: { code: number; stdout: string; stderr: string };
  const cli = (...argv: string[]) =>
    runCli(argv, {
      cwd: FIXTURES,
      env: {
        WARRANT_ENDPOINT: h.url,
        WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
        WARRANT_CONFIG_DIR: join(h.stateDir, "cli-config"),
      },
    });

  before(async () => {
    h = await startHarness({ agents: false });
    // The administrator creates the project and may then manage its deny policies.
    const created = await cli("projects", "create", P);
    assert.equal(created.code, 0, created.stderr);
    const p = (await h.call("POST", `/v1/projects/${P}:getIamPolicy`, { body: {} })).body;
    p.bindings.push({ role: "roles/iam.denyAdmin", members: ["user:admin@warrant.local"] });
    assert.equal(
      (await h.call("POST", `/v1/projects/${P}:setIamPolicy`, { body: { policy: p } })).status,
      200,
    );
    out = await cli(
      "projects",
      "import",
      P,
      "--iam-policy=iam-policy.json",
      "--service-accounts=service-accounts.json",
      "--roles=roles.json",
      "--deny-policies=deny-policies.json",
    );
  });
  after(() => h.close());

  it("succeeds and reports what it could not carry over, with reasons", () => {
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /Imported into project \[acme-prod\]:/);
    assert.match(out.stdout, /service accounts: 2 /);
    assert.match(out.stdout, /custom roles: {5}2 /);
    assert.match(out.stdout, /deny policies: {4}1 \(restrict-bucket-deletion\)/);
    for (const reason of [
      /service account 123456789012-compute@developer\.gserviceaccount\.com: not a user-managed account/,
      /recreated with new unique ids and no keys/,
      /role projects\/acme-prod\/roles\/machineOperator: permission\(s\) cloudsql\.instances\.restart are not in Warrant's catalog/,
      /role projects\/acme-prod\/roles\/listedOnly: the export lists no includedPermissions/,
      /binding of projects\/acme-prod\/roles\/bucketLister: member deleted:serviceAccount:old-bot@acme-prod\.iam\.gserviceaccount\.com\?uid=\d+: a deleted principal/,
      /binding of roles\/bigquery\.dataViewer: the role does not exist in Warrant/,
      /deny policy listed-only: the export has no rules/,
      /group:sre@acme\.example: bound, but Warrant has no such group/,
      /user:owner@acme\.example: bound, but not in Warrant's user directory/,
    ])
      assert.match(out.stdout, reason);
  });

  it("the accounts round-trip (no keys; the disabled one disabled)", async () => {
    const got = (await h.call("GET", `/v1/projects/${P}/serviceAccounts`)).body.accounts as Record<
      string,
      unknown
    >[];
    for (const want of fixture("service-accounts.json").filter((a: { email: string }) =>
      a.email.endsWith(`@${P}.iam.gserviceaccount.com`),
    )) {
      const a = got.find((x) => x.email === want.email);
      assert.ok(a, want.email);
      assert.equal(a.displayName, want.displayName);
      assert.equal(a.description, want.description);
      assert.equal(a.disabled === true, want.disabled === true, want.email);
      assert.notEqual(a.uniqueId, want.uniqueId, "Warrant's own unique id");
      const keys = (
        await h.call("GET", `/v1/projects/${P}/serviceAccounts/${want.email}/keys?keyTypes=USER_MANAGED`)
      ).body;
      assert.deepEqual(keys.keys ?? [], []);
    }
  });

  it("the custom roles round-trip (catalog permissions)", async () => {
    for (const want of fixture("roles.json").filter(
      (r: { includedPermissions?: string[] }) => r.includedPermissions,
    )) {
      const r = await h.call("GET", `/v1/${want.name}`);
      assert.equal(r.status, 200, want.name);
      assert.equal(r.body.title, want.title);
      assert.equal(r.body.stage, want.stage);
      assert.deepEqual(
        [...r.body.includedPermissions].sort(),
        want.includedPermissions.filter((p: string) => !p.startsWith("cloudsql.")).sort(),
      );
    }
  });

  it("the policy round-trips: every carried binding, its condition included, is in the version-3 policy", async () => {
    const got = (
      await h.call("POST", `/v1/projects/${P}:getIamPolicy`, {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    assert.equal(got.version, 3);
    const has = (role: string, member: string, condition?: B["condition"]) =>
      (got.bindings as B[]).some(
        (b) => b.role === role && b.members.includes(member) && canon(b.condition) === canon(condition),
      );
    for (const b of fixture("iam-policy.json").bindings as B[]) {
      if (b.role === "roles/bigquery.dataViewer") continue;
      for (const m of b.members) {
        if (m.startsWith("deleted:")) continue;
        const cond = b.condition && {
          expression: b.condition.expression,
          title: b.condition.title,
          description: b.condition.description,
        };
        assert.ok(has(b.role, m, cond), `${b.role} ${m}`);
      }
    }
    // The installation's administrator kept the project.
    assert.ok(has("roles/owner", "user:admin@warrant.local"));
  });

  it("the deny policy round-trips and applies", async () => {
    const want = fixture("deny-policies.json")[0];
    const base = `/v2/policies/cloudresourcemanager.googleapis.com%252Fprojects%252F${P}/denypolicies`;
    const got = await h.call("GET", `${base}/restrict-bucket-deletion`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.displayName, want.displayName);
    assert.deepEqual(got.body.rules[0].denyRule.deniedPermissions, want.rules[0].denyRule.deniedPermissions);
    assert.deepEqual(
      got.body.rules[0].denyRule.exceptionPrincipals,
      want.rules[0].denyRule.exceptionPrincipals,
    );
    assert.equal(got.body.rules[0].description, want.rules[0].description);
    // It applies: the owner may not delete a bucket of the project.
    assert.equal(
      (await h.call("POST", `/storage/v1/b?project=${P}`, { body: { name: "acme-imported-b" } })).status,
      200,
    );
    const del = await h.call("DELETE", "/storage/v1/b/acme-imported-b");
    assert.equal(del.status, 403);
    assert.match(del.body.error.message, /restrict-bucket-deletion/);
  });

  it("an imported domain: binding lets a user of that domain view instances", async () => {
    // deployer holds compute.instanceAdmin.v1 directly; a domain user views instances.
    const viewer = await tokenAs(h, "user:someone@acme.example");
    const r = await h.call("GET", `/compute/v1/projects/${P}/zones/us-central1-a/instances`, {
      token: viewer,
    });
    assert.equal(r.status, 200, r.text);
  });

  it("importing again changes nothing and says the accounts and roles exist", async () => {
    const again = await cli(
      "projects",
      "import",
      P,
      "--service-accounts=service-accounts.json",
      "--roles=roles.json",
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      /service account deployer@acme-prod\.iam\.gserviceaccount\.com: already exists in Warrant/,
    );
    assert.match(again.stdout, /role projects\/acme-prod\/roles\/bucketLister: already exists in Warrant/);
  });
});
