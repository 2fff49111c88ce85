/**
 * Attack: get more than the OAuth scopes a credential was granted — by asking the token endpoint
 * for a broader scope than the refresh token holds, by writing with a read-only token, or by
 * minting a broader token for a service account with a narrow one. (The metadata server's side —
 * a workload asking for scopes its instance lacks gets the instance's scopes — is in
 * test/agent/mds.test.ts, "requested scopes narrow the token".)
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";

const AUTH = "https://www.googleapis.com/auth/";
const CLOUD = `${AUTH}cloud-platform`;
const RO = `${AUTH}cloud-platform.read-only`;
const STORAGE_RO = `${AUTH}devstorage.read_only`;
const BOB = "bob@example.com";
const P = "demo-project";

describe("attack: scope escalation", () => {
  let h: Harness;
  let bob: { client_id: string; client_secret: string; refresh_token: string };

  const refresh = async (cred: typeof bob, scope?: string) => {
    const r = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", ...cred, ...(scope ? { scope } : {}) }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, string> };
  };

  before(async () => {
    h = await startHarness({ agents: false });
    assert.equal((await h.call("POST", "/warrant/v1/users", { body: { email: BOB } })).status, 200);
    const policy = (await h.call("POST", `/v1/projects/${P}:getIamPolicy`, { body: {} })).body;
    policy.bindings.push({ role: "roles/storage.admin", members: [`user:${BOB}`] });
    assert.equal((await h.call("POST", `/v1/projects/${P}:setIamPolicy`, { body: { policy } })).status, 200);
    const issued = await h.call("POST", `/warrant/v1/users/${BOB}:issueCredential`, {
      body: { scopes: [STORAGE_RO] },
    });
    assert.equal(issued.status, 200, issued.text);
    bob = issued.body;
    assert.equal(
      (await h.call("POST", `/storage/v1/b?project=${P}`, { body: { name: "scope-bucket" } })).status,
      200,
    );
  });
  after(() => h.close());

  test("a refresh token granted a narrow scope cannot be refreshed into a broader one", async () => {
    for (const scope of [CLOUD, `${AUTH}devstorage.full_control`, `${STORAGE_RO} ${CLOUD}`, `${AUTH}iam`]) {
      const r = await refresh(bob, scope);
      assert.equal(r.status, 400, scope);
      assert.equal(r.body.error, "invalid_scope", scope);
      assert.equal(r.body.access_token, undefined);
    }
    const granted = await refresh(bob);
    assert.equal(granted.status, 200);
    assert.equal(granted.body.scope, STORAGE_RO, "without a scope parameter: exactly what was granted");
  });

  test("a read-only token cannot write, even for a principal whose roles allow it", async () => {
    const token = (await refresh(bob)).body.access_token!;
    const read = await h.call("GET", "/storage/v1/b/scope-bucket/o", { token });
    assert.equal(read.status, 200, "the read-only scope admits reads");
    const write = await h.call("POST", "/upload/storage/v1/b/scope-bucket/o?uploadType=media&name=x.txt", {
      token,
      body: "x",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(write.status, 403, write.text);
    assert.equal(write.body.error.errors[0].reason, "insufficientPermissions");
    const listed = await h.call("GET", "/storage/v1/b/scope-bucket/o");
    assert.equal(listed.body.items, undefined, "nothing was written");
  });

  test("the owner's token narrowed to cloud-platform.read-only cannot create, grant or mint", async () => {
    const admin = JSON.parse(
      (await import("node:fs")).readFileSync(h.server.adminCredentialFile, "utf8"),
    ) as typeof bob;
    const narrowed = await refresh(
      { client_id: admin.client_id, client_secret: admin.client_secret, refresh_token: admin.refresh_token },
      RO,
    );
    assert.equal(narrowed.status, 200);
    const token = narrowed.body.access_token!;
    assert.equal((await h.call("GET", `/v1/projects/${P}/serviceAccounts`, { token })).status, 200);

    const create = await h.call("POST", `/v1/projects/${P}/serviceAccounts`, {
      token,
      body: { accountId: "escalated-sa" },
    });
    assert.equal(create.status, 403, create.text);
    assert.equal(create.body.error.errors[0].reason, "insufficientPermissions");
    assert.match(create.body.error.message, /iam\.serviceAccounts\.create/);
    const gone = await h.call(
      "GET",
      `/v1/projects/${P}/serviceAccounts/escalated-sa@${P}.iam.gserviceaccount.com`,
    );
    assert.equal(gone.status, 404, "nothing was created");

    const policy = (await h.call("POST", `/v1/projects/${P}:getIamPolicy`, { token, body: {} })).body;
    const grant = await h.call("POST", `/v1/projects/${P}:setIamPolicy`, {
      token,
      body: {
        policy: {
          ...policy,
          bindings: [...policy.bindings, { role: "roles/owner", members: ["user:mallory@example.com"] }],
        },
      },
    });
    assert.equal(grant.status, 403, grant.text);

    // A broader token for a service account would launder the narrow scope: refused too.
    const mint = await h.call(
      "POST",
      `/v1/projects/-/serviceAccounts/demo-sa@${P}.iam.gserviceaccount.com:generateAccessToken`,
      {
        token,
        body: { scope: [CLOUD] },
      },
    );
    assert.equal(mint.status, 403, mint.text);
    assert.equal(mint.body.error.errors[0].reason, "insufficientPermissions");
  });
});
