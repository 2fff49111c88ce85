import { command } from "../../spec.js";

export default command({
  name: "print-access-token",
  summary: "print an access token for the active credential",
  description:
    "Exchanges the refresh token of the credential file (--credential-file, WARRANT_CREDENTIAL_FILE, the " +
    "credential_file property, or the server's admin credential) at <endpoint>/token and prints the " +
    "access token. If WARRANT_ACCESS_TOKEN is set it is printed as is. The output is a secret: it " +
    "grants the credential's access until it expires.",
  examples: [
    "warrant auth print-access-token",
    'curl -H "Authorization: Bearer $(warrant auth print-access-token)" "$WARRANT_ENDPOINT/v1/projects"',
  ],
  async run(ctx) {
    ctx.rt.stdout.write((await ctx.session.accessToken()) + "\n");
    return 0;
  },
});
