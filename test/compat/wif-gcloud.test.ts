/**
 * The real gcloud and workload identity federation, through `serve --proxy` with no endpoint
 * overrides: gcloud manages pools and providers at iam.googleapis.com, writes its own
 * `create-cred-config` file (URLs on sts.googleapis.com), logs in with it (`auth login --cred-file`:
 * STS exchange with gcloud's client and scopes, then introspection to name the account) and
 * lists buckets as the federated principal.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import { type Issuer, startIssuer } from "../support/oidc-issuer.js";
import { GCLOUD, GCLOUD_MISSING } from "../support/tools.js";
import { bindOnBucket, createBucket, projectNumber } from "../support/wif.js";

const run = promisify(execFile);
const skip = GCLOUD ? false : GCLOUD_MISSING;
const BUCKET = "wif-gcloud-bucket";

describe("gcloud with workload identity federation through Warrant's proxy", { skip }, () => {
  let h: Harness;
  let issuer: Issuer;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    h = await startHarness({ proxyPort: 0, agents: false });
    issuer = await startIssuer();
    dir = mkdtempSync(join(tmpdir(), "wif-gcloud-"));
    await createBucket(h, BUCKET);
    const r = await runCli(["env", "--proxy"], { env: { WARRANT_STATE_DIR: h.stateDir } });
    const proxyEnv = Object.fromEntries(
      [...r.stdout.matchAll(/^export ([A-Za-z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      ...proxyEnv,
      CLOUDSDK_CORE_PROJECT: "demo-project",
      CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
      GCE_METADATA_ROOT: "127.0.0.1:9",
      GCE_METADATA_IP: "127.0.0.1:9",
    };
  });
  after(async () => {
    await h.close();
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gcloud(args: string[], extra: NodeJS.ProcessEnv = {}) {
    try {
      const { stdout, stderr } = await run(GCLOUD!, args, { env: { ...env, ...extra }, timeout: 120_000 });
      return { code: 0, stdout: stdout.trim(), stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? 1, stdout: (e.stdout ?? "").trim(), stderr: e.stderr ?? "" };
    }
  }

  test("pools and providers via gcloud; gcloud's own cred file logs in and lists what the principal may", async () => {
    const admin = {
      CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE: h.server.adminCredentialFile,
      CLOUDSDK_CONFIG: mkdtempSync(join(dir, "admin-")),
    };
    let r = await gcloud(
      [
        "iam",
        "workload-identity-pools",
        "create",
        "gc-pool",
        "--location=global",
        "--display-name=gcloud pool",
      ],
      admin,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Created workload identity pool \[gc-pool\]/);
    r = await gcloud(
      [
        "iam",
        "workload-identity-pools",
        "providers",
        "create-oidc",
        "gc-oidc",
        "--location=global",
        "--workload-identity-pool=gc-pool",
        `--issuer-uri=${issuer.url}`,
        "--attribute-mapping=google.subject=assertion.sub,attribute.repository=assertion.repository",
        "--attribute-condition=assertion.repository.startsWith('org/')",
      ],
      admin,
    );
    assert.equal(r.code, 0, r.stderr);
    const number = await projectNumber(h);
    const pool = `projects/${number}/locations/global/workloadIdentityPools/gc-pool`;
    r = await gcloud(
      ["iam", "workload-identity-pools", "describe", "gc-pool", "--location=global", "--format=value(name)"],
      admin,
    );
    assert.equal(r.stdout, pool, r.stderr);
    r = await gcloud(
      ["iam", "workload-identity-pools", "list", "--location=global", "--format=value(name)"],
      admin,
    );
    assert.equal(r.stdout, pool, r.stderr);
    r = await gcloud(
      [
        "iam",
        "workload-identity-pools",
        "providers",
        "describe",
        "gc-oidc",
        "--location=global",
        "--workload-identity-pool=gc-pool",
        "--format=value(oidc.issuerUri)",
      ],
      admin,
    );
    assert.equal(r.stdout, issuer.url, r.stderr);

    // update-oidc sends unmasked fields (disabled:false) too: only the masked audiences change.
    r = await gcloud(
      [
        "iam",
        "workload-identity-pools",
        "providers",
        "update-oidc",
        "gc-oidc",
        "--location=global",
        "--workload-identity-pool=gc-pool",
        "--allowed-audiences=aud-a,aud-b",
      ],
      admin,
    );
    assert.equal(r.code, 0, r.stderr);
    const updated = await h.call("GET", `/v1/${pool}/providers/gc-oidc`);
    assert.deepEqual(updated.body.oidc.allowedAudiences, ["aud-a", "aud-b"]);
    // The token below is for the provider's own name: give it back the default audiences.
    const cleared = await h.call("PATCH", `/v1/${pool}/providers/gc-oidc?updateMask=oidc.allowedAudiences`, {
      body: { oidc: { allowedAudiences: [] } },
    });
    assert.equal(cleared.status, 200, cleared.text);
    // Delete and undelete a throwaway pool: gcloud parses the Operations.
    r = await gcloud(["iam", "workload-identity-pools", "create", "gc-tmp", "--location=global"], admin);
    assert.equal(r.code, 0, r.stderr);
    r = await gcloud(
      ["iam", "workload-identity-pools", "delete", "gc-tmp", "--location=global", "--quiet"],
      admin,
    );
    assert.equal(r.code, 0, r.stderr);
    r = await gcloud(
      [
        "iam",
        "workload-identity-pools",
        "list",
        "--location=global",
        "--show-deleted",
        "--format=value(name,state)",
      ],
      admin,
    );
    assert.match(r.stdout, /gc-tmp\s+DELETED/);
    r = await gcloud(["iam", "workload-identity-pools", "undelete", "gc-tmp", "--location=global"], admin);
    assert.equal(r.code, 0, r.stderr);

    // The principalSet may list the project's buckets and read this one.
    const set = `principalSet://iam.googleapis.com/${pool}/attribute.repository/org/app`;
    const policy = await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
    const bindings = [...policy.body.bindings, { role: "roles/storage.bucketViewer", members: [set] }];
    const put = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", {
      body: { policy: { ...policy.body, bindings } },
    });
    assert.equal(put.status, 200, put.text);
    await bindOnBucket(h, BUCKET, "roles/storage.objectViewer", set);

    const tokenFile = join(dir, "token.jwt");
    const credFile = join(dir, "cred.json");
    r = await gcloud(
      [
        "iam",
        "workload-identity-pools",
        "create-cred-config",
        `${pool}/providers/gc-oidc`,
        `--credential-source-file=${tokenFile}`,
        `--output-file=${credFile}`,
      ],
      admin,
    );
    assert.equal(r.code, 0, r.stderr);
    const cred = JSON.parse(readFileSync(credFile, "utf8"));
    assert.equal(cred.token_url, "https://sts.googleapis.com/v1/token", "gcloud's own file, unchanged");

    const as = async (repository: string, args: string[]) => {
      writeFileSync(
        tokenFile,
        `${await issuer.sign({ sub: `repo:${repository}`, aud: cred.audience, repository })}\n`,
      );
      const config = { CLOUDSDK_CONFIG: mkdtempSync(join(dir, "fed-")) };
      const login = await gcloud(["auth", "login", `--cred-file=${credFile}`], config);
      if (login.code !== 0) return login;
      return gcloud(args, config);
    };
    r = await as("org/app", ["storage", "ls"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^gs://${BUCKET}/$`, "m"));
    r = await as("org/app", ["storage", "ls", `gs://${BUCKET}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^gs://${BUCKET}/hello.txt$`, "m"));
    r = await as("org/other", ["storage", "ls"]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /403|storage\.buckets\.list/);
    r = await as("evil/app", ["storage", "ls"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /invalid_grant|attribute condition/);

    // With --service-account: login records the account; each command exchanges, then impersonates
    // through iamcredentials.googleapis.com.
    const sa = "wif-gcloud-sa@demo-project.iam.gserviceaccount.com";
    const c = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "wif-gcloud-sa" },
    });
    assert.equal(c.status, 200, c.text);
    const saPolicy = await h.call("POST", `/v1/projects/demo-project/serviceAccounts/${sa}:setIamPolicy`, {
      body: { policy: { bindings: [{ role: "roles/iam.workloadIdentityUser", members: [set] }] } },
    });
    assert.equal(saPolicy.status, 200, saPolicy.text);
    await createBucket(h, "wif-gcloud-sa-bucket");
    await bindOnBucket(h, "wif-gcloud-sa-bucket", "roles/storage.objectViewer", `serviceAccount:${sa}`);
    const saCred = join(dir, "sa-cred.json");
    r = await gcloud(
      [
        "iam",
        "workload-identity-pools",
        "create-cred-config",
        `${pool}/providers/gc-oidc`,
        `--service-account=${sa}`,
        `--credential-source-file=${tokenFile}`,
        `--output-file=${saCred}`,
      ],
      admin,
    );
    assert.equal(r.code, 0, r.stderr);
    writeFileSync(
      tokenFile,
      `${await issuer.sign({ sub: "repo:org/app", aud: cred.audience, repository: "org/app" })}\n`,
    );
    const saConfig = { CLOUDSDK_CONFIG: mkdtempSync(join(dir, "fed-sa-")) };
    r = await gcloud(["auth", "login", `--cred-file=${saCred}`], saConfig);
    assert.equal(r.code, 0, r.stderr);
    r = await gcloud(["storage", "ls", "gs://wif-gcloud-sa-bucket"], saConfig);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^gs:\/\/wif-gcloud-sa-bucket\/hello\.txt$/m);
    r = await gcloud(["auth", "list", "--format=value(account)"], saConfig);
    assert.match(r.stdout, new RegExp(`^${sa}$`, "m"));

    const stats = h.server.proxyStats!().intercepted;
    for (const host of [
      "sts.googleapis.com",
      "iam.googleapis.com",
      "iamcredentials.googleapis.com",
      "storage.googleapis.com",
    ])
      assert.ok((stats[host] ?? 0) >= 1, `${host}: ${JSON.stringify(stats)}`);
  });
});
