import { command } from "../../../../spec.js";
import { saPath } from "../target.js";

export default command({
  name: "list",
  summary: "list the keys of a service account",
  flags: [
    { name: "iam-account", type: "string", required: true, metavar: "EMAIL", help: "The service account." },
  ],
  examples: ["warrant iam service-accounts keys list --iam-account=app@my-project.iam.gserviceaccount.com"],
  async run(ctx) {
    const email = ctx.str("iam-account")!;
    const res = (await ctx.session.api().request("GET", `${saPath(email)}/keys`)) as {
      keys?: Record<string, unknown>[];
    };
    const keys = (res.keys ?? []).map((k) => ({ ...k, keyId: String(k.name).split("/").pop() }));
    ctx.out.list(
      keys,
      "keyId:label=KEY_ID, validAfterTime:label=CREATED_AT, validBeforeTime:label=EXPIRES_AT, disabled",
    );
    return 0;
  },
});
