import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { eventually } from "../support/poll.js";

// Forged, tampered and expired tokens: test/security/forged-token-signature.test.ts.

describe("authentication", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ accessTokenLifetimeSeconds: 1 });
  });
  after(() => h.close());

  const paths = [
    ["GET", "/v1/projects"],
    ["GET", "/v1/projects/demo-project/serviceAccounts"],
    ["POST", "/v1/projects/demo-project:getIamPolicy"],
    ["GET", "/compute/v1/projects/demo-project/zones/us-central1-a/instances"],
    ["GET", "/v1/projects/demo-project/roles"],
  ] as const;

  for (const [method, path] of paths) {
    test(`${method} ${path} without a token → 401 Login Required`, async () => {
      const r = await h.call(method, path, { token: null });
      assert.equal(r.status, 401);
      assert.equal(r.body.error.status, "UNAUTHENTICATED");
      assert.equal(r.body.error.errors[0].reason, "required");
      assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
    });
  }

  test("garbage and malformed headers → 401", async () => {
    assert.equal((await h.call("GET", "/v1/projects", { token: "not-a-jwt" })).status, 401);
    const r = await h.call("GET", "/v1/projects", { token: null, headers: { authorization: "Basic YTpi" } });
    assert.equal(r.status, 401);
  });

  test("token endpoint: wrong client secret → 401 invalid_client, bad refresh token → 400 invalid_grant", async () => {
    const cred = JSON.parse(readFileSync(h.server.adminCredentialFile, "utf8"));
    const post = (form: Record<string, string>) =>
      fetch(`${h.url}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8" },
        body: new URLSearchParams(form),
      });
    let r = await post({
      grant_type: "refresh_token",
      client_id: cred.client_id,
      client_secret: "nope",
      refresh_token: cred.refresh_token,
    });
    assert.equal(r.status, 401);
    assert.equal(((await r.json()) as { error: string }).error, "invalid_client");
    r = await post({
      grant_type: "refresh_token",
      client_id: cred.client_id,
      client_secret: cred.client_secret,
      refresh_token: "1//forged",
    });
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), {
      error: "invalid_grant",
      error_description: "Token has been expired or revoked.",
    });
    r = await post({ grant_type: "password" });
    assert.equal(((await r.json()) as { error: string }).error, "unsupported_grant_type");
    r = await post({ grant_type: "refresh_token", client_id: cred.client_id });
    assert.deepEqual(await r.json(), {
      error: "invalid_request",
      error_description: "Missing required parameter: client_secret",
    });
    r = await post({
      grant_type: "refresh_token",
      client_id: cred.client_id,
      client_secret: cred.client_secret,
      refresh_token: cred.refresh_token,
      scope: "https://evil.example/auth/everything",
    });
    assert.equal(r.status, 400);
    assert.equal(
      ((await r.json()) as { error: string }).error,
      "invalid_scope",
      "a scope the grant does not hold",
    );
    const ok = await post({
      grant_type: "refresh_token",
      client_id: cred.client_id,
      client_secret: cred.client_secret,
      refresh_token: cred.refresh_token,
    });
    const body = (await ok.json()) as Record<string, unknown>;
    assert.equal(body.token_type, "Bearer");
    assert.equal(body.expires_in, 1);
    assert.match(String(body.scope), /cloud-platform/);
  });

  test("the credential file is private and the audit log never holds tokens", async () => {
    const { statSync } = await import("node:fs");
    assert.equal(statSync(h.server.adminCredentialFile).mode & 0o777, 0o600);
    const cred = JSON.parse(readFileSync(h.server.adminCredentialFile, "utf8"));
    await h.call("GET", "/v1/projects/audit-marker-project?access_token=sneaky");
    // The audit line is written asynchronously: wait for this request's line, then read the log.
    const audit = await eventually(
      "the request audited",
      () => readFileSync(`${h.stateDir}/audit.log`, "utf8"),
      (log) => log.includes('"path":"/v1/projects/audit-marker-project"'),
    );
    assert.ok(!audit.includes("sneaky"));
    assert.ok(!audit.includes(cred.refresh_token));
    assert.ok(!audit.includes(h.adminToken));
  });
});
