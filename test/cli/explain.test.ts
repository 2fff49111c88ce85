/**
 * `warrant iam explain`: answers from the state directory alone, beside a running server and after
 * it stopped, and agrees with the server's own decisions.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { explainOffline } from "../../src/cli/explain.js";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";
import { runCli } from "./helpers.js";

const ALICE = "user:alice@example.com";
const BOB = "user:bob@example.com";
const DEMO_SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const SA_RESOURCE = `projects/demo-project/serviceAccounts/${DEMO_SA}`;
const VM = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
const BUCKET = "explain-bucket-1";

async function grant(h: Harness, path: string, role: string, member: string) {
  const got = await h.call("POST", `${path}:getIamPolicy`, { body: {} });
  assert.equal(got.status, 200, got.text);
  const policy = got.body as { bindings?: { role: string; members: string[] }[] };
  policy.bindings = [...(policy.bindings ?? []), { role, members: [member] }];
  const set = await h.call("POST", `${path}:setIamPolicy`, { body: { policy } });
  assert.equal(set.status, 200, set.text);
}

describe("warrant iam explain", () => {
  let dir: string;
  let h: Harness;
  let stopped = false;
  const explain = (...flags: string[]) => runCli(["iam", "explain", "--state-dir", dir, ...flags]);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "warrant-explain-"));
    h = await startHarness({ stateDir: dir, agents: false });
    await grant(h, "/v1/projects/demo-project", "roles/storage.viewer", ALICE);
    await grant(h, `/v1/projects/-/serviceAccounts/${DEMO_SA}`, "roles/iam.serviceAccountUser", ALICE);
    const b = await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: BUCKET } });
    assert.equal(b.status, 200, b.text);
  });
  after(async () => {
    if (!stopped) await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("allowed, beside the running server: exit 0, the granting role and where it is bound", async () => {
    const r = await explain(
      `--member=${ALICE}`,
      "--permission=storage.buckets.list",
      "--resource=projects/demo-project",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const lines = r.stdout.split("\n");
    assert.equal(lines[0], `ALLOWED: ${ALICE} has storage.buckets.list on projects/demo-project`);
    assert.equal(lines[1], `Reason: granted by roles/storage.viewer to ${ALICE} on projects/demo-project`);
    assert.ok(
      lines.includes(`  roles/storage.viewer on projects/demo-project: grants it (through member ${ALICE})`),
      r.stdout,
    );
    assert.doesNotMatch(r.stdout, /Suggested role/);
  });

  it("denied: exit 1, the reason, the bindings that would grant it, and the role to grant", async () => {
    const r = await explain(
      `--member=${BOB}`,
      "--permission=storage.buckets.list",
      "--resource=projects/demo-project",
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stdout,
      /^DENIED: user:bob@example\.com does not have storage\.buckets\.list on projects\/demo-project\n/,
    );
    assert.match(
      r.stdout,
      /\nReason: user:bob@example\.com does not have .*: no binding on the resource or its ancestors grants it\./,
    );
    assert.match(
      r.stdout,
      /\n {2}roles\/storage\.viewer on projects\/demo-project: user:bob@example\.com is not among its members \(user:alice@example\.com\)\n/,
    );
    assert.match(r.stdout, /\nSuggested role: roles\/storage\.viewer\n/);
    assert.match(
      r.stdout,
      /\nTo grant it: warrant projects add-iam-policy-binding demo-project --member=user:bob@example\.com --role=roles\/storage\.viewer\n/,
    );
  });

  it("a service account's own policy is part of its chain", async () => {
    const r = await explain(
      `--member=${ALICE}`,
      "--permission=iam.serviceAccounts.actAs",
      `--resource=${SA_RESOURCE}`,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`roles/iam\\.serviceAccountUser on ${SA_RESOURCE.replace(/\./g, "\\.")}: grants it`),
    );
    const other = await explain(
      `--member=${ALICE}`,
      "--permission=iam.serviceAccounts.actAs",
      "--resource=projects/-/serviceAccounts/nobody@demo-project.iam.gserviceaccount.com",
    );
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /Service account nobody@demo-project\.iam\.gserviceaccount\.com not found/);
  });

  it("a bucket's chain comes from its record, and projectOwner: members are resolved", async () => {
    const r = await explain(
      "--member=user:admin@warrant.local",
      "--permission=storage.buckets.get",
      `--resource=projects/_/buckets/${BUCKET}`,
      "--format=json",
    );
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.equal(e.allowed, true);
    assert.deepEqual(e.chain.map((c: { resource: string }) => c.resource).slice(0, 2), [
      `projects/_/buckets/${BUCKET}`,
      "projects/demo-project",
    ]);
    assert.ok(
      e.grantedBy.some(
        (g: { resource: string; member: string }) =>
          g.resource === `projects/_/buckets/${BUCKET}` && g.member === "projectOwner:demo-project",
      ),
      r.stdout,
    );
  });

  it("--format=json carries the decision as data", async () => {
    const r = await explain(
      `--member=${BOB}`,
      "--permission=compute.instances.get",
      `--resource=${VM}`,
      "--format=json",
    );
    assert.equal(r.code, 1, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.equal(e.allowed, false);
    assert.equal(e.principal, BOB);
    assert.equal(e.resource, VM);
    assert.equal(e.knownPermission, true);
    assert.deepEqual(e.grantedBy, []);
    assert.equal(e.suggestedRole, e.rolesThatGrantPermission[0]);
    assert.match(e.suggestedRole, /^roles\/compute\./);
    assert.ok(
      e.bindingsWithPermission.some(
        (b: { role: string; effect: string }) => b.role === "roles/owner" && b.effect === "not-a-member",
      ),
      r.stdout,
    );
  });

  it("agrees with the server's testIamPermissions", async () => {
    const permissions = [
      "resourcemanager.projects.get",
      "storage.buckets.list",
      "iam.serviceAccounts.actAs",
      "iam.serviceAccounts.list",
      "compute.instances.get",
    ];
    const outcomes = { allowed: 0, denied: 0 };
    for (const member of [ALICE, BOB, "user:admin@warrant.local", `serviceAccount:${DEMO_SA}`]) {
      const token = await tokenAs(h, member);
      for (const [path, resource] of [
        ["/v1/projects/demo-project", "projects/demo-project"],
        [`/v1/projects/-/serviceAccounts/${DEMO_SA}`, SA_RESOURCE],
      ] as const) {
        const r = await h.call("POST", `${path}:testIamPermissions`, { token, body: { permissions } });
        assert.equal(r.status, 200, r.text);
        const held: string[] = r.body.permissions ?? [];
        for (const p of permissions) {
          const e = await explainOffline(dir, member, p, resource);
          assert.equal(e.allowed, held.includes(p), `${member} ${p} ${resource}: server says ${held}`);
          outcomes[e.allowed ? "allowed" : "denied"]++;
        }
      }
    }
    assert.ok(outcomes.allowed >= 5 && outcomes.denied >= 5, JSON.stringify(outcomes));
  });

  it("sees a grant as soon as the server commits it", async () => {
    const before = await explain(`--member=${BOB}`, "--permission=compute.instances.get", `--resource=${VM}`);
    assert.equal(before.code, 1);
    await grant(h, "/v1/projects/demo-project", "roles/compute.viewer", BOB);
    const r = await explain(`--member=${BOB}`, "--permission=compute.instances.get", `--resource=${VM}`);
    assert.equal(r.code, 0, r.stdout);
    assert.match(
      r.stdout,
      /granted by roles\/compute\.viewer to user:bob@example\.com on projects\/demo-project/,
    );
  });

  it("warns about a permission no role knows, and suggests the closest", async () => {
    const r = await explain(
      `--member=${ALICE}`,
      "--permission=storage.buckets.lizt",
      "--resource=projects/demo-project",
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^WARNING: storage\.buckets\.lizt is not in the role catalog.*Did you mean storage\.buckets\.list\?/,
    );
    assert.match(r.stdout, /^DENIED/);
  });

  it("a conditional binding is evaluated: a false condition is shown with the attribute it saw", async () => {
    const got = await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
    const policy = got.body;
    policy.version = 3;
    policy.bindings.push({
      role: "roles/compute.viewer",
      members: ["user:carol@example.com"],
      condition: { title: "until-2020", expression: "request.time < timestamp('2020-01-01T00:00:00Z')" },
    });
    policy.bindings.push({
      role: "roles/compute.viewer",
      members: ["user:dave@example.com"],
      condition: { title: "web-only", expression: 'resource.name.endsWith("/instances/web-1")' },
    });
    const set = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy } });
    assert.equal(set.status, 200, set.text);
    const r = await explain(
      "--member=user:carol@example.com",
      "--permission=compute.instances.get",
      `--resource=${VM}`,
    );
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stdout,
      /\nReason: .*conditional binding not applied: roles\/compute\.viewer to user:carol@example\.com on projects\/demo-project: condition "until-2020" .* was false with request\.time = "/,
    );
    assert.match(
      r.stdout,
      /\n {2}roles\/compute\.viewer on projects\/demo-project: would grant it \(through user:carol@example\.com\) but its condition "until-2020" .*was false.*: grants nothing/,
    );
    const d = await explain(
      "--member=user:dave@example.com",
      "--permission=compute.instances.get",
      `--resource=${VM}`,
    );
    assert.equal(d.code, 1, d.stdout);
    assert.match(
      d.stdout,
      /condition "web-only" .* was false with resource\.name = "projects\/demo-project\/zones\/[^"]+\/instances\/[^"]+"/,
    );
  });

  it("explains an object: a prefix condition met grants, and the reason says so; outside the prefix it is denied", async () => {
    const got = await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
      body: { options: { requestedPolicyVersion: 3 } },
    });
    const policy = got.body;
    policy.version = 3;
    policy.bindings.push({
      role: "roles/storage.objectViewer",
      members: ["user:olive@example.com"],
      condition: {
        title: "reports",
        expression: `resource.name.startsWith("projects/_/buckets/${BUCKET}/objects/reports/")`,
      },
    });
    const set = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy } });
    assert.equal(set.status, 200, set.text);
    const yes = await explain(
      "--member=user:olive@example.com",
      "--permission=storage.objects.get",
      `--resource=projects/_/buckets/${BUCKET}/objects/reports/q1.csv`,
    );
    assert.equal(yes.code, 0, yes.stdout + yes.stderr);
    assert.match(
      yes.stdout,
      /Reason: granted by roles\/storage\.objectViewer to user:olive@example\.com on projects\/demo-project \(condition "reports" met\)/,
    );
    const no = await explain(
      "--member=user:olive@example.com",
      "--permission=storage.objects.get",
      `--resource=projects/_/buckets/${BUCKET}/objects/secret.txt`,
    );
    assert.equal(no.code, 1, no.stdout);
    assert.match(
      no.stdout,
      /was false with resource\.name = "projects\/_\/buckets\/explain-bucket-1\/objects\/secret\.txt"/,
    );
  });

  it("accepts catalog permissions with a longer service name", async () => {
    const r = await explain(
      "--member=user:admin@warrant.local",
      "--permission=iam.googleapis.com/workloadIdentityPools.get",
      "--resource=projects/demo-project",
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, "");
    assert.match(
      r.stdout,
      /^ALLOWED: .* has iam\.googleapis\.com\/workloadIdentityPools\.get on projects\/demo-project/,
    );
  });

  it("cannot-answer cases exit 2 with a clear message", async () => {
    const cases: [string[], RegExp][] = [
      [["--member=bob@example.com"], /argument --member: Invalid member 'bob@example\.com'/],
      [["--member=group:devs@example.com"], /'group:devs@example\.com' is a policy member, not a caller/],
      [["--member=user:not-an-email"], /argument --member: Invalid member/],
      [["--permission=storage"], /argument --permission: 'storage' is not a permission name/],
      [
        ["--permission=storage.buckets"],
        /argument --permission: 'storage\.buckets' is not a permission name/,
      ],
      [["--resource=projects/nope"], /Project nope not found in the datastore of/],
      [["--resource=buckets/x"], /argument --resource: unsupported resource 'buckets\/x'/],
      [
        ["--resource=projects/demo-project/zones/us-central1-a/instances/gone"],
        /Instance gone in zone us-central1-a/,
      ],
      [["--resource=projects/_/buckets/no-such-bucket"], /Bucket no-such-bucket not found/],
      [["--resource=organizations/1"], /Organization 1 not found .*its organization is organizations\/\d+/],
    ];
    for (const [flags, message] of cases) {
      const all = new Map(
        [
          `--member=${ALICE}`,
          "--permission=storage.buckets.list",
          "--resource=projects/demo-project",
          ...flags,
        ].map((f) => [f.slice(0, f.indexOf("=")), f] as const),
      );
      const r = await explain(...all.values());
      assert.equal(r.code, 2, `${flags}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^ERROR: \(warrant\.iam\.explain\) /);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, "");
    }
    const missing = await runCli(["iam", "explain", "--state-dir", dir, `--member=${ALICE}`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /argument --permission: Must be specified/);
  });

  it("--online asks the server's troubleshooter: the same verdict and reason as offline", async () => {
    const online = (...flags: string[]) =>
      runCli(["iam", "explain", "--online", ...flags], {
        env: { WARRANT_ENDPOINT: h.url, WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile },
      });
    const cases: [string, string, string][] = [
      [ALICE, "storage.buckets.list", "projects/demo-project"],
      [BOB, "storage.buckets.list", "projects/demo-project"],
      [ALICE, "iam.serviceAccounts.actAs", SA_RESOURCE],
    ];
    for (const [member, permission, resource] of cases) {
      const flags = [`--member=${member}`, `--permission=${permission}`, `--resource=${resource}`];
      const off = await explain(...flags);
      const on = await online(...flags);
      assert.equal(on.code, off.code, `${flags.join(" ")}: ${on.stdout}${on.stderr}`);
      assert.equal(on.stdout.split("\n")[0], off.stdout.split("\n")[0]);
      const reason = (s: string) => /^Reason: (.*)$/m.exec(s)?.[1];
      assert.ok(reason(on.stdout));
      assert.equal(reason(on.stdout), reason(off.stdout));
    }
    const json = await online(
      `--member=${BOB}`,
      "--permission=storage.buckets.list",
      "--resource=projects/demo-project",
      "--format=json",
    );
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).access, "NOT_GRANTED");
    const missing = await online(
      `--member=${BOB}`,
      "--permission=storage.buckets.list",
      "--resource=projects/nope-project",
    );
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /Project nope-project not found/);
  });

  it("works offline once the server has stopped; a missing datastore is exit 2", async () => {
    await h.close();
    stopped = true;
    const r = await explain(
      `--member=${ALICE}`,
      "--permission=storage.buckets.list",
      "--resource=projects/demo-project",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ALLOWED: .*\nReason: granted by roles\/storage\.viewer/);
    const empty = mkdtempSync(join(tmpdir(), "warrant-explain-empty-"));
    try {
      const none = await runCli(
        [
          "iam",
          "explain",
          `--member=${ALICE}`,
          "--permission=storage.buckets.list",
          "--resource=projects/demo-project",
        ],
        { env: { WARRANT_STATE_DIR: empty } },
      );
      assert.equal(none.code, 2);
      assert.match(none.stderr, new RegExp(`No Warrant datastore at ${join(empty, "warrant.db")}`));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
