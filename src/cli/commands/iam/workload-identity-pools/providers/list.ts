import { command } from "../../../../spec.js";
import { LOCATION_FLAG, poolsPath } from "../shared.js";

export default command({
  name: "list",
  summary: "list a workload identity pool's providers",
  flags: [
    LOCATION_FLAG,
    { name: "workload-identity-pool", type: "string", required: true, help: "Pool ID." },
    { name: "show-deleted", type: "boolean", help: "Include soft-deleted providers." },
  ],
  examples: ["warrant iam workload-identity-pools providers list --workload-identity-pool=ci-pool"],
  async run(ctx) {
    const items = await ctx.session
      .api()
      .listAll(
        `${poolsPath(ctx, ctx.str("workload-identity-pool")!)}/providers`,
        "workloadIdentityPoolProviders",
        {
          pageSize: 100,
          ...(ctx.bool("show-deleted") ? { showDeleted: "true" } : {}),
        },
      );
    ctx.out.list(items, "name, state, disabled, oidc.issuerUri");
    return 0;
  },
});
