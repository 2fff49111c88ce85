/**
 * What the instances, storage and fleet-flow browser tests share: Debian's Chromium driven by
 * playwright-core, a console session for a user, screenshots at a desktop and a phone size,
 * axe (no serious or critical violation), and the browser's console errors collected.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { AxeBuilder } from "@axe-core/playwright";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import type { Harness } from "../support/harness.js";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_MISSING = existsSync(CHROMIUM)
  ? false
  : "Chromium is not at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)";

/** Screenshots go here (gitignored). */
export const ARTIFACTS = new URL("../../../.test-artifacts/console/", import.meta.url).pathname;

export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

export interface Tab {
  context: BrowserContext;
  page: Page;
  /** Console messages of type error and uncaught page errors, as they happened. */
  errors: string[];
}

/** A fresh browser context (its own cookies) and page, recording console errors. */
export async function newTab(browser: Browser, viewport = VIEWPORTS.desktop): Promise<Tab> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  return { context, page, errors };
}

/**
 * Signs the tab in as `email` by giving it a console session holding that user's token, as the
 * console's sign-in callback would. The fleet-flow test signs in through the real sign-in page
 * instead; these page tests are about the pages, not sign-in.
 */
export async function giveSession(h: Harness, tab: Tab, email: string, token: string) {
  const id = h.server.console.sessions.create({
    principal: `user:${email}`,
    email,
    accessToken: token,
    accessExpiresAt: Date.now() + 3600_000,
    refreshToken: undefined,
  });
  await tab.context.addCookies([{ name: "warrant_console", value: id, url: h.url }]);
}

/** Saves a full-page screenshot as .test-artifacts/console/<name>.png. */
export async function screenshot(page: Page, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Runs axe on the page; fails on any serious or critical violation, naming each. */
export async function assertAccessible(page: Page, what: string) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `axe on ${what}`,
  );
}

/** Screenshots at both sizes and axe at both, for one page already loaded in `tab`. */
export async function checkPage(tab: Tab, name: string) {
  for (const [size, viewport] of Object.entries(VIEWPORTS)) {
    await tab.page.setViewportSize(viewport);
    await screenshot(tab.page, `${name}-${size}`);
    await assertAccessible(tab.page, `${name} at ${viewport.width}×${viewport.height}`);
  }
  await tab.page.setViewportSize(VIEWPORTS.desktop);
}

/** Adds a binding to a resource's IAM policy through the public API, as the admin. */
export async function grant(
  h: Harness,
  role: string,
  member: string,
  resource = "/v1/projects/demo-project",
) {
  const p = (await h.call("POST", `${resource}:getIamPolicy`, { body: {} })).body;
  p.bindings = [...(p.bindings ?? []), { role, members: [member] }];
  const r = await h.call("POST", `${resource}:setIamPolicy`, { body: { policy: p } });
  assert.equal(r.status, 200, r.text);
}

/**
 * Runs `action` (which starts an upload and waits for its end) while sampling the upload's
 * <progress> value two ways: in the page, on every change of the element (a MutationObserver),
 * and from the test, reading the attribute every 25 ms. Returns both sequences of distinct values.
 */
export async function sampleProgress(
  page: Page,
  action: () => Promise<void>,
): Promise<{ inPage: number[]; polled: number[] }> {
  await page.evaluate(() => {
    const w = window as unknown as { __progress: number[] };
    w.__progress = [];
    const record = () => {
      const p = document.querySelector("[data-testid=upload-progress] progress");
      const v = p?.getAttribute("value");
      if (v !== null && v !== undefined && w.__progress.at(-1) !== Number(v)) w.__progress.push(Number(v));
    };
    new MutationObserver(record).observe(document.body, { subtree: true, attributes: true, childList: true });
  });
  const polled: number[] = [];
  let running = true;
  const poller = (async () => {
    while (running) {
      const v = await page
        .locator("[data-testid=upload-progress] progress")
        .getAttribute("value", { timeout: 100 })
        .catch(() => null);
      if (v !== null && polled.at(-1) !== Number(v)) polled.push(Number(v));
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  try {
    await action();
  } finally {
    running = false;
    await poller;
  }
  const inPage = await page.evaluate(() => (window as unknown as { __progress: number[] }).__progress);
  return { inPage, polled };
}

/** The bar started at 0, rose through several values strictly between 0 and the total, never fell, and ended full. */
export function assertMoving(samples: { inPage: number[]; polled: number[] }, total: number, minSteps = 3) {
  const seq = samples.inPage;
  const show = JSON.stringify(samples);
  assert.equal(seq[0], 0, `the bar starts empty: ${show}`);
  assert.equal(seq.at(-1), total, `the bar ends full: ${show}`);
  for (let i = 1; i < seq.length; i++) assert.ok(seq[i]! > seq[i - 1]!, `the bar never goes back: ${show}`);
  const between = seq.filter((v) => v > 0 && v < total);
  assert.ok(between.length >= minSteps, `at least ${minSteps} values between empty and full: ${show}`);
}
