/**
 * `warrant iam workload-identity-pools`: pools and providers made with the CLI, and the
 * `external_account` file of `create-cred-config` used unchanged by the real Node google-auth-library.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { GoogleAuth } from "google-auth-library";
import { type Harness, startHarness } from "../support/harness.js";
import { type Issuer, startIssuer } from "../support/oidc-issuer.js";
import { bindOnBucket, createBucket, projectNumber } from "../support/wif.js";
import { runCli } from "./helpers.js";

describe("warrant iam workload-identity-pools", () => {
  let h: Harness;
  let issuer: Issuer;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    h = await startHarness({ agents: false });
    issuer = await startIssuer();
    dir = mkdtempSync(join(tmpdir(), "wif-cli-"));
    env = {
      WARRANT_ENDPOINT: h.url,
      WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
      WARRANT_PROJECT: "demo-project",
      HOME: dir,
    };
  });
  after(async () => {
    await h.close();
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (...argv: string[]) => runCli(argv, { env, cwd: dir });

  test("create, providers create-oidc, describe, list; create-cred-config's file works with google-auth-library", async () => {
    let r = await cli("iam", "workload-identity-pools", "create", "cli-pool", "--display-name=CLI pool");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Created workload identity pool \[cli-pool\]\./);
    writeFileSync(join(dir, "jwks.json"), `${JSON.stringify(issuer.jwks())}\n`);
    r = await cli(
      "iam",
      "workload-identity-pools",
      "providers",
      "create-oidc",
      "cli-oidc",
      "--workload-identity-pool=cli-pool",
      `--issuer-uri=${issuer.url}`,
      "--attribute-mapping=google.subject=assertion.sub,attribute.repository=assertion.repository",
      "--attribute-condition=assertion.repository == 'org/app'",
      "--jwk-json-path=jwks.json",
    );
    assert.equal(r.code, 0, r.stderr);
    r = await cli("iam", "workload-identity-pools", "describe", "cli-pool", "--format=value(name)");
    const number = await projectNumber(h);
    const pool = `projects/${number}/locations/global/workloadIdentityPools/cli-pool`;
    assert.equal(r.stdout.trim(), pool);
    r = await cli(
      "iam",
      "workload-identity-pools",
      "providers",
      "list",
      "--workload-identity-pool=cli-pool",
      "--format=value(name)",
    );
    assert.equal(r.stdout.trim(), `${pool}/providers/cli-oidc`);
    r = await cli("iam", "workload-identity-pools", "list", "--format=value(name)");
    assert.equal(r.stdout.trim(), pool);

    const tokenFile = join(dir, "token.jwt");
    r = await cli(
      "iam",
      "workload-identity-pools",
      "create-cred-config",
      `${pool}/providers/cli-oidc`,
      `--credential-source-file=${tokenFile}`,
      "--output-file=cred.json",
    );
    assert.equal(r.code, 0, r.stderr);
    const cred = JSON.parse(readFileSync(join(dir, "cred.json"), "utf8"));
    assert.deepEqual(Object.keys(cred), [
      "universe_domain",
      "type",
      "audience",
      "subject_token_type",
      "token_url",
      "credential_source",
      "token_info_url",
    ]);
    assert.equal(cred.token_url, `${h.url}/v1/token`);
    assert.equal(cred.audience, `//iam.googleapis.com/${pool}/providers/cli-oidc`);

    await createBucket(h, "wif-cli-bucket");
    await bindOnBucket(
      h,
      "wif-cli-bucket",
      "roles/storage.objectViewer",
      `principalSet://iam.googleapis.com/${pool}/*`,
    );
    const explained = await runCli(
      [
        "iam",
        "explain",
        `--member=principal://iam.googleapis.com/${pool}/subject/job-1`,
        "--permission=storage.objects.list",
        "--resource=projects/_/buckets/wif-cli-bucket",
        `--state-dir=${h.stateDir}`,
      ],
      { env: { HOME: dir }, cwd: dir },
    );
    assert.equal(explained.code, 0, explained.stdout + explained.stderr);
    assert.match(explained.stdout, /ALLOWED/);
    const list = async () => {
      const auth = new GoogleAuth({
        keyFilename: join(dir, "cred.json"),
        scopes: ["https://www.googleapis.com/auth/cloud-platform"],
      });
      const client = await auth.getClient();
      return client.request<{ items: { name: string }[] }>({ url: `${h.url}/storage/v1/b/wif-cli-bucket/o` });
    };
    writeFileSync(tokenFile, await issuer.sign({ sub: "job-1", aud: cred.audience, repository: "org/app" }));
    const ok = await list();
    assert.deepEqual(
      ok.data.items.map((i) => i.name),
      ["hello.txt"],
    );
    writeFileSync(tokenFile, await issuer.sign({ sub: "job-2", aud: cred.audience, repository: "org/evil" }));
    await assert.rejects(list(), /invalid_grant.*attribute condition/s);
  });

  test("create-cred-config: url and executable sources, impersonation, and its refusals", async () => {
    const aud = "projects/1/locations/global/workloadIdentityPools/p1/providers/p2";
    let r = await cli(
      "iam",
      "workload-identity-pools",
      "create-cred-config",
      aud,
      "--credential-source-url=http://127.0.0.1:9/token",
      "--credential-source-headers=Metadata=True",
      "--credential-source-type=json",
      "--credential-source-field-name=id_token",
      "--service-account=sa@demo-project.iam.gserviceaccount.com",
      "--service-account-token-lifetime-seconds=600",
      "--output-file=url.json",
    );
    assert.equal(r.code, 0, r.stderr);
    const url = JSON.parse(readFileSync(join(dir, "url.json"), "utf8"));
    assert.deepEqual(url.credential_source, {
      url: "http://127.0.0.1:9/token",
      headers: { Metadata: "True" },
      format: { type: "json", subject_token_field_name: "id_token" },
    });
    assert.equal(
      url.service_account_impersonation_url,
      `${h.url}/v1/projects/-/serviceAccounts/sa@demo-project.iam.gserviceaccount.com:generateAccessToken`,
    );
    assert.deepEqual(url.service_account_impersonation, { token_lifetime_seconds: 600 });
    assert.equal(url.token_info_url, undefined);
    r = await cli(
      "iam",
      "workload-identity-pools",
      "create-cred-config",
      aud,
      "--executable-command=/bin/get-token",
      "--output-file=exe.json",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "exe.json"), "utf8")).credential_source, {
      executable: { command: "/bin/get-token", timeout_millis: 30000 },
    });
    for (const bad of [
      [aud, "--output-file=x.json"],
      [aud, "--credential-source-file=a", "--credential-source-url=http://x", "--output-file=x.json"],
      [aud, "--credential-source-file=a", "--credential-source-type=json", "--output-file=x.json"],
      ["not-an-audience", "--credential-source-file=a", "--output-file=x.json"],
    ]) {
      r = await cli("iam", "workload-identity-pools", "create-cred-config", ...bad);
      assert.notEqual(r.code, 0, bad.join(" "));
      assert.match(r.stderr, /ERROR/);
    }
  });
});
