import { command } from "../../spec.js";
import { GROUP_POSITIONAL, groupPath, MEMBER_FLAG } from "./target.js";

export default command({
  name: "add-member",
  summary: "add a member (a user, service account or nested group) to a group",
  description:
    "Adds --member to GROUP (POST /warrant/v1/groups/GROUP:addMember). A nested group (group:EMAIL) passes " +
    "the group's roles on to its own members; adding one that would make a group contain itself is refused. " +
    "The change applies to the next request the server decides. Needs roles/owner on the organization. Prints the group.",
  positionals: [GROUP_POSITIONAL],
  flags: [MEMBER_FLAG],
  examples: ["warrant groups add-member sre@example.com --member=group:oncall@example.com"],
  async run(ctx) {
    const group = ctx.arg("GROUP");
    const member = ctx.str("member")!;
    const updated = await ctx.session
      .api()
      .request("POST", `${groupPath(group)}:addMember`, { body: { member } });
    ctx.status(`Updated group [${group.toLowerCase()}].`);
    ctx.out.one(updated);
    return 0;
  },
});
