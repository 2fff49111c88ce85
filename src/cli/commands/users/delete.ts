import { confirmOrAbort } from "../../prompt.js";
import { command } from "../../spec.js";
import { USER_POSITIONAL, userPath } from "./target.js";

export default command({
  name: "delete",
  summary: "delete a user and every credential issued to them",
  description:
    "Removes the user from the directory and deletes their refresh tokens and issued credentials. Their " +
    "access tokens stop working at once on this server (within 5 seconds on other nodes). IAM bindings " +
    "naming `user:EMAIL` are left in place: remove them too, or they apply again if the address is re-created. " +
    "The installation's administrator cannot be deleted. Asks for confirmation on a terminal unless --quiet is given.",
  positionals: [USER_POSITIONAL],
  examples: ["warrant users delete alice@example.com --quiet"],
  async run(ctx) {
    const email = ctx.arg("EMAIL");
    await confirmOrAbort(ctx, `You are about to delete user [${email}].\nDo you want to continue`);
    await ctx.session.api().request("DELETE", userPath(email));
    ctx.status(`Deleted user [${email.toLowerCase()}].`);
    return 0;
  },
});
