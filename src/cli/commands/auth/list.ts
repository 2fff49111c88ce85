import { CliError } from "../../errors.js";
import { command } from "../../spec.js";

export default command({
  name: "list",
  summary: "show the account the CLI acts as, and where its credential comes from",
  description:
    "Asks the server's tokeninfo endpoint whom the active credential's token belongs to. The credential is the " +
    "one named by --credential-file / WARRANT_CREDENTIAL_FILE / the credential_file property, else the local " +
    "server's admin credential, else Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, the ADC " +
    "file, or the instance's metadata server) — so on an instance it shows the instance's service account.",
  examples: ["warrant auth list", 'eval "$(warrant env --instance demo-vm)"; warrant auth list'],
  async run(ctx) {
    const token = await ctx.session.accessToken();
    const endpoint = ctx.session.endpoint();
    // POST, so the token travels in the body and never in a URL.
    const res = await ctx.rt.fetch(`${endpoint}/oauth2/v3/tokeninfo`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ access_token: token }).toString(),
    });
    const info = (await res.json().catch(() => ({}))) as { email?: string; sub?: string; scope?: string };
    if (!res.ok)
      throw new CliError(`The server did not recognise the active credential's token (${res.status}).`);
    const account = info.email ?? info.sub ?? "(unknown)";
    ctx.rt.stdout.write(`Credentialed Accounts\nACTIVE  ACCOUNT\n*       ${account}\n`);
    ctx.status(`Credential: ${ctx.session.credentialSource ?? "unknown"}`);
    if (info.scope) ctx.status(`Scopes: ${info.scope}`);
    return 0;
  },
});
