/**
 * `warrant projects import` round-trips through the real gcloud: the hand-written export in
 * test/fixtures/gcloud-export is imported, then read back with the same gcloud commands that would
 * have produced it (`projects get-iam-policy`, `iam service-accounts list`, `iam roles describe`,
 * `iam policies get`); everything the import did not report as not carried over comes back equal.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING, gcloudEnv } from "../support/tools.js";

const run = promisify(execFile);
const skip = GCLOUD ? false : GCLOUD_MISSING;
const FIXTURES = join(import.meta.dirname, "../../../test/fixtures/gcloud-export");
const fixture = (f: string) => JSON.parse(readFileSync(join(FIXTURES, f), "utf8"));
const P = "acme-prod";
const canon = (c: object | undefined) => JSON.stringify(c ? Object.entries(c).sort() : null);

describe("projects import round-trips through the real gcloud", { skip }, () => {
  let h: Harness;
  let dir: string;
  before(async () => {
    h = await startHarness({ agents: false });
    dir = mkdtempSync(join(tmpdir(), "warrant-gcloud-import-"));
    writeFileSync(join(dir, "token"), h.adminToken, { mode: 0o600 });
    const cli = (...argv: string[]) =>
      runCli(argv, {
        cwd: FIXTURES,
        env: {
          WARRANT_ENDPOINT: h.url,
          WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
          WARRANT_CONFIG_DIR: join(dir, "warrant-config"),
        },
      });
    assert.equal((await cli("projects", "create", P)).code, 0);
    const p = (await h.call("POST", `/v1/projects/${P}:getIamPolicy`, { body: {} })).body;
    p.bindings.push({ role: "roles/iam.denyAdmin", members: ["user:admin@warrant.local"] });
    assert.equal(
      (await h.call("POST", `/v1/projects/${P}:setIamPolicy`, { body: { policy: p } })).status,
      200,
    );
    const out = await cli(
      "projects",
      "import",
      P,
      "--iam-policy=iam-policy.json",
      "--service-accounts=service-accounts.json",
      "--roles=roles.json",
      "--deny-policies=deny-policies.json",
    );
    assert.equal(out.code, 0, out.stderr);
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gcloud(args: string[]) {
    const { stdout } = await run(GCLOUD!, [...args, "--format=json"], {
      env: gcloudEnv({
        home: dir,
        config: join(dir, "config"),
        project: P,
        tokenFile: join(dir, "token"),
        endpoints: { iam: `${h.url}/`, cloudresourcemanager: `${h.url}/` },
      }),
      timeout: 90_000,
    });
    return JSON.parse(stdout);
  }

  test("gcloud projects get-iam-policy gives back every carried binding with its condition", async () => {
    const got = await gcloud(["projects", "get-iam-policy", P]);
    assert.equal(got.version, 3);
    for (const b of fixture("iam-policy.json").bindings) {
      if (b.role === "roles/bigquery.dataViewer") continue;
      for (const m of b.members.filter((x: string) => !x.startsWith("deleted:")))
        assert.ok(
          got.bindings.some(
            (g: { role: string; members: string[]; condition?: object }) =>
              g.role === b.role && g.members.includes(m) && canon(g.condition) === canon(b.condition),
          ),
          `${b.role} ${m}`,
        );
    }
  });

  test("gcloud iam service-accounts list gives back the accounts", async () => {
    const got = await gcloud(["iam", "service-accounts", "list"]);
    for (const want of fixture("service-accounts.json").filter((a: { email: string }) =>
      a.email.endsWith(`@${P}.iam.gserviceaccount.com`),
    )) {
      const a = got.find((x: { email: string }) => x.email === want.email);
      assert.ok(a, want.email);
      for (const k of ["displayName", "description", "projectId", "name"])
        assert.equal(a[k], want[k], `${want.email} ${k}`);
      assert.equal(a.disabled === true, want.disabled === true);
    }
  });

  test("gcloud iam roles describe gives back the custom roles", async () => {
    for (const want of fixture("roles.json").filter(
      (r: { includedPermissions?: string[] }) => r.includedPermissions,
    )) {
      const id = want.name.split("/").pop();
      const got = await gcloud(["iam", "roles", "describe", id, `--project=${P}`]);
      for (const k of ["name", "title", "description", "stage"]) assert.equal(got[k], want[k], `${id} ${k}`);
      assert.deepEqual(
        [...got.includedPermissions].sort(),
        want.includedPermissions.filter((p: string) => !p.startsWith("cloudsql.")).sort(),
      );
    }
  });

  test("gcloud iam policies get gives back the deny policy's rules", async () => {
    const want = fixture("deny-policies.json")[0];
    const got = await gcloud([
      "iam",
      "policies",
      "get",
      "restrict-bucket-deletion",
      `--attachment-point=cloudresourcemanager.googleapis.com/projects/${P}`,
      "--kind=denypolicies",
    ]);
    assert.equal(got.displayName, want.displayName);
    // gcloud leaves out empty lists, so the rules read back exactly as the export wrote them.
    assert.deepEqual(got.rules, want.rules);
  });
});
