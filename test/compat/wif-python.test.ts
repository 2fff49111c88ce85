/**
 * Python google-auth (the copy bundled with the Cloud SDK, run with the SDK's Python, unchanged)
 * with `identity_pool` credentials from an `external_account` file: the file-sourced OIDC token of
 * a local issuer is exchanged at Warrant's STS, used directly and through service-account
 * impersonation (Python asks STS for the `iam` scope, sends `"delegates": null` and parses
 * `expireTime` without fractional seconds).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import { type Issuer, startIssuer } from "../support/oidc-issuer.js";
import { SDK_PYTHON, SDK_PYTHON_MISSING } from "../support/tools.js";
import {
  bindOnBucket,
  createBucket,
  createFederation,
  type Federation,
  grantFederatedAccess,
} from "../support/wif.js";

const skip = SDK_PYTHON_MISSING;
const SDK = SDK_PYTHON?.sdk ?? "";
const PYTHON = SDK_PYTHON?.python ?? "";
const ALLOWED = "wif-py-allowed";
const SA_BUCKET = "wif-py-sa";
const SA = "wif-py-runner@demo-project.iam.gserviceaccount.com";

const SCRIPT = `
import json, sys
from google.auth import identity_pool
from google.auth.transport.requests import AuthorizedSession
cred_file, urls = sys.argv[1], sys.argv[2:]
creds = identity_pool.Credentials.from_file(cred_file, scopes=["https://www.googleapis.com/auth/cloud-platform"])
session = AuthorizedSession(creds)
out = []
for url in urls:
    try:
        r = session.get(url)
        out.append({"status": r.status_code, "body": r.json()})
    except Exception as e:
        out.append({"error": type(e).__name__, "message": str(e)})
print(json.dumps(out))
`;

describe("Python google-auth identity_pool credentials against Warrant's STS", { skip }, () => {
  let h: Harness;
  let issuer: Issuer;
  let fed: Federation;
  let dir: string;
  before(async () => {
    h = await startHarness({ agents: false });
    issuer = await startIssuer();
    fed = await createFederation(h, issuer);
    const email = await grantFederatedAccess(h, fed, {
      allowed: ALLOWED,
      viaAccount: SA_BUCKET,
      accountId: "wif-py-runner",
      impersonator: `principalSet://iam.googleapis.com/${fed.pool}/attribute.repository/org/app`,
    });
    assert.equal(email, SA);
    dir = mkdtempSync(join(tmpdir(), "wif-py-"));
    writeFileSync(join(dir, "probe.py"), SCRIPT);
  });
  after(async () => {
    await h.close();
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(claims: Record<string, unknown>, impersonate?: string) {
    const tokenFile = join(dir, "token.jwt");
    writeFileSync(tokenFile, `${await issuer.sign({ aud: fed.audience, ...claims })}\n`);
    const credFile = join(dir, "cred.json");
    writeFileSync(
      credFile,
      JSON.stringify({
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
      }),
    );
    const urls = [ALLOWED, SA_BUCKET].map((b) => `${h.url}/storage/v1/b/${b}/o`);
    const { stdout } = await promisify(execFile)(PYTHON, [join(dir, "probe.py"), credFile, ...urls], {
      env: { PATH: process.env.PATH, HOME: dir, PYTHONPATH: `${SDK}/lib/third_party`, NO_PROXY: "127.0.0.1" },
      timeout: 60_000,
    });
    return JSON.parse(stdout) as {
      status?: number;
      body?: { items?: { name: string }[] };
      error?: string;
      message?: string;
    }[];
  }

  test("without impersonation: the principalSet's bucket is listed, the other refused", async () => {
    const [ok, no] = await run({ sub: "repo:org/app", repository: "org/app" });
    assert.equal(ok!.status, 200, JSON.stringify(ok));
    assert.deepEqual(
      ok!.body!.items!.map((i) => i.name),
      ["hello.txt"],
    );
    assert.equal(no!.status, 403, JSON.stringify(no));
  });

  test("with impersonation: the service account's bucket is listed; a subject outside the set is refused", async () => {
    const [notSa, ok] = await run({ sub: "repo:org/app", repository: "org/app" }, SA);
    assert.equal(ok!.status, 200, JSON.stringify(ok));
    assert.deepEqual(
      ok!.body!.items!.map((i) => i.name),
      ["hello.txt"],
    );
    assert.equal(notSa!.status, 403, "the service account holds no role on the principalSet's bucket");
    const [refused] = await run({ sub: "repo:org/other", repository: "org/other" }, SA);
    assert.equal(refused!.error, "RefreshError", JSON.stringify(refused));
    assert.match(refused!.message!, /Unable to acquire impersonated credentials.*getAccessToken/s);
  });

  test("a condition-free provider refuses an expired subject token: RefreshError names invalid_grant", async () => {
    const now = Math.floor(Date.now() / 1000);
    const [r] = await run({ sub: "repo:org/app", repository: "org/app", iat: now - 7200, exp: now - 3600 });
    // google.auth.exceptions.OAuthError, a RefreshError, carrying STS's error and reason.
    assert.equal(r!.error, "OAuthError", JSON.stringify(r));
    assert.match(r!.message!, /Error code invalid_grant: .*expired/s);
  });
});

/**
 * A file in the shape the real gcloud writes (token_url on sts.googleapis.com, impersonation on
 * iamcredentials.googleapis.com), unchanged, through `serve --proxy`: Python only gets the
 * environment `warrant env --proxy` prints.
 */
describe("Python google-auth: Google-hosted external_account URLs through serve --proxy", { skip }, () => {
  let h: Harness;
  let issuer: Issuer;
  let fed: Federation;
  let dir: string;
  before(async () => {
    h = await startHarness({ proxyPort: 0, agents: false });
    issuer = await startIssuer();
    fed = await createFederation(h, issuer);
    await createBucket(h, SA_BUCKET);
    const c = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "wif-py-runner" },
    });
    assert.equal(c.status, 200, c.text);
    const set = await h.call("POST", `/v1/projects/demo-project/serviceAccounts/${SA}:setIamPolicy`, {
      body: {
        policy: {
          bindings: [
            {
              role: "roles/iam.workloadIdentityUser",
              members: [`principalSet://iam.googleapis.com/${fed.pool}/*`],
            },
          ],
        },
      },
    });
    assert.equal(set.status, 200, set.text);
    await bindOnBucket(h, SA_BUCKET, "roles/storage.objectViewer", `serviceAccount:${SA}`);
    dir = mkdtempSync(join(tmpdir(), "wif-py-proxy-"));
    writeFileSync(join(dir, "probe.py"), SCRIPT);
  });
  after(async () => {
    await h.close();
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the STS exchange and the impersonation reach Warrant at Google's hosts", async () => {
    const tokenFile = join(dir, "token.jwt");
    writeFileSync(tokenFile, `${await issuer.sign({ sub: "job-9", aud: fed.audience })}\n`);
    const credFile = join(dir, "cred.json");
    writeFileSync(
      credFile,
      JSON.stringify({
        universe_domain: "googleapis.com",
        type: "external_account",
        audience: fed.audience,
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
        token_url: "https://sts.googleapis.com/v1/token",
        credential_source: { file: tokenFile },
        service_account_impersonation_url: `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`,
      }),
    );
    const r = await runCli(["env", "--proxy"], { env: { WARRANT_STATE_DIR: h.stateDir } });
    const proxyEnv = Object.fromEntries(
      [...r.stdout.matchAll(/^export ([A-Za-z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    const { stdout } = await promisify(execFile)(
      PYTHON,
      [join(dir, "probe.py"), credFile, `https://storage.googleapis.com/storage/v1/b/${SA_BUCKET}/o`],
      {
        env: { PATH: process.env.PATH, HOME: dir, PYTHONPATH: `${SDK}/lib/third_party`, ...proxyEnv },
        timeout: 60_000,
      },
    );
    const [out] = JSON.parse(stdout) as { status?: number; body?: { items?: { name: string }[] } }[];
    assert.equal(out!.status, 200, stdout);
    assert.deepEqual(
      out!.body!.items!.map((i) => i.name),
      ["hello.txt"],
    );
    const stats = h.server.proxyStats!().intercepted;
    for (const host of ["sts.googleapis.com", "iamcredentials.googleapis.com", "storage.googleapis.com"])
      assert.ok((stats[host] ?? 0) >= 1, `${host}: ${JSON.stringify(stats)}`);
  });
});
