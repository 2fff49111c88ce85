import { UsageError } from "../../../errors.js";
import { command } from "../../../spec.js";
import { saPath } from "./target.js";

export default command({
  name: "undelete",
  summary: "restore a service account deleted less than 30 days ago",
  description:
    "Restores the account with its unique ID, so the role bindings it held apply again (they are " +
    "shown as deleted:serviceAccount:EMAIL?uid=ACCOUNT_ID while it is deleted). Its keys are not " +
    "restored. Fails if another service account now has its e-mail, or if it was deleted more than " +
    "30 days ago.",
  positionals: [
    {
      name: "ACCOUNT_ID",
      help: "The unique ID of the deleted service account (the uid= of its deleted: members).",
    },
  ],
  examples: ["warrant iam service-accounts undelete 123456789012345678901"],
  async run(ctx) {
    const id = ctx.arg("ACCOUNT_ID");
    // As gcloud: a deleted account has no e-mail any more, only its unique ID.
    if (!/^\d+$/.test(id))
      throw new UsageError(
        `argument ACCOUNT_ID: '${id}' is not a unique ID.`,
        "Give the numeric unique ID of the deleted account (uid= in its deleted: policy members).",
      );
    ctx.out.one(await ctx.session.api().request("POST", `${saPath(id)}:undelete`, { body: {} }));
    return 0;
  },
});
