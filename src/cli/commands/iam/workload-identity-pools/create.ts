import { command } from "../../../spec.js";
import { LOCATION_FLAG, poolsPath } from "./shared.js";

export default command({
  name: "create",
  summary: "create a workload identity pool",
  description:
    "Creates pool ID (4-32 lower-case letters, digits or hyphens) in the project. Prints " +
    "`Created workload identity pool [ID].`, and the pool when --format is given.",
  positionals: [{ name: "ID", help: "Pool ID, e.g. ci-pool." }],
  flags: [
    LOCATION_FLAG,
    { name: "display-name", type: "string", help: "Human-readable name (at most 32 characters)." },
    { name: "description", type: "string", help: "Free-form description (at most 256 characters)." },
    { name: "disabled", type: "boolean", help: "Create the pool disabled: it exchanges no tokens." },
    { name: "session-duration", type: "string", help: "Lifetime of its tokens, e.g. 3600s (120s-43200s)." },
  ],
  examples: [
    "warrant iam workload-identity-pools create ci-pool --display-name='CI jobs' --project=my-project",
  ],
  async run(ctx) {
    const id = ctx.arg("ID");
    const body: Record<string, unknown> = { disabled: ctx.bool("disabled") };
    for (const [flag, field] of [
      ["display-name", "displayName"],
      ["description", "description"],
      ["session-duration", "sessionDuration"],
    ] as const) {
      const v = ctx.str(flag);
      if (v !== undefined) body[field] = v;
    }
    const op = (await ctx.session
      .api()
      .request("POST", `${poolsPath(ctx)}?workloadIdentityPoolId=${encodeURIComponent(id)}`, { body })) as {
      response?: unknown;
    };
    ctx.status(`Created workload identity pool [${id}].`);
    ctx.out.one(op.response, { quietByDefault: true });
    return 0;
  },
});
