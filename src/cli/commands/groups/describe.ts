import { command } from "../../spec.js";
import { GROUP_POSITIONAL, groupPath } from "./target.js";

export default command({
  name: "describe",
  summary: "show a group and its direct members",
  description:
    "Prints email, displayName, description, members and createTime. Needs the same permission as `warrant groups list`.",
  positionals: [GROUP_POSITIONAL],
  examples: [
    "warrant groups describe sre@example.com",
    "warrant groups describe sre@example.com --format='value(members)'",
  ],
  async run(ctx) {
    ctx.out.one(await ctx.session.api().request("GET", groupPath(ctx.arg("GROUP"))));
    return 0;
  },
});
