import { seg } from "../../../../api.js";
import { command } from "../../../../spec.js";
import { LOCATION_FLAG, poolsPath } from "../shared.js";

export default command({
  name: "describe",
  summary: "show a workload identity pool provider",
  positionals: [{ name: "ID", help: "Provider ID." }],
  flags: [
    LOCATION_FLAG,
    { name: "workload-identity-pool", type: "string", required: true, help: "Pool ID." },
  ],
  examples: [
    "warrant iam workload-identity-pools providers describe ci-oidc --workload-identity-pool=ci-pool",
  ],
  async run(ctx) {
    const path = `${poolsPath(ctx, ctx.str("workload-identity-pool")!)}/providers/${seg(ctx.arg("ID"))}`;
    ctx.out.one(await ctx.session.api().request("GET", path));
    return 0;
  },
});
