/**
 * What the instances, storage and fleet-flow browser tests share, on top of test/console/browser.ts
 * (Chromium, axe, screenshots, sign-in through the password page): a user with a password signed in
 * in a browser of their own, an IAM grant, and sampling an upload's progress bar.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import type { Harness } from "../support/harness.js";
import { signIn, type UserBrowser, userBrowser } from "./browser.js";
import { userWithPassword } from "./support.js";

export { checkPage, chromiumMissing, launch, type UserBrowser } from "./browser.js";

export const PASSWORD = "correct horse battery staple 42";

/**
 * A browser context of `email`'s own, signed in to the console with a password through the
 * authorization server's sign-in page. The admin sets the password (creating the user if needed).
 */
export async function signedIn(h: Harness, browser: Browser, email: string): Promise<UserBrowser> {
  await userWithPassword(h, email, PASSWORD);
  const u = await userBrowser(browser, h.url);
  await signIn(u.page, email, PASSWORD);
  return u;
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
