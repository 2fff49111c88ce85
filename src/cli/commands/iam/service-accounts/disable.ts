import { command } from "../../../spec.js";
import { SA_POSITIONAL, saPath } from "./target.js";

export default command({
  name: "disable",
  summary: "disable a service account: it can no longer obtain tokens",
  positionals: [SA_POSITIONAL],
  examples: ["warrant iam service-accounts disable app@my-project.iam.gserviceaccount.com"],
  async run(ctx) {
    const email = ctx.arg("SERVICE_ACCOUNT");
    await ctx.session.api().request("POST", `${saPath(email)}:disable`, { body: {} });
    ctx.status(`Disabled service account [${email}].`);
    return 0;
  },
});
