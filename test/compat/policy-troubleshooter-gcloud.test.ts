/**
 * The real `gcloud policy-troubleshoot iam` against Warrant (it calls
 * `POST /v2alpha1/iam:troubleshoot`, pointed here by CLOUDSDK_API_ENDPOINT_OVERRIDES_POLICYTROUBLESHOOTER):
 * a grant, a denial, a conditional binding evaluated at --request-time.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING, gcloudEnv, runGcloud } from "../support/tools.js";

const PROJECT = "//cloudresourcemanager.googleapis.com/projects/demo-project";

describe("gcloud policy-troubleshoot iam against Warrant", { skip: GCLOUD ? false : GCLOUD_MISSING }, () => {
  let h: Harness;
  let dir: string;
  let n = 0;

  before(async () => {
    h = await startHarness({ agents: false });
    dir = mkdtempSync(join(tmpdir(), "warrant-gcloud-troubleshoot-"));
    await tokenAs(h, "user:erin@example.com");
    const p = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    p.version = 3;
    p.bindings.push({
      role: "roles/iam.serviceAccountAdmin",
      members: ["user:erin@example.com"],
      condition: { title: "before-2020", expression: 'request.time < timestamp("2020-01-01T00:00:00Z")' },
    });
    const set = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } });
    assert.equal(set.status, 200, set.text);
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gcloud(args: string[]) {
    const tokenFile = join(dir, `token-${++n}`);
    writeFileSync(tokenFile, h.adminToken, { mode: 0o600 });
    const env: NodeJS.ProcessEnv = gcloudEnv({
      home: dir,
      config: join(dir, `config-${n}`),
      project: "demo-project",
      tokenFile: tokenFile,
      endpoints: { policytroubleshooter: `${h.url}/` },
    });
    return runGcloud(args, env);
  }

  test("GRANTED for the owner, NOT_GRANTED for a stranger, with the policies that say why", async () => {
    const owner = await gcloud([
      "policy-troubleshoot",
      "iam",
      PROJECT,
      "--principal-email=admin@warrant.local",
      "--permission=resourcemanager.projects.getIamPolicy",
      "--format=json",
    ]);
    assert.equal(owner.code, 0, owner.stderr);
    const granted = JSON.parse(owner.stdout);
    assert.equal(granted.access, "GRANTED");
    assert.equal(granted.explainedPolicies[0].fullResourceName, PROJECT);
    const binding = granted.explainedPolicies[0].bindingExplanations.find(
      (b: { role: string }) => b.role === "roles/owner",
    );
    assert.equal(binding.access, "GRANTED");
    assert.equal(binding.memberships["user:admin@warrant.local"].membership, "MEMBERSHIP_INCLUDED");

    const stranger = await gcloud([
      "policy-troubleshoot",
      "iam",
      PROJECT,
      "--principal-email=nobody@example.com",
      "--permission=resourcemanager.projects.getIamPolicy",
      "--format=json",
    ]);
    assert.equal(stranger.code, 0, stranger.stderr);
    assert.equal(JSON.parse(stranger.stdout).access, "NOT_GRANTED");
  });

  test("a conditional binding: NOT_GRANTED now, GRANTED at a --request-time the condition admits", async () => {
    const args = [
      "policy-troubleshoot",
      "iam",
      PROJECT,
      "--principal-email=erin@example.com",
      "--permission=iam.serviceAccounts.create",
      "--format=json",
    ];
    const now = await gcloud(args);
    assert.equal(now.code, 0, now.stderr);
    const answer = JSON.parse(now.stdout);
    assert.equal(answer.access, "NOT_GRANTED");
    const b = answer.explainedPolicies[0].bindingExplanations.find(
      (x: { role: string }) => x.role === "roles/iam.serviceAccountAdmin",
    );
    assert.equal(b.condition.title, "before-2020");
    assert.equal(b.conditionExplanation.value, false);
    const then = await gcloud([...args, "--request-time=2019-06-01T00:00:00Z"]);
    assert.equal(then.code, 0, then.stderr);
    assert.equal(JSON.parse(then.stdout).access, "GRANTED");
  });
});
