/**
 * `warrant groups …` against a real server: create, nest, list, describe, remove, delete; and
 * `warrant iam explain` says through which group a member holds a role.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { runCli } from "./helpers.js";

describe("warrant groups", () => {
  let h: Harness;
  const cli = (...argv: string[]) =>
    runCli(argv, {
      env: {
        WARRANT_ENDPOINT: h.url,
        WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
        WARRANT_PROJECT: "demo-project",
        WARRANT_CONFIG_DIR: `${h.stateDir}/cli-config`,
      },
    });
  before(async () => {
    h = await startHarness({ agents: false });
  });
  after(() => h.close());

  it("creates, nests, lists, describes, removes and deletes", async () => {
    const c = await cli("groups", "create", "sre@example.com", "--display-name=SRE");
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stderr, /Created group \[sre@example\.com\]\./);
    assert.equal((await cli("groups", "create", "oncall@example.com")).code, 0);
    const nest = await cli("groups", "add-member", "sre@example.com", "--member=group:oncall@example.com");
    assert.equal(nest.code, 0, nest.stderr);
    const add = await cli("groups", "add-member", "oncall@example.com", "--member=user:nina@example.com");
    assert.equal(add.code, 0, add.stderr);
    const cycle = await cli("groups", "add-member", "oncall@example.com", "--member=group:sre@example.com");
    assert.notEqual(cycle.code, 0);
    assert.match(cycle.stderr, /would make a cycle/);
    const list = await cli("groups", "list", "--format=value(email)");
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.stdout.trim().split("\n").sort(), ["oncall@example.com", "sre@example.com"]);
    const table = await cli("groups", "list");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /sre@example\.com\s+SRE/);
    const d = await cli("groups", "describe", "oncall@example.com", "--format=json");
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(JSON.parse(d.stdout).members, ["user:nina@example.com"]);

    const bind = await cli(
      "projects",
      "add-iam-policy-binding",
      "demo-project",
      "--member=group:sre@example.com",
      "--role=roles/compute.instanceAdmin.v1",
    );
    assert.equal(bind.code, 0, bind.stderr);
    const why = await cli(
      "iam",
      "explain",
      "--state-dir",
      h.stateDir,
      "--member=user:nina@example.com",
      "--permission=compute.instances.stop",
      "--resource=projects/demo-project/zones/us-central1-a/instances/demo-vm",
    );
    assert.equal(why.code, 0, why.stdout + why.stderr);
    assert.match(why.stdout, /as a member of group:oncall@example\.com in group:sre@example\.com/);

    const rm = await cli("groups", "remove-member", "oncall@example.com", "--member=user:nina@example.com");
    assert.equal(rm.code, 0, rm.stderr);
    const denied = await cli(
      "iam",
      "explain",
      "--state-dir",
      h.stateDir,
      "--member=user:nina@example.com",
      "--permission=compute.instances.stop",
      "--resource=projects/demo-project/zones/us-central1-a/instances/demo-vm",
    );
    assert.equal(denied.code, 1, denied.stdout);
    const del = await cli("groups", "delete", "oncall@example.com", "--quiet");
    assert.equal(del.code, 0, del.stderr);
    assert.equal((await cli("groups", "describe", "oncall@example.com")).code, 1);
  });
});
