/**
 * The console's Instances page in Chromium: the project's instances in every zone, one instance's
 * account, scopes and what its metadata server serves; create one running as an account with
 * scopes and metadata, stop, start, delete — each checked through the Compute API — and the
 * actAs denial of a user who administers instances but may not act as the account, shown as the
 * API explains it. Screenshots at 1280×800 and 390×844, axe, no console errors.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { type Harness, startHarness } from "../support/harness.js";
import { checkPage, chromiumMissing, grant, launch, signedIn, type UserBrowser } from "./fleet-support.js";

const P = "demo-project";
const SA = `demo-sa@${P}.iam.gserviceaccount.com`;
const base = `/compute/v1/projects/${P}/zones`;

describe("the instances page in Chromium", { skip: chromiumMissing() ?? false }, () => {
  let h: Harness;
  let browser: Browser;
  let tab: UserBrowser;
  before(async () => {
    h = await startHarness({ agents: false });
    browser = await launch();
    tab = await signedIn(h, browser, "admin@warrant.local");
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  test("lists the seeded instance; its details show the account, scopes and the metadata server's paths", async () => {
    const { page } = tab;
    await page.goto(`${h.url}/console/instances?project=${P}`);
    const row = page.locator("[data-testid=instance-row][data-name=demo-vm]");
    await row.waitFor();
    assert.equal(await row.getByTestId("instance-status").textContent(), "RUNNING");
    await row.getByRole("link", { name: "demo-vm" }).click();
    assert.match(page.url(), /instance=us-central1-a%2Fdemo-vm/);
    const details = page.getByTestId("instance-details");
    await details.getByTestId("instance-service-account").waitFor();
    assert.equal(await details.getByTestId("instance-service-account").textContent(), SA);
    const api = (await h.call("GET", `${base}/us-central1-a/instances/demo-vm`)).body;
    const scopes = await details.getByTestId("instance-scopes").locator("li").allTextContents();
    assert.deepEqual(
      scopes,
      api.serviceAccounts[0].scopes.map((s: string) => s.replace("https://www.googleapis.com/auth/", "")),
    );
    const mds = details.getByRole("table", { name: "What demo-vm's metadata server serves" });
    assert.equal(
      await mds
        .getByRole("row", { name: /instance\/service-accounts\/default\/email/ })
        .locator("td")
        .nth(1)
        .textContent(),
      SA,
    );
    await checkPage(page, "instances");
    tab.assertNoErrors();
  });

  test("create as an account with scopes and metadata; stop, start and delete", async () => {
    const { page } = tab;
    await page.goto(`${h.url}/console/instances?project=${P}`);
    const form = page.getByRole("form", { name: "Create an instance" });
    await form.getByLabel("Name", { exact: true }).fill("web-1");
    await form.getByLabel("Zone").selectOption("europe-west1-b");
    await form.getByLabel(/Service account/).fill(SA);
    // cloud-platform is checked by default; add storage-ro.
    await form.getByRole("checkbox", { name: /storage-ro/ }).check();
    await form.getByLabel(/Metadata/).fill("role=web\nowner=platform");
    await form.getByRole("button", { name: "Create instance" }).click();
    await page.getByRole("status").filter({ hasText: "Created instance web-1" }).waitFor();
    const created = await h.call("GET", `${base}/europe-west1-b/instances/web-1`);
    assert.equal(created.status, 200, created.text);
    assert.deepEqual(created.body.serviceAccounts, [
      {
        email: SA,
        scopes: [
          "https://www.googleapis.com/auth/cloud-platform",
          "https://www.googleapis.com/auth/devstorage.read_only",
        ],
      },
    ]);
    assert.deepEqual(created.body.metadata.items, [
      { key: "role", value: "web" },
      { key: "owner", value: "platform" },
    ]);
    // The page went to the new instance's details, with its metadata items as the server serves them.
    const details = page.getByTestId("instance-details");
    await details.getByRole("row", { name: /instance\/attributes\/role/ }).waitFor();
    assert.match(page.url(), /instance=europe-west1-b%2Fweb-1/);

    const row = page.locator("[data-testid=instance-row][data-name=web-1]");
    await row.getByRole("button", { name: "Stop web-1" }).click();
    await row.getByTestId("instance-status").filter({ hasText: "TERMINATED" }).waitFor();
    assert.equal((await h.call("GET", `${base}/europe-west1-b/instances/web-1`)).body.status, "TERMINATED");
    assert.ok(await row.getByRole("button", { name: "Stop web-1" }).isDisabled());
    await row.getByRole("button", { name: "Start web-1" }).click();
    await row.getByTestId("instance-status").filter({ hasText: "RUNNING" }).waitFor();
    assert.equal((await h.call("GET", `${base}/europe-west1-b/instances/web-1`)).body.status, "RUNNING");

    // Delete asks once more; keyboard only.
    await row.getByRole("button", { name: "Delete web-1" }).focus();
    await page.keyboard.press("Enter");
    await row.getByRole("button", { name: "Delete web-1?" }).focus();
    await page.keyboard.press("Enter");
    await row.waitFor({ state: "detached" });
    assert.equal((await h.call("GET", `${base}/europe-west1-b/instances/web-1`)).status, 404);
    tab.assertNoErrors();
  });

  test("an instance admin without actAs on the account sees the API's explained denial", async () => {
    await grant(h, "roles/compute.instanceAdmin.v1", "user:frank@example.com");
    const frank = await signedIn(h, browser, "frank@example.com");
    const { page } = frank;
    await page.goto(`${h.url}/console/instances?project=${P}`);
    await page.locator("[data-testid=instance-row][data-name=demo-vm]").waitFor();
    const form = page.getByRole("form", { name: "Create an instance" });
    await form.getByLabel("Name", { exact: true }).fill("franks-vm");
    await form.getByLabel(/Service account/).fill(SA);
    await form.getByRole("button", { name: "Create instance" }).click();
    const err = form.getByTestId("api-error");
    await err.waitFor();
    assert.equal(await err.getAttribute("data-status"), "PERMISSION_DENIED");
    const message = String(await err.locator(".error-message").textContent());
    assert.match(message, /The user does not have access to service account/);
    assert.match(message, /frank@example\.com/);
    const why = String(await form.getByTestId("denial-explanation").textContent());
    assert.match(why, /iam\.serviceAccounts\.actAs/);
    assert.match(why, /user:frank@example\.com/);
    assert.match(why, /roles\/iam\.serviceAccountUser/);
    await form.getByRole("link", { name: "Ask the policy troubleshooter" }).waitFor();
    await checkPage(page, "instances-actas-denied");
    assert.equal((await h.call("GET", `${base}/us-central1-a/instances/franks-vm`)).status, 404);
    frank.assertNoErrors();
    await frank.context.close();
  });
});
