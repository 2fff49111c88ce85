import { normalizeScope } from "../../../domain/compute/scopes.js";
import { splitList } from "../../scopes.js";
import { command } from "../../spec.js";

export default command({
  name: "print-access-token",
  summary: "print an access token for the active credential",
  description:
    "Prints an access token of the active credential: the credential file (--credential-file, " +
    "WARRANT_CREDENTIAL_FILE, the credential_file property, or the local server's admin credential), else " +
    "Application Default Credentials (on an instance, its metadata server). With --scopes the token carries " +
    "those scopes (a metadata server grants them only if they are a subset of the instance's). If " +
    "WARRANT_ACCESS_TOKEN is set it is printed as is. The output is a secret: it grants the credential's " +
    "access until it expires.",
  flags: [
    {
      name: "scopes",
      type: "string",
      metavar: "SCOPE,[SCOPE,...]",
      help: "Ask for a token with these OAuth scopes (full URLs or names such as devstorage.read_only).",
    },
  ],
  examples: [
    "warrant auth print-access-token",
    "warrant auth print-access-token --scopes=devstorage.read_only",
    'curl -H "Authorization: Bearer $(warrant auth print-access-token)" "$WARRANT_ENDPOINT/v1/projects"',
  ],
  async run(ctx) {
    const scopes = splitList(ctx.str("scopes")).map(normalizeScope);
    const token = scopes.length
      ? await (await ctx.session.clientCredential(scopes)).getAccessToken()
      : await ctx.session.accessToken();
    ctx.rt.stdout.write(`${token}\n`);
    return 0;
  },
});
