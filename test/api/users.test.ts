/** The user directory: API, authorization, and that deleting, disabling or revoking ends a user's access. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { type Harness, mintWithServerKey, startHarness, tokenAs } from "../support/harness.js";

const RO = "https://www.googleapis.com/auth/cloud-platform.read-only";
const REVOKED = { error: "invalid_grant", error_description: "Token has been expired or revoked." };

interface Credential {
  type: string;
  client_id: string;
  client_secret: string;
  refresh_token: string;
  token_uri: string;
  account: string;
}

describe("users API", () => {
  let h: Harness;
  let issuer: string;
  before(async () => {
    h = await startHarness();
    issuer = JSON.parse(Buffer.from(h.adminToken.split(".")[1]!, "base64url").toString()).iss;
  });
  after(() => h.close());

  async function refresh(cred: Credential) {
    const res = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        client_id: cred.client_id,
        client_secret: cred.client_secret,
        refresh_token: cred.refresh_token,
      }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }

  async function issue(email: string, body: unknown = {}): Promise<Credential> {
    const r = await h.call("POST", `/warrant/v1/users/${email}:issueCredential`, { body });
    assert.equal(r.status, 200, r.text);
    return r.body;
  }

  async function create(email: string, displayName?: string) {
    const r = await h.call("POST", "/warrant/v1/users", {
      body: { email, ...(displayName ? { displayName } : {}) },
    });
    assert.equal(r.status, 200, r.text);
    return r.body;
  }

  /** 200 when the token works and may read demo-project, 401 when it is refused. */
  const readProject = async (token: string) =>
    (await h.call("GET", "/v1/projects/demo-project", { token })).status;

  async function grantViewer(email: string) {
    const p = await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
    const bindings = [...p.body.bindings, { role: "roles/viewer", members: [`user:${email}`] }];
    const s = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", {
      body: { policy: { bindings, etag: p.body.etag } },
    });
    assert.equal(s.status, 200, s.text);
  }

  test("the administrator is in the directory from the first start", async () => {
    const r = await h.call("GET", "/warrant/v1/users");
    assert.equal(r.status, 200, r.text);
    const admin = r.body.users.find((u: { email: string }) => u.email === "admin@warrant.local");
    assert.ok(admin, r.text);
    assert.equal(admin.state, "ACTIVE");
    assert.equal(admin.name, "users/admin@warrant.local");
  });

  test("create, get, list; duplicates, bad addresses and missing users get Google-shaped errors", async () => {
    const u = await create("Alice.Liddell@Example.com", "Alice");
    assert.deepEqual(
      { name: u.name, email: u.email, displayName: u.displayName, state: u.state },
      {
        name: "users/alice.liddell@example.com",
        email: "alice.liddell@example.com",
        displayName: "Alice",
        state: "ACTIVE",
      },
    );
    assert.ok(!Number.isNaN(Date.parse(u.createTime)));

    const dup = await h.call("POST", "/warrant/v1/users", { body: { email: "alice.liddell@example.com" } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.status, "ALREADY_EXISTS");

    for (const email of ["no-at-sign", "a@b", "a b@example.com", "x@demo.iam.gserviceaccount.com", 7]) {
      const bad = await h.call("POST", "/warrant/v1/users", { body: { email } });
      assert.equal(bad.status, 400, `${email}: ${bad.text}`);
      assert.equal(bad.body.error.status, "INVALID_ARGUMENT");
    }
    const longName = await h.call("POST", "/warrant/v1/users", {
      body: { email: "long@example.com", displayName: "x".repeat(101) },
    });
    assert.equal(longName.status, 400);

    const got = await h.call("GET", "/warrant/v1/users/ALICE.LIDDELL@example.com");
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.email, "alice.liddell@example.com");
    const missing = await h.call("GET", "/warrant/v1/users/nobody-here@example.com");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.status, "NOT_FOUND");

    const list = await h.call("GET", "/warrant/v1/users?pageSize=1");
    assert.equal(list.body.users.length, 1);
    assert.ok(list.body.nextPageToken);
    const rest = await h.call("GET", `/warrant/v1/users?pageSize=100&pageToken=${list.body.nextPageToken}`);
    const emails = [...list.body.users, ...rest.body.users].map((x: { email: string }) => x.email);
    assert.ok(
      emails.includes("alice.liddell@example.com") && emails.includes("admin@warrant.local"),
      emails.join(),
    );
  });

  test("reading needs projects.getIamPolicy and writing projects.setIamPolicy on the organization", async () => {
    // bob owns demo-project, which is not the organization.
    const bob = await tokenAs(h, "user:bob@example.com");
    const p = await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
    const bindings = [...p.body.bindings, { role: "roles/owner", members: ["user:bob@example.com"] }];
    await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: { bindings } } });

    const list = await h.call("GET", "/warrant/v1/users", { token: bob });
    assert.equal(list.status, 403);
    assert.match(list.body.error.message, /resourcemanager\.projects\.getIamPolicy on organizations\/\d+/);
    assert.match(list.body.error.message, /user:bob@example\.com/);
    const made = await h.call("POST", "/warrant/v1/users", {
      token: bob,
      body: { email: "eve@example.com" },
    });
    assert.equal(made.status, 403);
    assert.match(made.body.error.message, /resourcemanager\.projects\.setIamPolicy/);
    const issued = await h.call("POST", "/warrant/v1/users/bob@example.com:issueCredential", {
      token: bob,
      body: {},
    });
    assert.equal(issued.status, 403, "nobody issues themselves credentials without admin rights");
    const gone = await h.call("DELETE", "/warrant/v1/users/alice.liddell@example.com", { token: bob });
    assert.equal(gone.status, 403);
    assert.equal((await h.call("GET", "/warrant/v1/users/alice.liddell@example.com")).status, 200);

    // The owner with a read-only token may read the directory but not change it.
    const ro = await tokenAs(h, "user:admin@warrant.local", [RO]);
    assert.equal((await h.call("GET", "/warrant/v1/users", { token: ro })).status, 200);
    const roWrite = await h.call("POST", "/warrant/v1/users", {
      token: ro,
      body: { email: "ro@example.com" },
    });
    assert.equal(roWrite.status, 403);
    assert.equal(roWrite.body.error.errors[0].reason, "insufficientPermissions");
  });

  test("a token of a user the directory does not know is refused", async () => {
    const ghost = await mintWithServerKey(h, issuer, Date.now(), "user:ghost@example.com");
    const r = await h.call("GET", "/v1/projects", { token: ghost });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.status, "UNAUTHENTICATED");
  });

  test("issueCredential: an authorized_user credential whose refresh yields the user's tokens", async () => {
    await create("carol@example.com");
    const cred = await issue("carol@example.com", {
      scopes: ["https://www.googleapis.com/auth/cloud-platform"],
    });
    assert.equal(cred.type, "authorized_user");
    assert.equal(cred.token_uri, `${h.url}/token`);
    assert.equal(cred.account, "carol@example.com");
    assert.match(cred.refresh_token, /^1\/\//);
    assert.match(cred.client_id, /^warrant-adc-[0-9a-f]+\.apps\.warrant\.local$/);
    const t = await refresh(cred);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.scope, "https://www.googleapis.com/auth/cloud-platform");
    const info = await h.call("GET", `/oauth2/v3/tokeninfo?access_token=${t.body.access_token}`, {
      token: null,
    });
    assert.equal(info.body.email, "carol@example.com");
    assert.equal(info.body.azp, cred.client_id);

    // The server stores digests only.
    const db = new Database(join(h.stateDir, "warrant.db"), { readonly: true });
    try {
      const all = (db.prepare("SELECT value FROM documents").all() as { value: string }[]).map(
        (r) => r.value,
      );
      assert.ok(!all.some((v) => v.includes(cred.refresh_token) || v.includes(cred.client_secret)));
    } finally {
      db.close();
    }

    for (const [email, body, status] of [
      ["nobody-here@example.com", {}, 404],
      ["carol@example.com", { scopes: ["not a scope"] }, 400],
      ["carol@example.com", { scopes: [] }, 400],
      ["carol@example.com", { quotaProjectId: "X!" }, 400],
    ] as const) {
      const r = await h.call("POST", `/warrant/v1/users/${email}:issueCredential`, { body });
      assert.equal(r.status, status, `${email} ${JSON.stringify(body)}: ${r.text}`);
    }
  });

  test("revoking a credential: invalid_grant on refresh, its access tokens refused, other credentials unaffected", async () => {
    await create("dora@example.com");
    await grantViewer("dora@example.com");
    const one = await issue("dora@example.com");
    const two = await issue("dora@example.com");
    const t1 = (await refresh(one)).body.access_token!;
    const t2 = (await refresh(two)).body.access_token!;
    assert.equal(await readProject(t1), 200);

    const rv = await fetch(`${h.url}/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: one.refresh_token }),
    });
    assert.equal(rv.status, 200);
    assert.deepEqual(await rv.json(), {});
    const again = await refresh(one);
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, REVOKED);
    assert.equal(await readProject(t1), 401, "access tokens of the revoked credential are refused");
    assert.equal(await readProject(t2), 200, "the user's other credential still works");
    assert.equal((await refresh(two)).status, 200);

    const twice = await fetch(`${h.url}/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: one.refresh_token }),
    });
    // RFC 7009 §2.2: an already revoked (or unknown) token is answered 200 too, and stays dead.
    assert.equal(twice.status, 200);
    assert.deepEqual(await twice.json(), {});
    assert.deepEqual((await refresh(one)).body, REVOKED);
    const unknown = await fetch(`${h.url}/revoke?token=1//not-a-token-this-server-issued`, {
      method: "POST",
    });
    assert.equal(unknown.status, 200);
    assert.deepEqual(await unknown.json(), {});
    const missing = await fetch(`${h.url}/revoke`, { method: "POST" });
    assert.equal(missing.status, 400, "no token at all is still a malformed request");
    assert.equal(((await missing.json()) as { error: string }).error, "invalid_request");

    // Google's revoke also takes an access token: it revokes the credential it came from.
    const byAccess = await fetch(`${h.url}/o/oauth2/revoke?token=${t2}`, { method: "POST" });
    assert.equal(byAccess.status, 200);
    assert.equal(await readProject(t2), 401);
    assert.deepEqual((await refresh(two)).body, REVOKED);
  });

  test("deleting a user ends their tokens and credentials; re-creating the address revives nothing", async () => {
    await create("erin@example.com");
    await grantViewer("erin@example.com");
    const cred = await issue("erin@example.com");
    const token = (await refresh(cred)).body.access_token!;
    assert.equal(await readProject(token), 200);

    const del = await h.call("DELETE", "/warrant/v1/users/erin@example.com");
    assert.equal(del.status, 200, del.text);
    assert.equal(await readProject(token), 401);
    assert.deepEqual((await refresh(cred)).body, REVOKED);
    assert.equal((await h.call("DELETE", "/warrant/v1/users/erin@example.com")).status, 404);

    // Tokens are dated to the second: re-create in a later second than the token's.
    await new Promise((r) => setTimeout(r, 1100));
    await create("erin@example.com");
    assert.equal(await readProject(token), 401, "a token of the earlier erin stays refused");
    assert.equal((await refresh(cred)).status, 400, "and so does her credential");
    const fresh = (await refresh(await issue("erin@example.com"))).body.access_token!;
    assert.equal(await readProject(fresh), 403, "the new erin does not inherit the earlier erin's binding");

    const admin = await h.call("DELETE", "/warrant/v1/users/admin@warrant.local");
    assert.equal(admin.status, 400);
    assert.equal(admin.body.error.status, "FAILED_PRECONDITION");
    assert.equal((await h.call("GET", "/v1/projects")).status, 200);
  });

  test("disabling refuses tokens and refreshes; enabling restores refresh but not earlier tokens", async () => {
    await create("fay@example.com");
    await grantViewer("fay@example.com");
    const cred = await issue("fay@example.com");
    const before = (await refresh(cred)).body.access_token!;
    const dis = await h.call("POST", "/warrant/v1/users/fay@example.com:disable", { body: {} });
    assert.equal(dis.status, 200, dis.text);
    assert.equal(dis.body.state, "DISABLED");
    assert.equal(await readProject(before), 401);
    assert.deepEqual((await refresh(cred)).body, REVOKED);
    const noIssue = await h.call("POST", "/warrant/v1/users/fay@example.com:issueCredential", { body: {} });
    assert.equal(noIssue.status, 400);

    // Tokens are dated to the second: let the enable fall in a later second than `before`.
    await new Promise((r) => setTimeout(r, 1100));
    const en = await h.call("POST", "/warrant/v1/users/fay@example.com:enable", { body: {} });
    assert.equal(en.body.state, "ACTIVE");
    assert.equal(await readProject(before), 401, "a token from before the disable stays refused");
    const after = await refresh(cred);
    assert.equal(after.status, 200);
    assert.equal(await readProject(after.body.access_token!), 200);

    const adminOff = await h.call("POST", "/warrant/v1/users/admin@warrant.local:disable", { body: {} });
    assert.equal(adminOff.status, 400);
  });

  test("a state directory from before the user directory gets its administrator at the next start", async () => {
    await h.server.close();
    const db = new Database(join(h.stateDir, "warrant.db"));
    try {
      // The state as it was then: no users, policy members not bound to unique ids.
      const n = db.prepare("DELETE FROM documents WHERE kind = 'user'").run().changes;
      assert.ok(n >= 1);
      db.prepare("DELETE FROM documents WHERE kind = 'meta' AND key = 'members-bound-to-unique-ids'").run();
      for (const row of db.prepare("SELECT key, value FROM documents WHERE kind = 'policy'").all() as {
        key: string;
        value: string;
      }[])
        db.prepare("UPDATE documents SET value = ? WHERE kind = 'policy' AND key = ?").run(
          row.value.replace(/\?uid=\d+/g, ""),
          row.key,
        );
    } finally {
      db.close();
    }
    // A token of that time: no unique id in it (there is no user row to take one from).
    const adminToken = await mintWithServerKey(h, issuer, Date.now());
    await h.restart();
    const r = await h.call("GET", "/warrant/v1/users/admin@warrant.local", { token: adminToken });
    assert.equal(r.status, 200, "the admin's earlier token still works");
    assert.equal(r.body.state, "ACTIVE");
    const project = await h.call("GET", "/v1/projects/demo-project", { token: adminToken });
    assert.equal(project.status, 200, "the administrator's bindings were bound to the new unique id");
    const users = await h.call("GET", "/warrant/v1/users", { token: adminToken });
    assert.deepEqual(
      users.body.users.map((u: { email: string }) => u.email),
      ["admin@warrant.local"],
      "only the administrator is migrated",
    );
  });
});
