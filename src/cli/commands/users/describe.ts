import { command } from "../../spec.js";
import { USER_POSITIONAL, userPath } from "./target.js";

export default command({
  name: "describe",
  summary: "show a user of the installation",
  description:
    "Prints email, displayName, state and createTime. Needs the same permission as `warrant users list`.",
  positionals: [USER_POSITIONAL],
  examples: [
    "warrant users describe alice@example.com",
    "warrant users describe alice@example.com --format='value(state)'",
  ],
  async run(ctx) {
    const user = await ctx.session.api().request("GET", userPath(ctx.arg("EMAIL")));
    ctx.out.one(user);
    return 0;
  },
});
