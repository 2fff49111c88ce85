import { command } from "../../../spec.js";
import { LOCATION_FLAG, poolsPath } from "./shared.js";

export default command({
  name: "list",
  summary: "list the project's workload identity pools",
  flags: [LOCATION_FLAG, { name: "show-deleted", type: "boolean", help: "Include soft-deleted pools." }],
  examples: ["warrant iam workload-identity-pools list --project=my-project"],
  async run(ctx) {
    const pools = await ctx.session.api().listAll(poolsPath(ctx), "workloadIdentityPools", {
      pageSize: 1000,
      ...(ctx.bool("show-deleted") ? { showDeleted: "true" } : {}),
    });
    ctx.out.list(pools, "name, displayName, state, disabled");
    return 0;
  },
});
