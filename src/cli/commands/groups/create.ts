import { command } from "../../spec.js";
import { GROUP_POSITIONAL } from "./target.js";

export default command({
  name: "create",
  summary: "create a group in the installation's group directory",
  description:
    "Creates GROUP (POST /warrant/v1/groups). Policies grant roles to `group:GROUP`; every member of the " +
    "group, directly or through nested groups, holds them. Needs resourcemanager.projects.setIamPolicy on " +
    "the organization (roles/owner there). Prints `Created group [GROUP].`, and the group when --format is given.",
  positionals: [GROUP_POSITIONAL],
  flags: [
    { name: "display-name", type: "string", help: "Human-readable name." },
    { name: "description", type: "string", help: "What the group is for." },
  ],
  examples: [
    "warrant groups create sre@example.com --display-name=SRE",
    "warrant projects add-iam-policy-binding my-project --member=group:sre@example.com --role=roles/compute.instanceAdmin.v1",
  ],
  async run(ctx) {
    const email = ctx.arg("GROUP");
    const displayName = ctx.str("display-name");
    const description = ctx.str("description");
    const group = await ctx.session.api().request("POST", "/warrant/v1/groups", {
      body: {
        email,
        ...(displayName !== undefined ? { displayName } : {}),
        ...(description !== undefined ? { description } : {}),
      },
    });
    ctx.status(`Created group [${email.toLowerCase()}].`);
    ctx.out.one(group, { quietByDefault: true });
    return 0;
  },
});
