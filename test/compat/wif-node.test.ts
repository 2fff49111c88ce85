/**
 * The real Node google-auth-library (unchanged) with an `external_account` credential file: a
 * file-sourced OIDC token from a local issuer is exchanged at Warrant's STS, used directly (a
 * principalSet binding on a bucket, no service account), and through service-account
 * impersonation (roles/iam.workloadIdentityUser). Warrant's `create-cred-config` output is the file.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Storage } from "@google-cloud/storage";
import { GoogleAuth } from "google-auth-library";
import { credConfig } from "../../src/cli/commands/iam/workload-identity-pools/create-cred-config.js";
import { type Harness, startHarness } from "../support/harness.js";
import { type Issuer, startIssuer } from "../support/oidc-issuer.js";
import { createFederation, type Federation, grantFederatedAccess } from "../support/wif.js";

const ALLOWED = "wif-node-allowed";
const SA_BUCKET = "wif-node-sa";
const SA = "wif-node-runner@demo-project.iam.gserviceaccount.com";

describe("Node google-auth-library: external_account credentials against Warrant's STS", () => {
  let h: Harness;
  let issuer: Issuer;
  let fed: Federation;
  let dir: string;
  let tokenFile: string;

  before(async () => {
    h = await startHarness({ agents: false });
    issuer = await startIssuer();
    fed = await createFederation(h, issuer);
    const email = await grantFederatedAccess(h, fed, {
      allowed: ALLOWED,
      viaAccount: SA_BUCKET,
      accountId: "wif-node-runner",
      impersonator: `principal://iam.googleapis.com/${fed.pool}/subject/repo:org/app`,
    });
    assert.equal(email, SA);
    dir = mkdtempSync(join(tmpdir(), "wif-node-"));
    tokenFile = join(dir, "token.jwt");
  });
  after(async () => {
    await h.close();
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const credFile = (impersonate?: string) => ({
    universe_domain: "googleapis.com",
    type: "external_account",
    audience: fed.audience,
    subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    token_url: `${h.url}/v1/token`,
    credential_source: { file: tokenFile },
    ...(impersonate
      ? {
          service_account_impersonation_url: `${h.url}/v1/projects/-/serviceAccounts/${impersonate}:generateAccessToken`,
        }
      : {}),
  });

  async function list(credentials: object, bucket: string) {
    const auth = new GoogleAuth({
      credentials: credentials as never,
      scopes: ["https://www.googleapis.com/auth/cloud-platform"],
    });
    const client = await auth.getClient();
    try {
      const r = await client.request<{ items?: { name: string }[] }>({
        url: `${h.url}/storage/v1/b/${bucket}/o`,
      });
      return { status: r.status, names: (r.data.items ?? []).map((i) => i.name) };
    } catch (err) {
      const e = err as { status?: number; response?: { status: number; data: unknown } };
      return {
        status: e.response?.status ?? e.status ?? 0,
        error: JSON.stringify(e.response?.data ?? String(err)),
      };
    }
  }

  test("without impersonation: the federated token lists the bucket its principalSet may read, and is refused elsewhere", async () => {
    // The clients send a file's trailing newline along.
    writeFileSync(
      tokenFile,
      `${await issuer.sign({ sub: "repo:org/app", aud: fed.audience, repository: "org/app" })}\n`,
    );
    const ok = await list(credFile(), ALLOWED);
    assert.deepEqual(ok, { status: 200, names: ["hello.txt"] });
    const no = await list(credFile(), SA_BUCKET);
    assert.equal(no.status, 403, JSON.stringify(no));
    assert.match(no.error!, /principal:\/\/iam\.googleapis\.com\/.*subject\/repo:org\/app/);
  });

  test("with impersonation: the service account's token lists its bucket; another subject is refused", async () => {
    writeFileSync(
      tokenFile,
      await issuer.sign({ sub: "repo:org/app", aud: fed.audience, repository: "org/app" }),
    );
    const ok = await list(credFile(SA), SA_BUCKET);
    assert.deepEqual(ok, { status: 200, names: ["hello.txt"] });
    const notGranted = await list(credFile(SA), ALLOWED);
    assert.equal(notGranted.status, 403, "the service account holds no role on the other bucket");
    writeFileSync(
      tokenFile,
      await issuer.sign({ sub: "repo:org/intruder", aud: fed.audience, repository: "org/x" }),
    );
    const refused = await list(credFile(SA), SA_BUCKET);
    assert.equal(refused.status, 403, JSON.stringify(refused));
    assert.match(refused.error!, /getAccessToken/);
  });

  test("@google-cloud/storage (its own google-auth-library 9.x): getBuckets lists the project's buckets for the set, refuses others", async () => {
    const set = `principalSet://iam.googleapis.com/${fed.pool}/attribute.repository/org/app`;
    const policy = await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
    const bindings = [...policy.body.bindings, { role: "roles/storage.bucketViewer", members: [set] }];
    const put = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", {
      body: { policy: { ...policy.body, bindings } },
    });
    assert.equal(put.status, 200, put.text);
    const storage = new Storage({
      credentials: credFile() as never,
      apiEndpoint: h.url,
      useAuthWithCustomEndpoint: true,
      projectId: "demo-project",
    });
    writeFileSync(
      tokenFile,
      await issuer.sign({ sub: "repo:org/app", aud: fed.audience, repository: "org/app" }),
    );
    const [buckets] = await storage.getBuckets();
    assert.deepEqual(buckets.map((b) => b.name).sort(), [ALLOWED, SA_BUCKET].sort());
    writeFileSync(
      tokenFile,
      await issuer.sign({ sub: "repo:org/other", aud: fed.audience, repository: "org/other" }),
    );
    const other = new Storage({
      credentials: credFile() as never,
      apiEndpoint: h.url,
      useAuthWithCustomEndpoint: true,
      projectId: "demo-project",
    });
    await assert.rejects(other.getBuckets(), (err: { code?: number }) => err.code === 403);
  });

  test("URL- and executable-sourced subject tokens, from create-cred-config's files", async () => {
    const token = await issuer.sign({ sub: "repo:org/app", aud: fed.audience, repository: "org/app" });
    const audience = fed.audience.replace("//iam.googleapis.com/", "");
    issuer.serveSubjectToken(token);
    const byUrl = credConfig({
      audience,
      endpoint: h.url,
      url: `${issuer.url}/subject-token`,
      headers: { Metadata: "True" },
      format: { type: "json", fieldName: "id_token" },
    });
    assert.deepEqual(await list(byUrl, ALLOWED), { status: 200, names: ["hello.txt"] });
    assert.ok(issuer.requests.includes("/subject-token"), "the library fetched the token from the URL");

    const script = join(dir, "get-token.sh");
    const exp = Math.floor(Date.now() / 1000) + 600;
    writeFileSync(
      script,
      `#!/bin/sh\nprintf '%s' '${JSON.stringify({ version: 1, success: true, token_type: "urn:ietf:params:oauth:token-type:jwt", id_token: token, expiration_time: exp })}'\n`,
    );
    chmodSync(script, 0o755);
    const byExe = credConfig({
      audience,
      endpoint: h.url,
      executable: { command: script },
      serviceAccount: SA,
    });
    process.env.GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES = "1";
    try {
      assert.deepEqual(await list(byExe, SA_BUCKET), { status: 200, names: ["hello.txt"] });
    } finally {
      delete process.env.GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES;
    }
  });

  test("a subject token for another audience: the library surfaces STS's invalid_grant with the reason", async () => {
    writeFileSync(
      tokenFile,
      await issuer.sign({ sub: "repo:org/app", aud: "https://elsewhere", repository: "org/app" }),
    );
    const auth = new GoogleAuth({
      credentials: credFile() as never,
      scopes: ["https://www.googleapis.com/auth/cloud-platform"],
    });
    const client = await auth.getClient();
    await assert.rejects(client.getAccessToken(), /invalid_grant.*audience/s);
    // The file as written is what the library read.
    assert.match(readFileSync(tokenFile, "utf8"), /^ey/);
  });
});
