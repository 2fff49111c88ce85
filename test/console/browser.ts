/**
 * Real Chromium for the console's tests: Debian's /usr/bin/chromium driven by playwright-core, a
 * fresh context (cookie jar) per user, every console error and page error collected (a test fails
 * on any), axe run on every page checked, and a screenshot of each page at a desktop and a phone
 * viewport under .test-artifacts/console/.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { AxeBuilder } from "@axe-core/playwright";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.WARRANT_TEST_CHROMIUM ?? "/usr/bin/chromium";
export const ARTIFACTS = join(process.cwd(), ".test-artifacts", "console");
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Why the browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    timeout: 30_000,
  });
}

export interface UserBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  /** Fails if the page logged an error. */
  assertNoErrors(): void;
}

/**
 * A fresh context (its own cookies) with one page. Failed HTTP responses are not console errors of
 * the application: Chromium logs "Failed to load resource" for every 4xx fetch, including the 403s
 * the console exists to explain; those of /console/api are recorded only when `strictNetwork` is set.
 */
export async function userBrowser(
  browser: Browser,
  baseURL: string,
  opts: { strictNetwork?: boolean } = {},
): Promise<UserBrowser> {
  const context = await browser.newContext({ baseURL, viewport: DESKTOP, acceptDownloads: true });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    // Only the API's answers, which the page shows (ApiErrorView); a missing asset still counts.
    if (
      !opts.strictNetwork &&
      /^Failed to load resource: the server responded with a status of 4\d\d/.test(text) &&
      new URL(msg.location().url, baseURL).pathname.startsWith("/console/api/")
    )
      return;
    errors.push(`console: ${text} (${msg.location().url})`);
  });
  page.on("pageerror", (err) => errors.push(`page error: ${err.message}`));
  return {
    context,
    page,
    errors,
    assertNoErrors() {
      assert.deepEqual(errors, [], `the browser logged errors:\n${errors.join("\n")}`);
    },
  };
}

/** Violations axe rates serious or critical on the page as it is now. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact}: ${v.id} (${v.help}) at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/**
 * Checks the page as a user sees it now: no serious or critical accessibility violation at either
 * viewport, and a screenshot of each (`<name>-desktop.png`, `<name>-phone.png`).
 */
export async function checkPage(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const before = page.viewportSize() ?? DESKTOP;
  try {
    for (const [label, size] of [
      ["desktop", DESKTOP],
      ["phone", PHONE],
    ] as const) {
      await page.setViewportSize(size);
      const violations = await seriousViolations(page);
      assert.deepEqual(violations, [], `${name} at ${label}: accessibility violations`);
      await page.screenshot({ path: join(ARTIFACTS, `${name}-${label}.png`), fullPage: true });
      // Nothing may stick out sideways on a phone: the page scrolls vertically only.
      if (label === "phone") {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${name} at ${label}: the page is ${overflow}px wider than the viewport`);
      }
    }
  } finally {
    await page.setViewportSize(before);
  }
}

/** Signs in through the console's sign-in (the authorization server's password page). */
export async function signIn(page: Page, email: string, password: string, next = "/console/"): Promise<void> {
  await page.goto(next);
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByTestId("signed-in-as").waitFor();
  assert.equal(await page.getByTestId("signed-in-as").textContent(), email);
}
