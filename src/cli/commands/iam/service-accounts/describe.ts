import { command } from "../../../spec.js";
import { SA_POSITIONAL, saPath } from "./target.js";

export default command({
  name: "describe",
  summary: "show a service account",
  positionals: [SA_POSITIONAL],
  examples: ["warrant iam service-accounts describe app@my-project.iam.gserviceaccount.com"],
  async run(ctx) {
    ctx.out.one(await ctx.session.api().request("GET", saPath(ctx.arg("SERVICE_ACCOUNT"))));
    return 0;
  },
});
