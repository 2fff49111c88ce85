import { ImpersonatedCredential } from "../../../client/index.js";
import { command } from "../../spec.js";

export default command({
  name: "print-identity-token",
  summary: "print an OpenID Connect ID token for an audience",
  description:
    "Mints an ID token for the active credential: from the metadata server on an instance, with a " +
    "service-account key file's jwt-bearer grant, or — with --impersonate-service-account — through the IAM " +
    "Credentials API. User credentials cannot mint tokens for an arbitrary audience; impersonate a service " +
    "account instead. The output is a secret.",
  flags: [
    {
      name: "audiences",
      type: "string",
      required: true,
      metavar: "AUDIENCE",
      help: "The token's aud claim.",
    },
  ],
  examples: ["warrant auth print-identity-token --audiences=https://my-service.example.com"],
  async run(ctx) {
    const audience = ctx.str("audiences")!;
    const source = await ctx.session.clientCredential();
    const target = ctx.str("impersonate-service-account") ?? ctx.rt.env.WARRANT_IMPERSONATE_SERVICE_ACCOUNT;
    const credential = target
      ? new ImpersonatedCredential({
          source,
          targetPrincipal: target,
          iamCredentialsUrl: ctx.session.endpoint(),
        })
      : source;
    ctx.rt.stdout.write(`${await credential.getIdToken(audience)}\n`);
    return 0;
  },
});
