/**
 * Attack: keep an access token of a service account past its deletion, then re-create an account
 * of the same e-mail: the old token (whose `azp` names the old unique id) used to be accepted again
 * as the new account. Tokens are bound to the unique id of the account they were issued to.
 * Disabling and re-enabling an account is different: its unexpired tokens work again, as on Google.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { importPKCS8, SignJWT } from "jose";
import { type Harness, startHarness } from "../support/harness.js";

const ZOMBIE = "zombie-sa@demo-project.iam.gserviceaccount.com";
const CLOUD = "https://www.googleapis.com/auth/cloud-platform";
const READ = "/v1/projects/demo-project";

interface KeyFile {
  private_key_id: string;
  private_key: string;
  client_email: string;
}

describe("a token of a deleted service account stays dead when the e-mail is re-created", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    const p = await h.call("POST", `${READ}:getIamPolicy`, { body: {} });
    const zombieCreated = await create();
    assert.ok(zombieCreated);
    const bindings = [...p.body.bindings, { role: "roles/viewer", members: [`serviceAccount:${ZOMBIE}`] }];
    const r = await h.call("POST", `${READ}:setIamPolicy`, { body: { policy: { bindings } } });
    assert.equal(r.status, 200, r.text);
  });
  after(() => h.close());

  async function create(): Promise<string> {
    const r = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "zombie-sa" },
    });
    assert.equal(r.status, 200, r.text);
    return r.body.uniqueId;
  }

  async function keyFile(): Promise<KeyFile> {
    const r = await h.call("POST", `/v1/projects/-/serviceAccounts/${ZOMBIE}/keys`, { body: {} });
    assert.equal(r.status, 200, r.text);
    return JSON.parse(Buffer.from(r.body.privateKeyData, "base64").toString());
  }

  /** An access token through the jwt-bearer grant, and a self-signed JWT, from a fresh key. */
  async function credentials() {
    const kf = await keyFile();
    const key = await importPKCS8(kf.private_key, "RS256");
    const iat = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT({ iss: kf.client_email, sub: kf.client_email, iat, exp: iat + 3600, ...claims })
        .setProtectedHeader({ alg: "RS256", kid: kf.private_key_id })
        .sign(key);
    const res = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion: await sign({ aud: `${h.url}/token`, scope: CLOUD }),
      }),
    });
    const body = (await res.json()) as { access_token?: string };
    assert.ok(body.access_token, JSON.stringify(body));
    return { accessToken: body.access_token, selfSigned: await sign({ scope: CLOUD }) };
  }

  const status = async (token: string) => (await h.call("GET", READ, { token })).status;

  test("delete, re-create: the old token is refused; tokeninfo shows it names the old unique id", async () => {
    const oldUid = (await h.call("GET", `/v1/projects/-/serviceAccounts/${ZOMBIE}`)).body.uniqueId;
    const { accessToken, selfSigned } = await credentials();
    assert.equal(await status(accessToken), 200);
    assert.equal(await status(selfSigned), 200);

    assert.equal((await h.call("DELETE", `/v1/projects/-/serviceAccounts/${ZOMBIE}`)).status, 200);
    assert.equal(await status(accessToken), 401);
    assert.equal(await status(selfSigned), 401);

    const newUid = await create();
    // The new account's own tokens are accepted (so the server sees the new account)...
    const fresh = await credentials();
    assert.notEqual(await status(fresh.accessToken), 401);
    assert.equal(await status(accessToken), 401, "the old account's token does not act for the new one");
    assert.equal(await status(selfSigned), 401, "nor does a JWT signed with the old account's key");
    assert.notEqual(newUid, oldUid);
    const claims = JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString());
    assert.equal(claims.azp, oldUid);
    assert.equal(claims.uid, oldUid, "the token names the account it was issued to");
  });

  test("disable, enable: unexpired tokens of the same account are accepted again (as on Google)", async () => {
    const p = await h.call("POST", `${READ}:getIamPolicy`, { body: {} });
    const bindings = [...p.body.bindings, { role: "roles/viewer", members: [`serviceAccount:${ZOMBIE}`] }];
    assert.equal(
      (await h.call("POST", `${READ}:setIamPolicy`, { body: { policy: { bindings, etag: p.body.etag } } }))
        .status,
      200,
    );
    const { accessToken } = await credentials();
    assert.equal(await status(accessToken), 200);
    assert.equal(
      (await h.call("POST", `/v1/projects/-/serviceAccounts/${ZOMBIE}:disable`, { body: {} })).status,
      200,
    );
    assert.equal(await status(accessToken), 401);
    assert.equal(
      (await h.call("POST", `/v1/projects/-/serviceAccounts/${ZOMBIE}:enable`, { body: {} })).status,
      200,
    );
    assert.equal(await status(accessToken), 200);
  });
});
