import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLOUD_PLATFORM, SCOPE_PREFIX } from "../../../domain/compute/scopes.js";
import { WARRANT_CLI_CLIENT_ID } from "../../../domain/oauth/first-party-clients.js";
import { NO_BROWSER_FLAG, signInWithBrowser } from "../../browser-login.js";
import { configDir, readConfig, writeConfig } from "../../config.js";
import { command } from "../../spec.js";

export default command({
  name: "login",
  summary: "sign in as a user in the browser and make that the CLI's active credential",
  description:
    "Opens this server's sign-in page in the browser (or, with --no-browser, prints its URL and waits), where " +
    "you sign in with your password or through the installation's single sign-on. The browser's answer comes " +
    "back to a one-time listener on http://127.0.0.1:PORT/ (authorization code with PKCE and state, the public " +
    "client warrant-cli-login.apps.warrant.local). The credential (an authorized_user file with a refresh " +
    "token) is written to CONFIG_DIR/credentials/EMAIL.json (mode 0600) and named by the credential_file " +
    "property, so later commands (`warrant storage ls`, …) act as you. --credential-file and " +
    "WARRANT_CREDENTIAL_FILE still take precedence. See docs/sign-in.md.",
  flags: [NO_BROWSER_FLAG],
  examples: [
    "warrant auth login",
    "warrant auth login --no-browser",
    "warrant auth login && warrant storage ls",
  ],
  async run(ctx) {
    const result = await signInWithBrowser(ctx, { clientId: WARRANT_CLI_CLIENT_ID }, [
      "openid",
      `${SCOPE_PREFIX}userinfo.email`,
      CLOUD_PLATFORM,
    ]);
    const account = result.account ?? "user";
    const dir = join(configDir(ctx.rt.env), "credentials");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${account.replace(/[^A-Za-z0-9@._+-]/g, "_")}.json`);
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(result.credential, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    renameSync(tmp, file);
    writeConfig(ctx.rt.env, { ...readConfig(ctx.rt.env), credential_file: file });
    ctx.status(`You are now logged in as [${account}].`);
    ctx.status(`Credential saved to [${file}]; it is the active credential (property credential_file).`);
    if (ctx.rt.env.WARRANT_CREDENTIAL_FILE)
      ctx.status(
        `WARRANT_CREDENTIAL_FILE is set (${ctx.rt.env.WARRANT_CREDENTIAL_FILE}) and takes precedence: unset it to act as ${account}.`,
      );
    return 0;
  },
});
