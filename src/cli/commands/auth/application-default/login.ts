import { CLOUD_PLATFORM, SCOPE_PREFIX } from "../../../../domain/compute/scopes.js";
import { FIRST_PARTY_CLIENTS, GCLOUD_ADC_CLIENT_ID } from "../../../../domain/oauth/first-party-clients.js";
import { besideAdcFile, inspectAdcFile, wellKnownAdcFile, writeCredentialFile } from "../../../adc.js";
import { seg } from "../../../api.js";
import { NO_BROWSER_FLAG, signInWithBrowser } from "../../../browser-login.js";
import { CliError } from "../../../errors.js";
import { expandScopes, splitList } from "../../../scopes.js";
import { command } from "../../../spec.js";
import { revokeRemotely } from "./revoke.js";

/** OpenID scopes are not URLs; everything else goes through the usual aliases. */
function loginScopes(raw: string): string[] {
  const list = splitList(raw);
  const openid = list.filter((s) => ["openid", "email", "profile"].includes(s));
  return [...openid, ...expandScopes(list.filter((s) => !openid.includes(s)))];
}

export default command({
  name: "login",
  summary:
    "sign in (or, as an administrator, issue a user's credential) and write Application Default Credentials",
  description:
    "Without --user: opens this server's sign-in page in the browser (or prints its URL with --no-browser), " +
    "you sign in as yourself, and the credential comes back to a one-time listener on http://127.0.0.1:PORT/ " +
    "(authorization code with PKCE, through gcloud's ADC client id, whose published secret Google's libraries " +
    "need to refresh it) — no administrator involved. With --user: asks the server, with the active " +
    "(administrator's) credential, to issue USER an `authorized_user` credential (POST " +
    "/warrant/v1/users/EMAIL:issueCredential, which needs resourcemanager.projects.setIamPolicy on the " +
    "organization). Either way the credential is written where Application Default Credentials look: " +
    "`$CLOUDSDK_CONFIG/application_default_credentials.json`, else `~/.config/gcloud/application_default_credentials.json` " +
    "(mode 0600). A file there that Warrant did not write (a gcloud login, a service-account key, an external " +
    "account) is never replaced: the credential goes beside it, to `warrant_application_default_credentials.json`, " +
    "and the command prints the `export GOOGLE_APPLICATION_CREDENTIALS=…` line that selects it. An earlier " +
    "Warrant-issued file is replaced (its credential stays valid until revoked). The file's token_uri is this " +
    "server's /token, but Google's clients refresh user credentials at Google's token URL unless told " +
    "otherwise: gcloud with CLOUDSDK_AUTH_TOKEN_HOST, Node with clientOptions.endpoints.oauth2TokenUrl (see " +
    "docs/tokens.md). See docs/sign-in.md.",
  flags: [
    {
      name: "user",
      type: "string",
      metavar: "EMAIL",
      help: "Issue the credential to this user with the active administrator's credential, instead of signing in in the browser; must be in `warrant users list`.",
    },
    NO_BROWSER_FLAG,
    {
      name: "scopes",
      type: "string",
      metavar: "SCOPE,[SCOPE,...]",
      help: "OAuth scopes the credential may obtain (aliases, names or URLs; openid, email, profile as is). Default: cloud-platform, openid, userinfo.email.",
    },
  ],
  examples: [
    "warrant auth application-default login",
    "warrant auth application-default login --no-browser",
    "warrant auth application-default login --user alice@example.com",
    "warrant auth application-default login --user alice@example.com --scopes=storage-ro,openid",
    "CLOUDSDK_CONFIG=$(mktemp -d) warrant auth application-default login --user bob@example.com",
  ],
  async run(ctx) {
    const issueFor = ctx.str("user")?.toLowerCase();
    const scopesFlag = ctx.str("scopes");
    const scopes = scopesFlag !== undefined ? loginScopes(scopesFlag) : undefined;
    if (scopes !== undefined && scopes.length === 0) throw new CliError("--scopes names no scope.");

    // Decide where to write before asking for a credential, so a refusal leaves nothing issued.
    const wellKnown = wellKnownAdcFile(ctx.rt.env);
    let file = wellKnown;
    let state = inspectAdcFile(wellKnown);
    let foreignWhy: string | undefined;
    if (state.kind === "foreign") {
      foreignWhy = state.why;
      file = besideAdcFile(ctx.rt.env);
      state = inspectAdcFile(file);
      if (state.kind === "foreign")
        throw new CliError(
          `Not writing credentials: ${wellKnown} was not written by Warrant (${foreignWhy}), and neither was ${file} (${state.why}).`,
          "Move one of them away, or point CLOUDSDK_CONFIG at another directory.",
        );
    }

    let credential: Record<string, unknown>;
    let email: string;
    if (issueFor !== undefined) {
      email = issueFor;
      credential = await ctx.session
        .api()
        .request<Record<string, unknown>>("POST", `/warrant/v1/users/${seg(email)}:issueCredential`, {
          body: scopes ? { scopes } : {},
        });
    } else {
      const adc = FIRST_PARTY_CLIENTS.find((c) => c.clientId === GCLOUD_ADC_CLIENT_ID)!;
      const signedIn = await signInWithBrowser(
        ctx,
        { clientId: adc.clientId, clientSecret: adc.publishedSecret! },
        scopes ?? ["openid", `${SCOPE_PREFIX}userinfo.email`, CLOUD_PLATFORM],
      );
      email = signedIn.account ?? "";
      credential = { ...signedIn.credential, universe_domain: "googleapis.com" };
    }
    try {
      writeCredentialFile(file, credential, state.kind === "warrant");
    } catch (e) {
      // Do not leave a live credential that nobody holds.
      await revokeRemotely(ctx.rt.fetch, credential).catch(() => undefined);
      throw e instanceof CliError ? e : new CliError(`Cannot write ${file}: ${(e as Error).message}`);
    }

    if (foreignWhy) ctx.status(`${wellKnown} was not written by Warrant (${foreignWhy}); it was left alone.`);
    ctx.status(`Credentials saved to file: [${file}]`);
    ctx.status(
      `They act as user:${email} through the Warrant server at ${String(credential.token_uri).replace(/\/token$/, "")}` +
        (state.kind === "warrant"
          ? " (they replaced an earlier Warrant-issued credential, which was not revoked)."
          : "."),
    );
    if (foreignWhy) ctx.status(`To use them: export GOOGLE_APPLICATION_CREDENTIALS=${file}`);
    else ctx.status("Libraries that use Application Default Credentials will find them.");
    return 0;
  },
});
