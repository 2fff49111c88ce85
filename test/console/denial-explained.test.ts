/**
 * The console's story of a denial, in real Chromium with two users in their own browser contexts:
 * a user with a password signs in and is denied the project's IAM policy (the page shows the
 * explained 403 and its request id); the administrator, signed in in their own browser, asks the
 * troubleshooter the same question (it explains the denial), finds the denied call in the audit
 * log by that request id, and grants roles/iam.securityReviewer; the user's page then shows the
 * policy. Every page is checked with axe and photographed at 1280×800 and 390×844.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { type Harness, startHarness } from "../support/harness.js";
import { checkPage, chromiumMissing, launch, signIn, type UserBrowser, userBrowser } from "./browser.js";
import { ADMIN, userWithPassword } from "./support.js";

const P = "demo-project";
const ALICE = "alice@example.com";
const PERMISSION = "resourcemanager.projects.getIamPolicy";
const skip = chromiumMissing();

describe("console: a denial explained, troubleshot, audited and fixed", { skip, timeout: 180_000 }, () => {
  let h: Harness;
  let browser: Browser;
  let alice: UserBrowser;
  let admin: UserBrowser;
  /** What alice's denied page offered: the request id and the links it made from it. */
  let requestId = "";
  let troubleshooterHref = "";
  let auditHref = "";

  before(async () => {
    h = await startHarness({ agents: false });
    await userWithPassword(h, ALICE, "correct horse battery staple");
    await userWithPassword(h, ADMIN, "admin password for the console test");
    browser = await launch();
    alice = await userBrowser(browser, h.url);
    admin = await userBrowser(browser, h.url);
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it("the signed-out console offers sign-in", async () => {
    await alice.page.goto("/console/");
    await alice.page.getByRole("link", { name: "Sign in" }).waitFor();
    await checkPage(alice.page, "signed-out");
    alice.assertNoErrors();
  });

  it("a user signs in with a password and is denied the project's IAM policy, explained", async () => {
    await signIn(alice.page, ALICE, "correct horse battery staple", `/console/iam?project=${P}`);
    const err = alice.page.getByTestId("api-error");
    await err.waitFor();
    assert.equal(await err.getAttribute("data-status"), "PERMISSION_DENIED");
    const explanation = alice.page.getByTestId("denial-explanation");
    const text = (await explanation.textContent()) ?? "";
    assert.match(text, new RegExp(`user:${ALICE}`));
    assert.match(text, new RegExp(PERMISSION.replace(/\./g, "\\.")));
    assert.match(text, /projects\/demo-project/);
    assert.match(text, /roles\/iam\.securityReviewer/, "the roles that would grant it are named");
    requestId = (await alice.page.getByTestId("request-id").textContent()) ?? "";
    assert.match(requestId, /^[0-9a-f-]{36}$/);
    troubleshooterHref = (await err
      .getByRole("link", { name: "Ask the policy troubleshooter" })
      .getAttribute("href"))!;
    auditHref = (await err.getByRole("link", { name: "Find it in the audit log" }).getAttribute("href"))!;
    await checkPage(alice.page, "iam-denied");
    alice.assertNoErrors();
  });

  it("the administrator's troubleshooter explains that denial", async () => {
    await signIn(admin.page, ADMIN, "admin password for the console test");
    await admin.page.goto(troubleshooterHref);
    const decision = admin.page.getByTestId("decision");
    await decision.waitFor();
    assert.equal(await decision.getAttribute("data-access"), "NOT_GRANTED");
    const reason = (await admin.page.getByTestId("decision-reason").textContent()) ?? "";
    assert.match(
      reason,
      new RegExp(`user:${ALICE} does not have ${PERMISSION.replace(/\./g, "\\.")} on projects/${P}`),
    );
    assert.match((await decision.textContent()) ?? "", /roles\/iam\.securityReviewer/);
    // The question is in the URL: the same link answers the same way on a fresh load.
    assert.match(admin.page.url(), /principal=user%3Aalice%40example\.com/);
    await checkPage(admin.page, "troubleshooter");
    admin.assertNoErrors();
  });

  it("the audit page shows the denied call under the request id alice saw", async () => {
    await admin.page.goto(auditHref);
    // Two entries carry the id: the console's forwarding of the call, and the API's, with its checks.
    const rows = admin.page.locator(`[data-testid="audit-entry"][data-request-id="${requestId}"]`);
    const row = rows.filter({ hasText: PERMISSION });
    await row.waitFor();
    assert.equal(await rows.count(), 2);
    assert.match((await rows.filter({ hasNotText: PERMISSION }).textContent()) ?? "", /\/console\/api\//);
    const text = (await row.textContent()) ?? "";
    assert.match(text, new RegExp(ALICE));
    assert.match(text, /denied/);
    assert.match(text, new RegExp(PERMISSION.replace(/\./g, "\\.")));
    assert.equal(await row.getByTestId("entry-request-id").textContent(), requestId);
    await checkPage(admin.page, "audit");
    admin.assertNoErrors();
  });

  it("the administrator grants roles/iam.securityReviewer with the role picker", async () => {
    await admin.page.goto(`/console/iam?project=${P}`);
    await admin.page.getByTestId("policy").waitFor();
    await admin.page.getByRole("textbox", { name: /^Principal/ }).fill(`user:${ALICE}`);
    await admin.page.getByRole("searchbox", { name: /^Role/ }).fill("securityReviewer");
    await admin.page.locator('[data-role="roles/iam.securityReviewer"]').click();
    const details = admin.page.getByTestId("role-details");
    await details.waitFor();
    assert.match((await details.textContent()) ?? "", new RegExp(PERMISSION.replace(/\./g, "\\.")));
    await checkPage(admin.page, "iam-role-picker");
    await admin.page.getByRole("button", { name: /^Grant/ }).click();
    await admin.page.getByRole("status").filter({ hasText: "Granted roles/iam.securityReviewer" }).waitFor();
    const row = admin.page.locator(`tr[data-member="user:${ALICE}"]`);
    assert.match((await row.textContent()) ?? "", /roles\/iam\.securityReviewer/);
    await admin.page.getByRole("tab", { name: "By role" }).click();
    await admin.page.locator('tr[data-role="roles/iam.securityReviewer"]').waitFor();
    await checkPage(admin.page, "iam-by-role");
    admin.assertNoErrors();
  });

  it("the user's page then shows the policy", async () => {
    await alice.page.getByRole("button", { name: "Reload" }).click();
    await alice.page.getByTestId("policy").waitFor();
    assert.equal(await alice.page.getByTestId("api-error").count(), 0);
    const row = alice.page.locator(`tr[data-member="user:${ALICE}"]`);
    assert.match((await row.textContent()) ?? "", /roles\/iam\.securityReviewer/);
    assert.match(
      (await alice.page.locator(`tr[data-member="user:${ADMIN}"]`).textContent()) ?? "",
      /roles\/owner/,
    );
    await checkPage(alice.page, "iam-allowed");
    alice.assertNoErrors();
  });

  it("the project page shows the number, the parent and the default compute account", async () => {
    await admin.page.goto(`/console/?project=${P}`);
    const facts = admin.page.getByTestId("project-facts");
    await facts.waitFor();
    const project = await h.call("GET", `/v1/projects/${P}`);
    const text = (await facts.textContent()) ?? "";
    assert.ok(text.includes(project.body.projectNumber));
    assert.ok(text.includes(`organizations/${project.body.parent.id}`));
    assert.ok(text.includes(`${project.body.projectNumber}-compute@developer.gserviceaccount.com`));
    await checkPage(admin.page, "project");
    admin.assertNoErrors();
  });

  it("the keyboard reaches the skip link first, and it moves focus to the page", async () => {
    await admin.page.goto(`/console/iam?project=${P}`);
    await admin.page.getByTestId("policy").waitFor();
    await admin.page.keyboard.press("Tab");
    const focused = await admin.page.evaluate(() => document.activeElement?.textContent);
    assert.equal(focused, "Skip to main content");
    await admin.page.keyboard.press("Enter");
    assert.equal(await admin.page.evaluate(() => document.activeElement?.id), "main");
  });

  it("signing out ends the session: the next call asks to sign in", async () => {
    await alice.page.getByRole("button", { name: `Signed in as ${ALICE}` }).click();
    await alice.page.getByRole("button", { name: "Sign out" }).click();
    await alice.page.getByText("You are signed out.").waitFor();
    await alice.page.goto(`/console/iam?project=${P}`);
    await alice.page.getByRole("link", { name: "Sign in" }).waitFor();
    alice.assertNoErrors();
  });
});
