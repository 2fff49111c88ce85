import { command } from "../../spec.js";
import { GROUP_COLUMNS } from "./target.js";

export default command({
  name: "list",
  summary: "list the groups of the installation",
  description:
    "Lists the group directory (GET /warrant/v1/groups). Needs resourcemanager.projects.getIamPolicy on the " +
    "organization (e.g. roles/viewer or roles/owner there).",
  examples: ["warrant groups list", "warrant groups list --format=json"],
  async run(ctx) {
    const res = (await ctx.session.api().request("GET", "/warrant/v1/groups")) as { groups?: unknown[] };
    ctx.out.list(res.groups ?? [], GROUP_COLUMNS);
    return 0;
  },
});
