/**
 * Deleted principals in policies, and serviceAccounts:undelete: getIamPolicy shows the bindings of
 * a deleted account as `deleted:serviceAccount:EMAIL?uid=ID` (project, service-account and bucket
 * policies); gcloud's read-modify-write sends them back and they are kept; undelete within 30 days
 * restores the account with its unique id, and its bindings apply again.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const PROJECT = "/v1/projects/demo-project";
const email = (id: string) => `${id}@demo-project.iam.gserviceaccount.com`;

describe("deleted members and undelete", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  async function createSa(id: string): Promise<string> {
    const r = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", { body: { accountId: id } });
    assert.equal(r.status, 200, r.text);
    return r.body.uniqueId;
  }
  const deleteSa = async (id: string) =>
    assert.equal((await h.call("DELETE", `/v1/projects/-/serviceAccounts/${email(id)}`)).status, 200);
  const undelete = (uid: string, project = "-") =>
    h.call("POST", `/v1/projects/${project}/serviceAccounts/${uid}:undelete`, { body: {} });

  const getPolicy = async (path = PROJECT) =>
    (await h.call("POST", `${path}:getIamPolicy`, { body: {} })).body;
  const setPolicy = (policy: unknown, path = PROJECT) =>
    h.call("POST", `${path}:setIamPolicy`, { body: { policy } });
  const membersOf = (policy: { bindings: { role: string; members: string[] }[] }, role: string) =>
    policy.bindings.find((b) => b.role === role)?.members ?? [];

  async function grant(role: string, member: string) {
    const p = await getPolicy();
    const r = await setPolicy({ bindings: [...p.bindings, { role, members: [member] }], etag: p.etag });
    assert.equal(r.status, 200, r.text);
  }

  test("undelete within 30 days restores the account and its bindings", async () => {
    const uid = await createSa("undel-sa");
    await grant("roles/viewer", `serviceAccount:${email("undel-sa")}`);
    assert.equal(
      (await h.call("GET", PROJECT, { token: await tokenAs(h, `serviceAccount:${email("undel-sa")}`) }))
        .status,
      200,
    );

    await deleteSa("undel-sa");
    const deleted = `deleted:serviceAccount:${email("undel-sa")}?uid=${uid}`;
    assert.ok(membersOf(await getPolicy(), "roles/viewer").includes(deleted));

    const r = await undelete(uid);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.restoredAccount.uniqueId, uid);
    assert.equal(r.body.restoredAccount.email, email("undel-sa"));
    const viewers = membersOf(await getPolicy(), "roles/viewer");
    assert.ok(viewers.includes(`serviceAccount:${email("undel-sa")}`), JSON.stringify(viewers));
    assert.ok(!viewers.includes(deleted));
    const token = await tokenAs(h, `serviceAccount:${email("undel-sa")}`);
    assert.equal((await h.call("GET", PROJECT, { token })).status, 200, "its binding applies again");
    assert.equal((await undelete(uid)).status, 404, "an account that is not deleted cannot be undeleted");
  });

  test("undelete is refused for a taken e-mail, an unknown or expired id, and a non-numeric id", async () => {
    const uid = await createSa("taken-sa");
    await deleteSa("taken-sa");
    await createSa("taken-sa");
    const taken = await undelete(uid);
    assert.equal(taken.status, 400, taken.text);
    assert.equal(taken.body.error.status, "FAILED_PRECONDITION");

    assert.equal((await undelete("123456789012345678901")).status, 404);
    const bad = await undelete("taken-sa@demo-project.iam.gserviceaccount.com");
    assert.equal(bad.status, 400, bad.text);

    const oldUid = await createSa("old-sa");
    await deleteSa("old-sa");
    const db = new Database(join(h.stateDir, "warrant.db"));
    try {
      const row = db
        .prepare("SELECT value FROM documents WHERE kind = 'deleted-service-account' AND key = ?")
        .get(oldUid) as { value: string };
      const record = JSON.parse(row.value);
      record.deleteTime = new Date(Date.now() - 31 * 86400_000).toISOString();
      db.prepare("UPDATE documents SET value = ? WHERE kind = 'deleted-service-account' AND key = ?").run(
        JSON.stringify(record),
        oldUid,
      );
    } finally {
      db.close();
    }
    assert.equal((await undelete(oldUid)).status, 404, "deleted more than 30 days ago");

    const stranger = await tokenAs(h, "user:stranger-undelete@example.com");
    const denied = await h.call("POST", `/v1/projects/-/serviceAccounts/${uid}:undelete`, {
      token: stranger,
      body: {},
    });
    assert.equal(denied.status, 403, "iam.serviceAccounts.undelete on the project is required");
  });

  test("read-modify-write keeps deleted: members; adding one anew or naming a missing account is refused", async () => {
    const uid = await createSa("rmw-sa");
    await grant("roles/browser", `serviceAccount:${email("rmw-sa")}`);
    await deleteSa("rmw-sa");
    const deleted = `deleted:serviceAccount:${email("rmw-sa")}?uid=${uid}`;

    // gcloud add-iam-policy-binding: read, add a binding, write everything back.
    const p = await getPolicy();
    assert.ok(membersOf(p, "roles/browser").includes(deleted));
    const written = await setPolicy({
      bindings: [...p.bindings, { role: "roles/iam.securityReviewer", members: ["user:rmw@example.com"] }],
      etag: p.etag,
    });
    assert.equal(written.status, 200, written.text);
    assert.ok(membersOf(written.body, "roles/browser").includes(deleted), "written back and kept");
    assert.ok(membersOf(await getPolicy(), "roles/browser").includes(deleted));

    const invented = await setPolicy({
      bindings: [{ role: "roles/owner", members: [`deleted:serviceAccount:${email("rmw-sa")}?uid=999`] }],
    });
    assert.equal(invented.status, 400, invented.text);
    const missing = await setPolicy({
      bindings: [{ role: "roles/owner", members: [`serviceAccount:${email("never-was")}`] }],
    });
    assert.equal(missing.status, 400, missing.text);
    assert.equal(missing.body.error.message, `Service account ${email("never-was")} does not exist.`);
    const uidOnLive = await setPolicy({
      bindings: [{ role: "roles/owner", members: [`serviceAccount:${email("rmw-sa")}?uid=${uid}`] }],
    });
    assert.equal(uidOnLive.status, 400, uidOnLive.text);

    // Removed before undelete: undelete does not bring the binding back.
    const q = await getPolicy();
    const pruned = q.bindings
      .map((b: { role: string; members: string[] }) => ({
        ...b,
        members: b.members.filter((m) => m !== deleted),
      }))
      .filter((b: { members: string[] }) => b.members.length > 0);
    assert.equal((await setPolicy({ bindings: pruned, etag: q.etag })).status, 200);
    assert.equal((await undelete(uid)).status, 200);
    assert.ok(!membersOf(await getPolicy(), "roles/browser").includes(`serviceAccount:${email("rmw-sa")}`));
  });

  test("service-account and bucket policies show deleted: members too", async () => {
    const uid = await createSa("gone-sa");
    await createSa("holder-sa");
    const holder = `/v1/projects/-/serviceAccounts/${email("holder-sa")}`;
    const member = `serviceAccount:${email("gone-sa")}`;
    assert.equal(
      (await setPolicy({ bindings: [{ role: "roles/iam.serviceAccountUser", members: [member] }] }, holder))
        .status,
      200,
    );
    const bucket = await h.call("POST", "/storage/v1/b?project=demo-project", {
      body: { name: "deleted-members-b" },
    });
    assert.equal(bucket.status, 200, bucket.text);
    const bp = await h.call("GET", "/storage/v1/b/deleted-members-b/iam");
    const put = await h.call("PUT", "/storage/v1/b/deleted-members-b/iam", {
      body: {
        ...bp.body,
        bindings: [...bp.body.bindings, { role: "roles/storage.objectViewer", members: [member] }],
      },
    });
    assert.equal(put.status, 200, put.text);

    await deleteSa("gone-sa");
    const deleted = `deleted:${member}?uid=${uid}`;
    assert.deepEqual(membersOf(await getPolicy(holder), "roles/iam.serviceAccountUser"), [deleted]);
    const after = await h.call("GET", "/storage/v1/b/deleted-members-b/iam");
    assert.deepEqual(membersOf(after.body, "roles/storage.objectViewer"), [deleted]);
  });
});
