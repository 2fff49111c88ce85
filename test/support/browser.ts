/** Debian's Chromium driven by playwright-core, and where tests keep their screenshots. */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Why a browser test cannot run here, or undefined. */
export const noChromium = () => (existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed`);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** `.test-artifacts/NAME` in the repository (gitignored), created on demand. */
export function artifactPath(name: string): string {
  const dir = join(new URL("../../..", import.meta.url).pathname, ".test-artifacts");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
