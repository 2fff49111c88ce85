import { seg } from "../../../../api.js";
import { confirmOrAbort } from "../../../../prompt.js";
import { command } from "../../../../spec.js";
import { saPath } from "../target.js";

export default command({
  name: "delete",
  summary: "delete a key of a service account",
  description:
    "Tokens can no longer be obtained with the key from that moment. Asks on a terminal unless --quiet.",
  positionals: [{ name: "KEY_ID", help: "The key's id (private_key_id in the key file)." }],
  flags: [
    { name: "iam-account", type: "string", required: true, metavar: "EMAIL", help: "The service account." },
  ],
  examples: [
    "warrant iam service-accounts keys delete 0123abcd… --iam-account=app@my-project.iam.gserviceaccount.com",
  ],
  async run(ctx) {
    const id = ctx.arg("KEY_ID");
    const email = ctx.str("iam-account")!;
    await confirmOrAbort(
      ctx,
      `You are about to delete key [${id}] for service account [${email}].\nDo you want to continue`,
    );
    await ctx.session.api().request("DELETE", `${saPath(email)}/keys/${seg(id)}`);
    ctx.status(`deleted key [${id}] for service account [${email}]`);
    return 0;
  },
});
