/**
 * Workload identity federation over HTTP: pools and providers in IAM's REST shapes, the STS token
 * exchange against a local OIDC issuer, and federated principals in IAM bindings.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { type Issuer, startIssuer } from "../support/oidc-issuer.js";
import {
  bindOnBucket,
  createBucket,
  createFederation,
  exchange,
  type Federation,
  refusedExchanges,
  wipBase,
} from "../support/wif.js";

const ALLOWED = "wif-api-allowed";
const OTHER = "wif-api-other";

describe("workload identity federation", () => {
  let h: Harness;
  let issuer: Issuer;
  let fed: Federation;

  before(async () => {
    h = await startHarness({ agents: false });
    issuer = await startIssuer();
    fed = await createFederation(h, issuer);
    await createBucket(h, ALLOWED);
    await createBucket(h, OTHER);
    await bindOnBucket(
      h,
      ALLOWED,
      "roles/storage.objectViewer",
      `principalSet://iam.googleapis.com/${fed.pool}/attribute.repository/org/app`,
    );
  });
  after(async () => {
    await h.close();
    await issuer.close();
  });

  test("pools: create answers a done Operation; get, list, update, delete, undelete in IAM's shapes", async () => {
    const create = await h.call("POST", `${wipBase()}?workloadIdentityPoolId=shape-pool`, {
      body: { displayName: "Shapes", description: "d", disabled: false },
    });
    assert.equal(create.status, 200, create.text);
    assert.equal(create.body.done, true);
    const name = `projects/${fed.projectNumber}/locations/global/workloadIdentityPools/shape-pool`;
    assert.equal(create.body.response.name, name, "names use the project number");
    assert.match(create.body.name, new RegExp(`^${name}/operations/`));
    const op = await h.call("GET", `/v1/${create.body.name}`);
    assert.equal(op.status, 200, op.text);
    assert.deepEqual(op.body, create.body, "the operation is readable by GET (polling clients)");
    const missing = await h.call("GET", `/v1/${name}/operations/0123456789abcdef01234567`);
    assert.equal(missing.status, 404);
    const byNumber = await h.call("GET", `/v1/${name}`);
    assert.equal(byNumber.status, 200, byNumber.text);
    assert.deepEqual(
      {
        state: byNumber.body.state,
        disabled: byNumber.body.disabled,
        displayName: byNumber.body.displayName,
      },
      { state: "ACTIVE", disabled: false, displayName: "Shapes" },
    );
    const dup = await h.call("POST", `${wipBase()}?workloadIdentityPoolId=shape-pool`, { body: {} });
    assert.equal(dup.status, 409);
    const bad = await h.call("POST", `${wipBase()}?workloadIdentityPoolId=gcp-x1`, { body: {} });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /reserved/);
    const upd = await h.call("PATCH", `${wipBase()}/shape-pool?updateMask=displayName`, {
      body: { displayName: "Renamed", description: "not masked" },
    });
    assert.equal(upd.status, 200, upd.text);
    assert.equal(upd.body.response.displayName, "Renamed");
    assert.equal(upd.body.response.description, "d", "only masked fields change");
    const del = await h.call("DELETE", `${wipBase()}/shape-pool`);
    assert.equal(del.status, 200, del.text);
    const listed = await h.call("GET", `${wipBase()}?showDeleted=False`);
    assert.ok(!listed.body.workloadIdentityPools.some((p: { name: string }) => p.name === name));
    const withDeleted = await h.call("GET", `${wipBase()}?showDeleted=True`);
    const deleted = withDeleted.body.workloadIdentityPools.find((p: { name: string }) => p.name === name);
    assert.equal(deleted.state, "DELETED");
    assert.ok(deleted.expireTime);
    const undel = await h.call("POST", `${wipBase()}/shape-pool:undelete`, { body: {} });
    assert.equal(undel.status, 200, undel.text);
    assert.equal(undel.body.response.state, "ACTIVE");
  });

  test("providers: validation of mapping, CEL, issuer and JWKS; update applies only masked fields", async () => {
    const url = `${wipBase()}/ci-pool/providers`;
    const base = { attributeMapping: { "google.subject": "assertion.sub" }, oidc: { issuerUri: issuer.url } };
    for (const [body, pattern] of [
      [{ ...base, attributeMapping: { "attribute.x": "assertion.x" } }, /google\.subject/],
      [{ ...base, attributeMapping: { "google.subject": "assertion.sub ==" } }, /not valid CEL/],
      [{ ...base, attributeCondition: "assertion.a &&" }, /attributeCondition is not valid CEL/],
      [{ ...base, oidc: { issuerUri: "http://issuer.example" } }, /https/],
      [{ ...base, oidc: { issuerUri: issuer.url, jwksJson: "{}" } }, /keys/],
      [
        { ...base, attributeMapping: { "google.subject": "assertion.sub", "attribute.Bad": "1" } },
        /invalid attribute/,
      ],
    ] as const) {
      const r = await h.call("POST", `${url}?workloadIdentityPoolProviderId=bad-prov`, { body });
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.text}`);
      assert.match(r.body.error.message, pattern);
    }
    const got = await h.call("GET", `${url}/ci-oidc`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.oidc.issuerUri, issuer.url);
    const upd = await h.call("PATCH", `${url}/ci-oidc?updateMask=oidc.allowedAudiences`, {
      body: { disabled: true, oidc: { allowedAudiences: ["aud-x"] } },
    });
    assert.equal(upd.status, 200, upd.text);
    assert.deepEqual(upd.body.response.oidc.allowedAudiences, ["aud-x"]);
    assert.equal(upd.body.response.disabled, false, "disabled was not in the mask");
    const back = await h.call("PATCH", `${url}/ci-oidc?updateMask=oidc.allowedAudiences`, {
      body: { oidc: { allowedAudiences: [] } },
    });
    assert.equal(back.status, 200, back.text);
    assert.equal(back.body.response.oidc.allowedAudiences, undefined);
    const list = await h.call("GET", `${url}?showDeleted=False`);
    assert.deepEqual(
      list.body.workloadIdentityPoolProviders.map((p: { name: string }) => p.name),
      [fed.provider],
    );
  });

  test("STS: a valid subject token is exchanged; the federated token reads what its principalSet may", async () => {
    const token = await issuer.sign({ sub: "repo:org/app", aud: fed.audience, repository: "org/app" });
    const r = await exchange(h, { audience: fed.audience, subject_token: `${token}\n` });
    assert.equal(r.status, 200, r.text);
    const body = r.body as Record<string, unknown>;
    assert.equal(body.token_type, "Bearer");
    assert.equal(body.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
    assert.ok(typeof body.expires_in === "number" && body.expires_in > 0 && body.expires_in <= 600);
    const at = body.access_token as string;
    const ok = await h.call("GET", `/storage/v1/b/${ALLOWED}/o`, { token: at });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(
      ok.body.items.map((i: { name: string }) => i.name),
      ["hello.txt"],
    );
    const no = await h.call("GET", `/storage/v1/b/${OTHER}/o`, { token: at });
    assert.equal(no.status, 403, no.text);
    assert.match(
      no.text,
      /principal:\/\/iam\.googleapis\.com\/projects\/\d+\/locations\/global\/workloadIdentityPools\/ci-pool\/subject\/repo:org\/app/,
    );
    // Another repository of the same pool is not in the set.
    const other = await issuer.sign({ sub: "repo:org/other", aud: fed.audience, repository: "org/other" });
    const r2 = await exchange(h, { audience: fed.audience, subject_token: other });
    assert.equal(r2.status, 200, r2.text);
    const denied = await h.call("GET", `/storage/v1/b/${ALLOWED}/o`, {
      token: (r2.body as { access_token: string }).access_token,
    });
    assert.equal(denied.status, 403);
    const intro = await fetch(`${h.url}/v1/introspect`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        token: at,
        token_type_hint: "urn:ietf:params:oauth:token-type:access_token",
      }),
    });
    const info = (await intro.json()) as Record<string, unknown>;
    assert.equal(info.active, true);
    assert.equal(info.username, `principal://iam.googleapis.com/${fed.pool}/subject/repo:org/app`);
  });

  test("STS refusals: each a clear OAuth error with its reason, each audited", async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = { sub: "repo:org/app", aud: fed.audience, repository: "org/app" };
    const cases: [string, Record<string, string>, number, string, RegExp][] = [
      [
        "wrong audience",
        { subject_token: await issuer.sign({ ...good, aud: "someone-else" }) },
        400,
        "invalid_grant",
        /audience/,
      ],
      [
        "expired",
        { subject_token: await issuer.sign({ ...good, iat: now - 7200, exp: now - 3600 }) },
        400,
        "invalid_grant",
        /expired/,
      ],
      [
        "future iat",
        { subject_token: await issuer.sign({ ...good, iat: now + 3600, exp: now + 7200 }) },
        400,
        "invalid_grant",
        /future/,
      ],
      [
        "too long",
        { subject_token: await issuer.sign({ ...good, iat: now, exp: now + 49 * 3600 }) },
        400,
        "invalid_grant",
        /48 hours/,
      ],
      [
        "issuer mismatch",
        { subject_token: await issuer.sign({ ...good, iss: "https://evil.example" }) },
        400,
        "invalid_grant",
        /issuer/,
      ],
      [
        "unknown key",
        { subject_token: await issuer.sign(good, { kid: "rogue", key: issuer.rogue }) },
        400,
        "invalid_grant",
        /does not trust/,
      ],
      [
        "forged with a known kid",
        { subject_token: await issuer.sign(good, { key: issuer.rogue }) },
        400,
        "invalid_grant",
        /signature/,
      ],
      [
        "no subject",
        { subject_token: await issuer.sign({ ...good, sub: undefined }) },
        400,
        "invalid_grant",
        /google\.subject/,
      ],
      [
        "subject over 127 bytes",
        { subject_token: await issuer.sign({ ...good, sub: "x".repeat(128) }) },
        400,
        "invalid_grant",
        /127/,
      ],
      [
        "unknown provider",
        { audience: `${fed.audience.replace(/ci-oidc$/, "nope-prov")}` },
        400,
        "invalid_target",
        /does not exist/,
      ],
      ["malformed audience", { audience: "ci-oidc" }, 400, "invalid_request", /audience/],
      [
        "wrong token type",
        { subject_token_type: "urn:ietf:params:oauth:token-type:saml2" },
        400,
        "invalid_request",
        /subject_token_type/,
      ],
    ];
    const valid = await issuer.sign(good);
    for (const [what, fields, status, error, reason] of cases) {
      const r = await exchange(h, { audience: fed.audience, subject_token: valid, ...fields });
      assert.equal(r.status, status, `${what}: ${r.text}`);
      const body = r.body as { error: string; error_description: string };
      assert.equal(body.error, error, what);
      assert.match(body.error_description, reason, what);
    }
    const audit = await refusedExchanges(h, cases.length);
    assert.ok(audit.length >= cases.length, `every refusal audited (${audit.length})`);
    assert.ok(
      !readFileSync(join(h.stateDir, "audit.log"), "utf8").includes(valid.split(".")[2]!),
      "no subject token in the audit log",
    );
  });

  test("an attribute condition admits one subject token and refuses another with the reason", async () => {
    const cond = await createFederation(h, issuer, {
      providerId: "cond-oidc",
      attributeCondition: "assertion.repository == 'org/app'",
      inlineJwks: true,
    });
    const yes = await exchange(h, {
      audience: cond.audience,
      subject_token: await issuer.sign(
        { sub: "s1", aud: cond.audience, repository: "org/app" },
        { alg: "ES256" },
      ),
    });
    assert.equal(yes.status, 200, yes.text);
    const no = await exchange(h, {
      audience: cond.audience,
      subject_token: await issuer.sign({ sub: "s2", aud: cond.audience, repository: "org/evil" }),
    });
    assert.equal(no.status, 400);
    assert.equal((no.body as { error: string }).error, "invalid_grant");
    assert.match(
      (no.body as { error_description: string }).error_description,
      /attribute condition .*is false/,
    );
    const err = await exchange(h, {
      audience: cond.audience,
      subject_token: await issuer.sign({ sub: "s3", aud: cond.audience }),
    });
    assert.equal(err.status, 400);
    assert.match((err.body as { error_description: string }).error_description, /could not be evaluated/);
  });

  test("a service account with roles/iam.workloadIdentityUser: the federated token impersonates it", async () => {
    const sa = "wif-runner@demo-project.iam.gserviceaccount.com";
    const c = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "wif-runner" },
    });
    assert.equal(c.status, 200, c.text);
    const subject = `principal://iam.googleapis.com/${fed.pool}/subject/repo:org/deployer`;
    const set = await h.call("POST", `/v1/projects/demo-project/serviceAccounts/${sa}:setIamPolicy`, {
      body: { policy: { bindings: [{ role: "roles/iam.workloadIdentityUser", members: [subject] }] } },
    });
    assert.equal(set.status, 200, set.text);
    await bindOnBucket(h, OTHER, "roles/storage.objectViewer", `serviceAccount:${sa}`);
    const sts = async (sub: string) => {
      const r = await exchange(h, {
        audience: fed.audience,
        scope: "https://www.googleapis.com/auth/iam",
        subject_token: await issuer.sign({ sub, aud: fed.audience, repository: "org/deploy" }),
      });
      assert.equal(r.status, 200, r.text);
      return (r.body as { access_token: string }).access_token;
    };
    const gen = (token: string) =>
      h.call("POST", `/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`, {
        token,
        body: {
          delegates: null,
          scope: ["https://www.googleapis.com/auth/cloud-platform"],
          lifetime: "3600s",
        },
      });
    const ok = await gen(await sts("repo:org/deployer"));
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.body.expireTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const list = await h.call("GET", `/storage/v1/b/${OTHER}/o`, { token: ok.body.accessToken });
    assert.equal(list.status, 200, list.text);
    const refused = await gen(await sts("repo:org/intruder"));
    assert.equal(refused.status, 403, refused.text);
  });

  test("disabling the pool stops exchanges and the tokens already issued; disabling a provider stops exchanges only", async () => {
    await createFederation(h, issuer, { poolId: "off-pool", providerId: "off-oidc" });
    const number = fed.projectNumber;
    const audience = `//iam.googleapis.com/projects/${number}/locations/global/workloadIdentityPools/off-pool/providers/off-oidc`;
    const mint = async () =>
      exchange(h, {
        audience,
        subject_token: await issuer.sign({ sub: "x1", aud: audience, repository: "org/app" }),
      });
    const first = await mint();
    assert.equal(first.status, 200, first.text);
    const at = (first.body as { access_token: string }).access_token;
    const use = () => h.call("GET", `/storage/v1/b/${ALLOWED}/o`, { token: at });
    assert.equal((await use()).status, 403, "authenticated, but not granted (other pool)");
    let r = await h.call("PATCH", `${wipBase()}/off-pool/providers/off-oidc?updateMask=disabled`, {
      body: { disabled: true },
    });
    assert.equal(r.status, 200, r.text);
    const afterProvider = await mint();
    assert.equal((afterProvider.body as { error: string }).error, "invalid_target");
    assert.match(afterProvider.text, /provider off-oidc is disabled/);
    assert.equal((await use()).status, 403, "a disabled provider leaves issued tokens working");
    r = await h.call("PATCH", `${wipBase()}/off-pool?updateMask=disabled`, { body: { disabled: true } });
    assert.equal(r.status, 200, r.text);
    const stopped = await use();
    assert.equal(stopped.status, 401, stopped.text);
    assert.match(stopped.text, /disabled or deleted/);
    // Deleted (after re-enabling): refused at STS and for tokens alike; undelete restores both.
    r = await h.call("PATCH", `${wipBase()}/off-pool?updateMask=disabled`, { body: { disabled: false } });
    assert.equal(r.status, 200, r.text);
    assert.equal((await use()).status, 403, "enabled again: the token authenticates");
    r = await h.call("DELETE", `${wipBase()}/off-pool`);
    assert.equal(r.status, 200, r.text);
    assert.equal((await use()).status, 401);
    r = await h.call("PATCH", `${wipBase()}/off-pool/providers/off-oidc?updateMask=disabled`, {
      body: { disabled: false },
    });
    assert.equal(r.status, 200, r.text);
    const deleted = await mint();
    assert.equal((deleted.body as { error: string }).error, "invalid_target");
    assert.match(deleted.text, /off-pool is deleted/);
  });
});
