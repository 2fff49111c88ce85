import { confirmOrAbort } from "../../prompt.js";
import { command } from "../../spec.js";
import { GROUP_POSITIONAL, groupPath } from "./target.js";

export default command({
  name: "delete",
  summary: "delete a group",
  description:
    "Removes GROUP from the directory: bindings to `group:GROUP` then match nobody, and groups that nested it " +
    "pass nothing on through it. The bindings are left in place. Asks for confirmation on a terminal unless --quiet is given.",
  positionals: [GROUP_POSITIONAL],
  examples: ["warrant groups delete sre@example.com --quiet"],
  async run(ctx) {
    const email = ctx.arg("GROUP");
    await confirmOrAbort(ctx, `You are about to delete group [${email}].\nDo you want to continue`);
    await ctx.session.api().request("DELETE", groupPath(email));
    ctx.status(`Deleted group [${email.toLowerCase()}].`);
    return 0;
  },
});
