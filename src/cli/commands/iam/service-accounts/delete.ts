import { confirmOrAbort } from "../../../prompt.js";
import { command } from "../../../spec.js";
import { SA_POSITIONAL, saPath } from "./target.js";

export default command({
  name: "delete",
  summary: "delete a service account",
  description: "Asks for confirmation on a terminal unless --quiet is given.",
  positionals: [SA_POSITIONAL],
  examples: ["warrant iam service-accounts delete app@my-project.iam.gserviceaccount.com --quiet"],
  async run(ctx) {
    const email = ctx.arg("SERVICE_ACCOUNT");
    await confirmOrAbort(ctx, `You are about to delete service account [${email}].\nDo you want to continue`);
    await ctx.session.api().request("DELETE", saPath(email));
    ctx.status(`deleted service account [${email}]`);
    return 0;
  },
});
