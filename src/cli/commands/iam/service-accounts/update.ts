import { UsageError } from "../../../errors.js";
import { command } from "../../../spec.js";
import { SA_POSITIONAL, saPath } from "./target.js";

export default command({
  name: "update",
  summary: "change a service account's display name or description",
  positionals: [SA_POSITIONAL],
  flags: [
    { name: "display-name", type: "string", help: "New display name." },
    { name: "description", type: "string", help: "New description." },
  ],
  examples: [
    "warrant iam service-accounts update app@my-project.iam.gserviceaccount.com --display-name='App'",
  ],
  async run(ctx) {
    const email = ctx.arg("SERVICE_ACCOUNT");
    const serviceAccount: Record<string, string> = {};
    const mask: string[] = [];
    for (const [flag, field] of [
      ["display-name", "displayName"],
      ["description", "description"],
    ] as const) {
      const v = ctx.str(flag);
      if (v !== undefined) {
        serviceAccount[field] = v;
        mask.push(field);
      }
    }
    if (mask.length === 0) throw new UsageError("Specify at least one of --display-name or --description.");
    const sa = await ctx.session
      .api()
      .request("PATCH", saPath(email), { body: { serviceAccount, updateMask: mask.join(",") } });
    ctx.status(`Updated service account [${email}].`);
    ctx.out.one(sa);
    return 0;
  },
});
