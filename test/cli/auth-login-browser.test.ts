/**
 * Must-show of issue 15: `warrant auth login --no-browser`, completed by a real Chromium driven to the
 * printed URL, yields a credential that `warrant storage ls` then uses as the active account. Also
 * `warrant auth application-default login --no-browser` (a signed-in browser is not asked again),
 * screenshots of the sign-in page at desktop and phone width, keyboard focus and axe.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AxeBuilder } from "@axe-core/playwright";
import type { Browser, BrowserContext } from "playwright-core";
import type { Runtime } from "../../src/cli/io.js";
import { run } from "../../src/cli/main.js";
import { GCLOUD_ADC_CLIENT_ID, WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { artifactPath, launchChromium, noChromium } from "../support/browser.js";
import { type Harness, startHarness } from "../support/harness.js";
import { createUserWithPassword } from "../support/signin.js";
import { runCli } from "./helpers.js";

const USER = "lena@example.com";
const PASSWORD = "lena's browser password";
const BUCKET = "lena-login-bucket";

/** Runs the CLI in-process; `url` resolves with the sign-in URL it prints, `done` with its exit. */
function startCli(argv: string[], env: Record<string, string>) {
  let stderr = "";
  let stdout = "";
  let gotUrl!: (u: string) => void;
  const url = new Promise<string>((r) => {
    gotUrl = r;
  });
  const rt: Runtime = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: {
      write: (s: string) => {
        stderr += s;
        const m = /(http:\/\/127\.0\.0\.1:\d+\/o\/oauth2\/auth\?\S+)/.exec(stderr);
        if (m) gotUrl(m[1]!);
      },
    },
    env,
    cwd: process.cwd(),
    fetch: globalThis.fetch,
    stdinIsTTY: false,
  };
  const done = run(argv, rt).then((code) => ({ code, stdout, stderr }));
  return {
    url: Promise.race([url, done.then((d) => Promise.reject(new Error(`CLI exited: ${d.stderr}`)))]),
    done,
  };
}

describe("warrant auth login in a real browser", { skip: noChromium() }, () => {
  let h: Harness;
  let dir: string;
  let browser: Browser;
  let context: BrowserContext;
  /** The user's shell: the endpoint, a config directory of their own, and no credential named. */
  let userEnv: Record<string, string>;

  before(async () => {
    h = await startHarness();
    await createUserWithPassword(h, USER, PASSWORD);
    const p = await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
    const s = await h.call("POST", "/v1/projects/demo-project:setIamPolicy", {
      body: {
        policy: {
          bindings: [...p.body.bindings, { role: "roles/storage.admin", members: [`user:${USER}`] }],
          etag: p.body.etag,
        },
      },
    });
    assert.equal(s.status, 200, s.text);
    const b = await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: BUCKET } });
    assert.equal(b.status, 200, b.text);
    dir = mkdtempSync(join(tmpdir(), "warrant-login-"));
    userEnv = {
      WARRANT_ENDPOINT: h.url,
      WARRANT_PROJECT: "demo-project",
      WARRANT_CONFIG_DIR: join(dir, "cfg"),
      WARRANT_STATE_DIR: join(dir, "no-state"),
      HOME: join(dir, "home"),
      CLOUDSDK_CONFIG: join(dir, "gcloud"),
    };
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("before login the user's shell has no credential", async () => {
    const r = await runCli(["storage", "ls"], { env: userEnv });
    assert.notEqual(r.code, 0);
  });

  test("auth login --no-browser, completed in Chromium, then storage ls acts as the user", async () => {
    const cli = startCli(["auth", "login", "--no-browser"], userEnv);
    const url = await cli.url;
    assert.match(url, new RegExp(`client_id=${WARRANT_CLI_CLIENT_ID.replace(/\./g, "\\.")}`));
    assert.match(url, /redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A\d+%2F/);
    assert.match(url, /code_challenge_method=S256/);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(url);
    await page.screenshot({ path: artifactPath("sign-in-page.png"), fullPage: true });
    // Keyboard: the first Tab lands on the e-mail field, which shows a focus ring.
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "email");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    assert.notEqual(outline, "none");
    const axe = await new AxeBuilder({ page }).analyze();
    const serious = axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(
      serious.map((v) => v.id),
      [],
    );
    await page.getByLabel("Email").fill(USER);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByText("You are signed in").waitFor();
    await page.screenshot({ path: artifactPath("sign-in-done.png") });
    const out = await cli.done;
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, new RegExp(`You are now logged in as \\[${USER}\\]`));
    assert.deepEqual(errors, []);

    const cfg = JSON.parse(readFileSync(join(userEnv.WARRANT_CONFIG_DIR!, "config.json"), "utf8"));
    const file = cfg.credential_file as string;
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const cred = JSON.parse(readFileSync(file, "utf8"));
    assert.equal(cred.type, "authorized_user");
    assert.equal(cred.client_id, WARRANT_CLI_CLIENT_ID);
    assert.equal(cred.client_secret, undefined, "a public client has no secret");
    assert.match(cred.refresh_token, /^1\/\//);

    const ls = await runCli(["storage", "ls"], { env: userEnv });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, new RegExp(`gs://${BUCKET}/`));
    const who = await runCli(["auth", "list"], { env: userEnv });
    assert.match(who.stdout, new RegExp(`\\*\\s+${USER}`));
    // The user's roles, and only those: creating a service account is refused.
    const denied = await runCli(["iam", "service-accounts", "create", "lena-sa"], { env: userEnv });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /403/);
  });

  test("application-default login --no-browser: the signed-in browser is not asked again", async () => {
    const cli = startCli(["auth", "application-default", "login", "--no-browser"], userEnv);
    const page = await context.newPage();
    await page.goto(await cli.url);
    await page.getByText("You are signed in").waitFor();
    const out = await cli.done;
    assert.equal(out.code, 0, out.stderr);
    const file = join(userEnv.CLOUDSDK_CONFIG!, "application_default_credentials.json");
    const cred = JSON.parse(readFileSync(file, "utf8"));
    assert.equal(cred.client_id, GCLOUD_ADC_CLIENT_ID);
    assert.equal(cred.account, USER);
    assert.equal(cred.token_uri, `${h.url}/token`);
    const res = await fetch(cred.token_uri, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        client_id: cred.client_id,
        client_secret: cred.client_secret,
        refresh_token: cred.refresh_token,
      }),
    });
    const t = (await res.json()) as { access_token?: string };
    assert.ok(t.access_token, JSON.stringify(t));
    const list = await h.call("GET", "/storage/v1/b?project=demo-project", { token: t.access_token });
    assert.equal(list.status, 200);
    // Revoking it (as for an issued credential) ends it.
    const revoke = await runCli(["auth", "application-default", "revoke"], { env: userEnv });
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.equal(
      (await h.call("GET", "/storage/v1/b?project=demo-project", { token: t.access_token })).status,
      401,
    );
  });

  test("the sign-in page at phone width", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await phone.newPage();
    const cli = startCli(["auth", "login", "--no-browser"], {
      ...userEnv,
      WARRANT_CONFIG_DIR: join(dir, "cfg2"),
    });
    await page.goto(await cli.url);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `no horizontal scrolling (scrollWidth ${width})`);
    await page.screenshot({ path: artifactPath("sign-in-page-phone.png"), fullPage: true });
    await page.getByLabel("Email").fill(USER);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByText("You are signed in").waitFor();
    assert.equal((await cli.done).code, 0);
    await phone.close();
  });
});
