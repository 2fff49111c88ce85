/**
 * Attack: read audit entries one may not through `POST /v2/entries:list` (another project's, or
 * Data Access entries without logging.privateLogEntries.list) by naming one's own project and then
 * steering the reader: filters naming the other project, and forged page tokens pointing at every
 * line of the log. Also: learn another principal's bindings through the Policy Troubleshooter
 * without permission to read the policies.
 * Defence: every entry is checked against the caller's readable parents and logs as it is read,
 * whatever the position; a page token only positions the reader and is tied to its request.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const P = "demo-project";
const OTHER = "secret-project";

async function grant(h: Harness, role: string, member: string) {
  const policy = (await h.call("POST", `/v1/projects/${P}:getIamPolicy`, { body: {} })).body;
  policy.bindings.push({ role, members: [member] });
  assert.equal((await h.call("POST", `/v1/projects/${P}:setIamPolicy`, { body: { policy } })).status, 200);
}

describe("attack: audit entries read across projects and logs", () => {
  let h: Harness;
  let carol: string;
  before(async () => {
    h = await startHarness({ agents: false });
    assert.equal((await h.call("POST", "/v1/projects", { body: { projectId: OTHER } })).status, 200);
    for (let i = 0; i < 5; i++) {
      assert.equal((await h.call("GET", `/v1/projects/${OTHER}`)).status, 200);
      assert.equal(
        (
          await h.call("POST", `/v1/projects/${OTHER}/serviceAccounts`, {
            body: { accountId: `hidden-${i}` },
          })
        ).status,
        200,
      );
      assert.equal((await h.call("GET", `/v1/projects/${P}`)).status, 200);
    }
    carol = await tokenAs(h, "user:carol@example.com");
    // Admin Activity of demo-project only: no Data Access, nothing of secret-project.
    await grant(h, "roles/logging.viewer", "user:carol@example.com");
  });
  after(async () => h.close());

  const list = (body: Record<string, unknown>) => h.call("POST", "/v2/entries:list", { token: carol, body });
  const allowed = (e: { logName: string }) =>
    e.logName === `projects/${P}/logs/cloudaudit.googleapis.com%2Factivity`;

  it("naming the other project is refused; filters naming it find nothing", async () => {
    assert.equal((await list({ resourceNames: [`projects/${OTHER}`] })).status, 403);
    assert.equal((await list({ resourceNames: [`projects/${P}`, `projects/${OTHER}`] })).status, 403);
    for (const filter of [
      `protoPayload.resourceName:"${OTHER}"`,
      `logName="projects/${OTHER}/logs/cloudaudit.googleapis.com%2Factivity"`,
      `protoPayload.authorizationInfo.resource:"${OTHER}" OR severity>=DEFAULT`,
    ]) {
      const r = await list({ resourceNames: [`projects/${P}`], filter, pageSize: 1000 });
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.entries.every(allowed), `${filter}: ${r.text.slice(0, 300)}`);
      assert.doesNotMatch(r.text, /hidden-\d|secret-project/);
    }
  });

  it("forged page tokens at every line of the log return only what the caller may read", async () => {
    const first = await list({ resourceNames: [`projects/${P}`], pageSize: 1 });
    assert.equal(first.status, 200, first.text);
    const token = JSON.parse(Buffer.from(first.body.nextPageToken, "base64url").toString());
    const log = readFileSync(join(h.stateDir, "audit.log"));
    const starts = [0];
    for (let i = 0; i < log.length; i++) if (log[i] === 0x0a) starts.push(i + 1);
    // Line starts, and a few positions inside lines.
    const offsets = [...starts, ...starts.map((s) => s + 7), log.length + 1000];
    let seen = 0;
    for (const o of offsets) {
      const pageToken = Buffer.from(JSON.stringify({ ...token, o })).toString("base64url");
      const r = await list({ resourceNames: [`projects/${P}`], pageSize: 3, pageToken });
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.entries.every(allowed), `offset ${o}: ${r.text.slice(0, 300)}`);
      assert.doesNotMatch(r.text, /hidden-\d|secret-project|data_access/);
      seen += r.body.entries.length;
    }
    assert.ok(seen > 0, "the forged positions did read entries: only the allowed ones");
    // A token of another request, or of another shape, is refused.
    const other = await list({
      resourceNames: [`projects/${P}`],
      filter: "severity>=DEFAULT",
      pageToken: first.body.nextPageToken,
    });
    assert.equal(other.status, 400);
    const junk = Buffer.from(JSON.stringify({ ...token, o: "x" })).toString("base64url");
    assert.equal((await list({ resourceNames: [`projects/${P}`], pageToken: junk })).status, 400);
  });

  it("Data Access entries need logging.privateLogEntries.list, whatever the filter", async () => {
    const asked = await list({
      resourceNames: [`projects/${P}`],
      filter: `logName="projects/${P}/logs/cloudaudit.googleapis.com%2Fdata_access"`,
    });
    assert.equal(asked.status, 403, asked.text);
    const sneaky = await list({
      resourceNames: [`projects/${P}`],
      filter: `logName:"data_access" OR logName="projects/${P}/logs/cloudaudit.googleapis.com%2Fdata_access"`,
      pageSize: 1000,
    });
    assert.equal(sneaky.status, 200, sneaky.text);
    assert.deepEqual(sneaky.body.entries, []);
  });

  it("the troubleshooter shows no policy to a caller who may not read it", async () => {
    const r = await h.call("POST", "/v1/iam:troubleshoot", {
      token: carol,
      body: {
        accessTuple: {
          principal: "admin@warrant.local",
          fullResourceName: `//cloudresourcemanager.googleapis.com/projects/${OTHER}`,
          permission: "resourcemanager.projects.delete",
        },
      },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.access, "UNKNOWN_INFO_DENIED");
    assert.doesNotMatch(r.text, /roles\/|admin@warrant\.local|bindings|reason/);
  });
});
