/**
 * The CLI's part of a browser sign-in: show the URL (open a browser, or print it for
 * `--no-browser`), then let `warrant/client`'s `browserLogin` do the loopback flow against the
 * active endpoint's authorization and token endpoints.
 */
import { spawn } from "node:child_process";
import { type BrowserLoginResult, browserLogin, CredentialError } from "../client/index.js";
import { CliError } from "./errors.js";
import type { CommandContext } from "./spec.js";

/** Starts the platform's browser on `url`; false when none could be started. */
function openBrowser(url: string, env: Record<string, string | undefined>): Promise<boolean> {
  const [cmd, args] = env.BROWSER
    ? [env.BROWSER, [url]]
    : process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", '""', url]]
        : ["xdg-open", [url]];
  return new Promise((ok) => {
    try {
      const child = spawn(cmd, args, { stdio: "ignore", detached: true });
      child.once("error", () => ok(false));
      child.once("spawn", () => {
        child.unref();
        ok(true);
      });
    } catch {
      ok(false);
    }
  });
}

export const NO_BROWSER_FLAG = {
  name: "no-browser",
  type: "boolean" as const,
  help:
    "Do not open a browser: print the sign-in URL and wait. Open it in a browser on this machine (the answer " +
    "comes back to a listener on 127.0.0.1).",
};

export async function signInWithBrowser(
  ctx: CommandContext,
  client: { clientId: string; clientSecret?: string },
  scopes: readonly string[],
): Promise<BrowserLoginResult> {
  const endpoint = ctx.session.endpoint();
  const noBrowser = ctx.bool("no-browser");
  try {
    return await browserLogin({
      authUri: `${endpoint}/o/oauth2/auth`,
      tokenUri: `${endpoint}/token`,
      clientId: client.clientId,
      ...(client.clientSecret !== undefined ? { clientSecret: client.clientSecret } : {}),
      scopes,
      fetch: ctx.rt.fetch,
      onUrl: async (url) => {
        const opened = !noBrowser && (await openBrowser(url, ctx.rt.env));
        ctx.rt.stderr.write(
          opened
            ? `Your browser has been opened to sign in at ${endpoint}. If it did not open, go to:\n\n    ${url}\n\n`
            : `Go to the following link in a browser on this machine to sign in:\n\n    ${url}\n\nWaiting for the browser...\n`,
        );
      },
    });
  } catch (e) {
    if (e instanceof CredentialError) throw new CliError(e.message);
    throw e;
  }
}
