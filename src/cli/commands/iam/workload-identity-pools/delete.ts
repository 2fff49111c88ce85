import { command } from "../../../spec.js";
import { LOCATION_FLAG, poolsPath } from "./shared.js";

export default command({
  name: "delete",
  summary: "soft-delete a workload identity pool (undelete within 30 days)",
  description: "A deleted pool exchanges no tokens, and the tokens it issued stop working.",
  positionals: [{ name: "ID", help: "Pool ID." }],
  flags: [LOCATION_FLAG],
  examples: ["warrant iam workload-identity-pools delete ci-pool"],
  async run(ctx) {
    await ctx.session.api().request("DELETE", poolsPath(ctx, ctx.arg("ID")));
    ctx.status(`Deleted workload identity pool [${ctx.arg("ID")}].`);
    return 0;
  },
});
