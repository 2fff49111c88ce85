import { command } from "../../spec.js";
import { GROUP_POSITIONAL, groupPath, MEMBER_FLAG } from "./target.js";

export default command({
  name: "remove-member",
  summary: "remove a member from a group",
  description:
    "Removes --member from GROUP (POST /warrant/v1/groups/GROUP:removeMember). Access the member had only " +
    "through the group ends with the next request the server decides. Needs roles/owner on the organization. Prints the group.",
  positionals: [GROUP_POSITIONAL],
  flags: [MEMBER_FLAG],
  examples: ["warrant groups remove-member sre@example.com --member=user:nina@example.com"],
  async run(ctx) {
    const group = ctx.arg("GROUP");
    const member = ctx.str("member")!;
    const updated = await ctx.session
      .api()
      .request("POST", `${groupPath(group)}:removeMember`, { body: { member } });
    ctx.status(`Updated group [${group.toLowerCase()}].`);
    ctx.out.one(updated);
    return 0;
  },
});
