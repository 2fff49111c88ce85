import { command } from "../../../spec.js";
import { SA_POSITIONAL, saPath } from "./target.js";

export default command({
  name: "enable",
  summary: "re-enable a disabled service account",
  positionals: [SA_POSITIONAL],
  examples: ["warrant iam service-accounts enable app@my-project.iam.gserviceaccount.com"],
  async run(ctx) {
    const email = ctx.arg("SERVICE_ACCOUNT");
    await ctx.session.api().request("POST", `${saPath(email)}:enable`, { body: {} });
    ctx.status(`Enabled service account [${email}].`);
    return 0;
  },
});
