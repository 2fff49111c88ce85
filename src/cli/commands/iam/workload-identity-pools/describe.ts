import { command } from "../../../spec.js";
import { LOCATION_FLAG, poolsPath } from "./shared.js";

export default command({
  name: "describe",
  summary: "show a workload identity pool",
  positionals: [{ name: "ID", help: "Pool ID." }],
  flags: [LOCATION_FLAG],
  examples: ["warrant iam workload-identity-pools describe ci-pool --format='value(name)'"],
  async run(ctx) {
    ctx.out.one(await ctx.session.api().request("GET", poolsPath(ctx, ctx.arg("ID"))));
    return 0;
  },
});
