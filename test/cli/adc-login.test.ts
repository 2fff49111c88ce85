/**
 * `warrant users` and `warrant auth application-default login|revoke` against a real server, with the
 * real Node google-auth-library finding the written file through Application Default Credentials.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { GoogleAuth, UserRefreshClient } from "google-auth-library";
import { type Harness, startHarness } from "../support/harness.js";
import { runCli } from "./helpers.js";

const USER = "uma@example.com";
const REVOKED = { error: "invalid_grant", error_description: "Token has been expired or revoked." };

describe("warrant users and auth application-default", () => {
  let h: Harness;
  let dir: string;
  let base: Record<string, string>;
  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-adc-"));
    base = {
      WARRANT_ENDPOINT: h.url,
      WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
      WARRANT_PROJECT: "demo-project",
      WARRANT_CONFIG_DIR: join(dir, "warrant-config"),
      HOME: join(dir, "home"),
    };
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An environment whose gcloud configuration directory is `name` under the test directory. */
  const envWith = (name: string) => ({ ...base, CLOUDSDK_CONFIG: join(dir, name) });

  async function refresh(cred: Record<string, string>) {
    const res = await fetch(cred.token_uri!, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        client_id: cred.client_id!,
        client_secret: cred.client_secret!,
        refresh_token: cred.refresh_token!,
      }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }

  /** Application Default Credentials as a Node program finds them, refreshing at this server. */
  async function adcClient(cloudsdkConfig: string) {
    const saved = { c: process.env.CLOUDSDK_CONFIG, g: process.env.GOOGLE_APPLICATION_CREDENTIALS };
    process.env.CLOUDSDK_CONFIG = cloudsdkConfig;
    delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    try {
      // The library refreshes user credentials at Google's token URL whatever the file's token_uri
      // says; this option is the configuration that points it at Warrant.
      const auth = new GoogleAuth({ clientOptions: { endpoints: { oauth2TokenUrl: `${h.url}/token` } } });
      return await auth.getClient();
    } finally {
      if (saved.c === undefined) delete process.env.CLOUDSDK_CONFIG;
      else process.env.CLOUDSDK_CONFIG = saved.c;
      if (saved.g !== undefined) process.env.GOOGLE_APPLICATION_CREDENTIALS = saved.g;
    }
  }

  const listBuckets = (token: string) =>
    fetch(`${h.url}/storage/v1/b?project=demo-project`, { headers: { authorization: `Bearer ${token}` } });

  test("users create, list, describe; a bad address is refused", async () => {
    const env = envWith("gcloud-a");
    const made = await runCli(["users", "create", USER, "--display-name=Uma"], { env });
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stderr, /Created user \[uma@example\.com\]\./);
    const list = await runCli(["users", "list", "--format=value(email,state)"], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.stdout.trim().split("\n").sort(), [
      "admin@warrant.local\tACTIVE",
      `${USER}\tACTIVE`,
    ]);
    const one = await runCli(["users", "describe", USER, "--format=value(displayName)"], { env });
    assert.equal(one.stdout.trim(), "Uma");
    const bad = await runCli(["users", "create", "not-an-address"], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /400 'not-an-address' is not a valid email address/);
  });

  test("login --user writes a 0600 ADC file that the real google-auth-library uses as that user", async () => {
    const env = envWith("gcloud-a");
    const r = await runCli(["auth", "application-default", "login", `--user=${USER}`], { env });
    assert.equal(r.code, 0, r.stderr);
    const file = join(env.CLOUDSDK_CONFIG, "application_default_credentials.json");
    assert.match(r.stderr, new RegExp(`Credentials saved to file: \\[${file.replace(/[.\\/]/g, "\\$&")}\\]`));
    assert.match(r.stderr, /user:uma@example\.com/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const cred = JSON.parse(readFileSync(file, "utf8"));
    assert.equal(cred.type, "authorized_user");
    assert.equal(cred.token_uri, `${h.url}/token`);
    assert.equal(cred.account, USER);

    const client = await adcClient(env.CLOUDSDK_CONFIG);
    assert.ok(client instanceof UserRefreshClient, `ADC gave a ${client.constructor.name}`);
    const { token } = await client.getAccessToken();
    assert.ok(token);
    const info = await fetch(`${h.url}/oauth2/v3/tokeninfo?access_token=${token}`);
    assert.equal(((await info.json()) as { email: string }).email, USER);

    // Uma holds no role yet: listing buckets is denied, naming the permission.
    const denied = await client.request({ url: `${h.url}/storage/v1/b?project=demo-project` }).then(
      () => null,
      (e: { response?: { status: number; data: unknown } }) => e.response,
    );
    assert.equal(denied?.status, 403);
    assert.match(JSON.stringify(denied?.data), /storage\.buckets\.list/);

    const grant = await runCli(
      [
        "projects",
        "add-iam-policy-binding",
        "demo-project",
        `--member=user:${USER}`,
        "--role=roles/storage.admin",
      ],
      { env },
    );
    assert.equal(grant.code, 0, grant.stderr);
    const allowed = await client.request<{ kind: string }>({
      url: `${h.url}/storage/v1/b?project=demo-project`,
    });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.data.kind, "storage#buckets");

    // The same fields refresh at /token: the exchange any client makes.
    const t = await refresh(cred);
    assert.equal(t.status, 200, JSON.stringify(t.body));
  });

  test("login never replaces a Google-issued file: it writes beside it and says how to select it", async () => {
    const env = envWith("gcloud-google");
    mkdirSync(env.CLOUDSDK_CONFIG, { recursive: true });
    const google = join(env.CLOUDSDK_CONFIG, "application_default_credentials.json");
    const googleText = `${JSON.stringify({
      type: "authorized_user",
      client_id: "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",
      client_secret: "d-FL95Q19q7MQmFpd7hHD0Ty",
      refresh_token: "1//google-issued",
      token_uri: "https://oauth2.googleapis.com/token",
    })}\n`;
    writeFileSync(google, googleText, { mode: 0o600 });

    const r = await runCli(["auth", "application-default", "login", `--user=${USER}`], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(google, "utf8"), googleText, "the Google-issued file is untouched");
    const beside = join(env.CLOUDSDK_CONFIG, "warrant_application_default_credentials.json");
    assert.match(r.stderr, /its token_uri is Google's/);
    assert.ok(r.stderr.includes(`export GOOGLE_APPLICATION_CREDENTIALS=${beside}`), r.stderr);
    assert.equal(statSync(beside).mode & 0o777, 0o600);
    const cred = JSON.parse(readFileSync(beside, "utf8"));
    assert.equal(cred.account, USER);
    assert.equal((await refresh(cred)).status, 200);

    // A service-account key file is foreign too; and when both places are foreign nothing is written.
    const env2 = envWith("gcloud-sa");
    mkdirSync(env2.CLOUDSDK_CONFIG, { recursive: true });
    writeFileSync(
      join(env2.CLOUDSDK_CONFIG, "application_default_credentials.json"),
      '{"type":"service_account"}',
    );
    writeFileSync(join(env2.CLOUDSDK_CONFIG, "warrant_application_default_credentials.json"), "not json");
    const refused = await runCli(["auth", "application-default", "login", `--user=${USER}`], { env: env2 });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /was not written by Warrant \(it is a "service_account" credential\)/);
    assert.equal(
      readFileSync(join(env2.CLOUDSDK_CONFIG, "warrant_application_default_credentials.json"), "utf8"),
      "not json",
    );

    // revoke removes only Warrant's file.
    const rv = await runCli(["auth", "application-default", "revoke"], { env });
    assert.equal(rv.code, 0, rv.stderr);
    assert.ok(!existsSync(beside));
    assert.equal(readFileSync(google, "utf8"), googleText);
    assert.deepEqual((await refresh(cred)).body, REVOKED);
    const none = await runCli(["auth", "application-default", "revoke"], { env });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No Warrant-issued Application Default Credentials found/);
  });

  test("a second login replaces Warrant's file; revoke ends refresh and access tokens and removes the file", async () => {
    const env = envWith("gcloud-a");
    const file = join(env.CLOUDSDK_CONFIG, "application_default_credentials.json");
    const first = JSON.parse(readFileSync(file, "utf8"));
    const client = await adcClient(env.CLOUDSDK_CONFIG);
    const { token } = await client.getAccessToken();
    assert.equal((await listBuckets(token!)).status, 200);

    const again = await runCli(
      ["auth", "application-default", "login", `--user=${USER}`, "--scopes=storage-ro"],
      {
        env,
      },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /replaced an earlier Warrant-issued credential/);
    const second = JSON.parse(readFileSync(file, "utf8"));
    assert.notEqual(second.refresh_token, first.refresh_token);
    const narrow = await refresh(second);
    assert.equal(narrow.body.scope, "https://www.googleapis.com/auth/devstorage.read_only");
    assert.equal((await listBuckets(narrow.body.access_token!)).status, 200);

    const rv = await runCli(["auth", "application-default", "revoke"], { env });
    assert.equal(rv.code, 0, rv.stderr);
    assert.match(rv.stderr, /Revoked the credential of user:uma@example\.com/);
    assert.ok(!existsSync(file));
    assert.deepEqual((await refresh(second)).body, REVOKED);
    assert.equal((await listBuckets(narrow.body.access_token!)).status, 401, "its access tokens are refused");
    // The first credential was replaced, not revoked: it still works until revoked or the user is deleted.
    assert.equal((await refresh(first)).status, 200);

    // Deleting the user ends that one too.
    const del = await runCli(["users", "delete", USER, "--quiet"], { env });
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual((await refresh(first)).body, REVOKED);
    assert.equal((await listBuckets(token!)).status, 401);
  });

  test("login --user for the administrator; an unknown user gets nothing written", async () => {
    const env = envWith("gcloud-admin");
    const r = await runCli(["auth", "application-default", "login", "--user=admin@warrant.local"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /user:admin@warrant\.local/);
    const cred = JSON.parse(
      readFileSync(join(env.CLOUDSDK_CONFIG, "application_default_credentials.json"), "utf8"),
    );
    const t = await refresh(cred);
    const info = await fetch(`${h.url}/oauth2/v3/tokeninfo?access_token=${t.body.access_token}`);
    assert.equal(((await info.json()) as { email: string }).email, "admin@warrant.local");

    const env2 = envWith("gcloud-unknown");
    const unknown = await runCli(["auth", "application-default", "login", "--user=zed@example.com"], {
      env: env2,
    });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /404 User zed@example\.com not found/);
    assert.ok(!existsSync(join(env2.CLOUDSDK_CONFIG, "application_default_credentials.json")));

    // Without CLOUDSDK_CONFIG the file goes to ~/.config/gcloud.
    const home = await runCli(["auth", "application-default", "login", "--user=admin@warrant.local"], {
      env: base,
    });
    assert.equal(home.code, 0, home.stderr);
    const homeFile = join(base.HOME!, ".config", "gcloud", "application_default_credentials.json");
    assert.equal(statSync(homeFile).mode & 0o777, 0o600);
    assert.equal((await runCli(["auth", "application-default", "revoke"], { env: base })).code, 0);
    assert.ok(!existsSync(homeFile));
  });
});
