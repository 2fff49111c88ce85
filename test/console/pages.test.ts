/**
 * The console's IAM and service-account pages in real Chromium, signed in with a password: an
 * etag conflict (someone else changes the policy between the page's read and its write) is told
 * and shows the new policy; service accounts are created, disabled, enabled and deleted (the
 * delete first shows the bindings the account loses); a key's JSON is offered for download once.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { type Harness, startHarness } from "../support/harness.js";
import { checkPage, chromiumMissing, launch, signIn, type UserBrowser, userBrowser } from "./browser.js";
import { ADMIN, userWithPassword } from "./support.js";

const P = "demo-project";
const SA = `console-sa@${P}.iam.gserviceaccount.com`;
const skip = chromiumMissing();

describe("console pages: IAM conflicts, service accounts and keys", { skip, timeout: 180_000 }, () => {
  let h: Harness;
  let browser: Browser;
  let admin: UserBrowser;

  before(async () => {
    h = await startHarness({ agents: false });
    await userWithPassword(h, ADMIN, "admin password for the console test");
    browser = await launch();
    admin = await userBrowser(browser, h.url);
    await signIn(admin.page, ADMIN, "admin password for the console test", `/console/?project=${P}`);
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it("an etag conflict says someone else changed the policy, shows the new state, and can apply the change to it", async () => {
    const { page } = admin;
    await page.goto(`/console/iam?project=${P}`);
    await page.getByTestId("policy").waitFor();
    // Someone else (the same admin, through the API) writes after the page read the policy.
    const got = await h.call("POST", `/v1/projects/${P}:getIamPolicy`, { body: {} });
    const policy = got.body;
    policy.bindings.push({ role: "roles/viewer", members: ["user:other-writer@example.com"] });
    const set = await h.call("POST", `/v1/projects/${P}:setIamPolicy`, { body: { policy } });
    assert.equal(set.status, 200, set.text);

    await page.getByRole("textbox", { name: /^Principal/ }).fill("user:console-writer@example.com");
    await page.getByRole("searchbox", { name: /^Role/ }).fill("roles/browser");
    await page.locator('[data-role="roles/browser"]').click();
    await page.getByRole("button", { name: /^Grant/ }).click();
    const conflict = page.getByTestId("etag-conflict");
    await conflict.waitFor();
    assert.match((await conflict.textContent()) ?? "", /Someone else changed this policy/);
    // The page now shows the policy as the other writer left it, and nothing of ours was written.
    await page.locator('tr[data-member="user:other-writer@example.com"]').waitFor();
    assert.equal(await page.locator('tr[data-member="user:console-writer@example.com"]').count(), 0);
    const between = await h.call("POST", `/v1/projects/${P}:getIamPolicy`, { body: {} });
    assert.ok(!JSON.stringify(between.body).includes("console-writer"));
    await checkPage(page, "iam-conflict");

    await page.getByRole("button", { name: "Apply my change to the current policy" }).click();
    await page.getByRole("status").filter({ hasText: "Granted roles/browser" }).waitFor();
    const final = await h.call("POST", `/v1/projects/${P}:getIamPolicy`, { body: {} });
    const members = final.body.bindings.flatMap((b: { members: string[] }) => b.members);
    assert.ok(members.includes("user:other-writer@example.com"), "the other writer's change is kept");
    assert.ok(members.includes("user:console-writer@example.com"), "ours is applied on top of it");
    admin.assertNoErrors();
  });

  it("removes a binding", async () => {
    const { page } = admin;
    await page
      .getByRole("button", { name: "Remove roles/viewer from user:other-writer@example.com" })
      .click();
    await page.getByRole("status").filter({ hasText: "Removed user:other-writer@example.com" }).waitFor();
    const now = await h.call("POST", `/v1/projects/${P}:getIamPolicy`, { body: {} });
    assert.ok(!JSON.stringify(now.body).includes("other-writer"));
    admin.assertNoErrors();
  });

  it("creates, disables and enables a service account", async () => {
    const { page } = admin;
    await page.goto(`/console/service-accounts?project=${P}`);
    await page.getByTestId("accounts").waitFor();
    await page.getByLabel(/^Account id/).fill("console-sa");
    await page.getByLabel("Display name").fill("Made in the console");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const row = page.locator(`tr[data-account="${SA}"]`);
    await row.waitFor();
    assert.equal(
      (await h.call("GET", `/v1/projects/${P}/serviceAccounts/${SA}`)).body.displayName,
      "Made in the console",
    );

    await page.getByRole("button", { name: `Disable ${SA}` }).click();
    await row.getByTestId("status").filter({ hasText: "Disabled" }).waitFor();
    assert.equal((await h.call("GET", `/v1/projects/${P}/serviceAccounts/${SA}`)).body.disabled, true);
    await checkPage(page, "service-accounts");
    await page.getByRole("button", { name: `Enable ${SA}` }).click();
    await row.getByTestId("status").filter({ hasText: "Enabled" }).waitFor();
    assert.notEqual((await h.call("GET", `/v1/projects/${P}/serviceAccounts/${SA}`)).body.disabled, true);
    admin.assertNoErrors();
  });

  it("offers a new key's JSON for download once, never again", async () => {
    const { page } = admin;
    await page.getByRole("button", { name: `Keys of ${SA}` }).click();
    await page.getByTestId("keys-panel").waitFor();
    await page.getByRole("button", { name: "Create key" }).click();
    const offer = page.getByTestId("new-key");
    await offer.waitFor();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByTestId("download-key").click(),
    ]);
    const file = JSON.parse(readFileSync((await download.path())!, "utf8"));
    assert.equal(file.type, "service_account");
    assert.equal(file.client_email, SA);
    assert.match(file.private_key, /BEGIN PRIVATE KEY/);
    await checkPage(page, "key-created");

    // Dismissed: the file is gone from the page, and the list shows the key without its secret.
    await offer.getByRole("button", { name: "Done" }).click();
    assert.equal(await page.getByTestId("new-key").count(), 0);
    await page.locator(`tr[data-key="${file.private_key_id}"]`).waitFor();
    const html = await page.content();
    assert.ok(!html.includes("PRIVATE KEY") && !html.includes("blob:"), "no trace of the key file is left");
    // Reopening the keys lists it and offers nothing to download.
    await page.getByRole("button", { name: "Close keys" }).click();
    await page.getByRole("button", { name: `Keys of ${SA}` }).click();
    await page.locator(`tr[data-key="${file.private_key_id}"]`).waitFor();
    assert.equal(await page.getByTestId("download-key").count(), 0);
    // The API never hands the private key out again either.
    const again = await h.call("GET", `/v1/projects/${P}/serviceAccounts/${SA}/keys/${file.private_key_id}`);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.privateKeyData, undefined);

    await page.getByRole("button", { name: `Delete key ${file.private_key_id}` }).click();
    await page.locator(`tr[data-key="${file.private_key_id}"]`).waitFor({ state: "detached" });
    assert.equal(
      (await h.call("GET", `/v1/projects/${P}/serviceAccounts/${SA}/keys/${file.private_key_id}`)).status,
      404,
    );
    admin.assertNoErrors();
  });

  it("the audit log filters by principal, permission and result, and live tail adds new entries", async () => {
    const { page } = admin;
    await page.goto(`/console/audit?project=${P}`);
    await page.getByTestId("audit-entries").waitFor();
    await page.getByLabel("Principal").fill(ADMIN);
    await page.getByLabel("Permission").fill("iam.serviceAccounts.create");
    await page.getByLabel("Result").selectOption("granted");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL(/permission=iam\.serviceAccounts\.create/);
    const rows = page.getByTestId("audit-entry");
    await rows.first().waitFor();
    const before = await rows.count();
    for (const text of await rows.allTextContents()) {
      assert.match(text, /iam\.serviceAccounts\.create/);
      assert.match(text, /granted/);
    }
    await checkPage(page, "audit-filtered");
    await page.getByLabel("Live tail").check();
    const made = await h.call("POST", `/v1/projects/${P}/serviceAccounts`, {
      body: { accountId: "tailed-account" },
    });
    assert.equal(made.status, 200, made.text);
    const rid = made.headers.get("x-request-id")!;
    await page.locator(`[data-testid="audit-entry"][data-request-id="${rid}"]`).waitFor({ timeout: 15_000 });
    assert.equal(await rows.count(), before + 1);
    // The denied filter shows none of these granted creations.
    await page.getByLabel("Result").selectOption("denied");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.getByText("No entries match.").waitFor();
    admin.assertNoErrors();
  });

  it("deleting a service account first shows the bindings it loses", async () => {
    const { page } = admin;
    const got = await h.call("POST", `/v1/projects/${P}:getIamPolicy`, { body: {} });
    const policy = got.body;
    policy.bindings.push({ role: "roles/storage.objectAdmin", members: [`serviceAccount:${SA}`] });
    assert.equal((await h.call("POST", `/v1/projects/${P}:setIamPolicy`, { body: { policy } })).status, 200);

    await page.goto(`/console/service-accounts?project=${P}`);
    await page.getByRole("button", { name: `Delete ${SA}` }).click();
    const lost = page.getByTestId("lost-bindings");
    await lost.waitFor();
    assert.match((await lost.textContent()) ?? "", /roles\/storage\.objectAdmin/);
    await checkPage(page, "service-account-delete");
    await page
      .getByTestId("delete-panel")
      .getByRole("button", { name: `Delete ${SA}` })
      .click();
    await page.locator(`tr[data-account="${SA}"]`).waitFor({ state: "detached" });
    assert.equal((await h.call("GET", `/v1/projects/${P}/serviceAccounts/${SA}`)).status, 404);
    admin.assertNoErrors();
  });
});
