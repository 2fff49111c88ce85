import { command } from "../../../spec.js";
import { LOCATION_FLAG, poolsPath } from "./shared.js";

export default command({
  name: "undelete",
  summary: "restore a soft-deleted workload identity pool",
  positionals: [{ name: "ID", help: "Pool ID." }],
  flags: [LOCATION_FLAG],
  examples: ["warrant iam workload-identity-pools undelete ci-pool"],
  async run(ctx) {
    const op = (await ctx.session
      .api()
      .request("POST", `${poolsPath(ctx, ctx.arg("ID"))}:undelete`, { body: {} })) as { response?: unknown };
    ctx.status(`Undeleted workload identity pool [${ctx.arg("ID")}].`);
    ctx.out.one(op.response, { quietByDefault: true });
    return 0;
  },
});
