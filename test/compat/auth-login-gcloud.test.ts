/**
 * The real gcloud signs a user in at Warrant: `gcloud auth login --no-launch-browser` with its auth
 * and token hosts pointed at Warrant (HTTPS, the installation's CA), the sign-in completed at
 * Warrant's page, the code that page shows pasted into gcloud. Then `gcloud auth list` names the
 * user and `gcloud auth print-access-token` refreshes at Warrant, yielding a token that acts as the
 * user. Configured only through gcloud's documented properties.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { GCLOUD_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { type Harness, startHarness } from "../support/harness.js";
import { createUserWithPassword, signIn } from "../support/signin.js";
import { GCLOUD, GCLOUD_MISSING } from "../support/tools.js";

const run = promisify(execFile);
const USER = "gia@example.com";
const PASSWORD = "gia's gcloud password";

describe("gcloud auth login against Warrant", { skip: GCLOUD ? false : GCLOUD_MISSING }, () => {
  let h: Harness;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    h = await startHarness({ tls: true });
    await createUserWithPassword(h, USER, PASSWORD);
    const p = await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
    const s = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", {
      body: {
        policy: {
          bindings: [
            ...p.body.bindings,
            { role: "roles/iam.serviceAccountViewer", members: [`user:${USER}`] },
          ],
          etag: p.body.etag,
        },
      },
    });
    assert.equal(s.status, 200, s.text);
    dir = mkdtempSync(join(tmpdir(), "warrant-gcloud-login-"));
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      CLOUDSDK_CONFIG: join(dir, "config"),
      CLOUDSDK_AUTH_AUTH_HOST: `${h.server.httpsUrl}/o/oauth2/auth`,
      CLOUDSDK_AUTH_TOKEN_HOST: `${h.server.httpsUrl}/token`,
      CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE: h.server.caFile,
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
      CLOUDSDK_CORE_CHECK_GCE_METADATA: "false",
      NO_PROXY: "127.0.0.1,localhost",
      no_proxy: "127.0.0.1,localhost",
    };
  });
  after(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("--no-launch-browser: sign in at Warrant's page, paste the code, then refresh at Warrant", async () => {
    const child = spawn(GCLOUD!, ["auth", "login", "--no-launch-browser"], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const url = await new Promise<URL>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`no URL from gcloud: ${stderr}`)), 60_000);
      child.stderr.on("data", (d) => {
        stderr += d;
        // The whole URL has arrived once a line break follows it.
        const m = /(https:\/\/\S+\/o\/oauth2\/auth\?\S+)\s*\n/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          ok(new URL(m[1]!));
        }
      });
      child.once("exit", () => fail(new Error(`gcloud exited: ${stderr}`)));
    });
    const q = url.searchParams;
    assert.equal(q.get("client_id"), GCLOUD_CLIENT_ID);
    assert.equal(q.get("redirect_uri"), "https://sdk.cloud.google.com/authcode.html");
    assert.equal(q.get("code_challenge_method"), "S256");
    // A browser at Warrant's page (over plain http to the same port: the page is the same).
    const page = await signIn(h, url.search.slice(1), USER, PASSWORD);
    assert.equal(page.res.status, 200, page.html);
    const code = /id="code"[^>]*>([^<]+)</.exec(page.html)![1]!;
    const exited = new Promise<number>((ok) => child.once("exit", (c) => ok(c ?? 1)));
    child.stdin.write(`${code}\n`);
    child.stdin.end();
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, new RegExp(`You are now logged in as \\[${USER}\\]`));

    const list = await run(GCLOUD!, ["auth", "list", "--format=value(account)"], { env });
    assert.equal(list.stdout.trim(), USER);
    // A refresh at Warrant: the token acts as the user, with her role and no more.
    const printed = await run(GCLOUD!, ["auth", "print-access-token"], { env });
    const token = printed.stdout.trim();
    assert.equal((await h.call("GET", "/v1/projects/demo-project/serviceAccounts", { token })).status, 200);
    assert.equal(
      (
        await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
          token,
          body: { accountId: "gia-sa" },
        })
      ).status,
      403,
    );
  });
});
