import { command } from "../../spec.js";
import { USER_COLUMNS } from "./target.js";

export default command({
  name: "list",
  summary: "list the users of the installation",
  description:
    "Lists the user directory (GET /warrant/v1/users). Needs resourcemanager.projects.getIamPolicy on the " +
    "organization (e.g. roles/viewer or roles/owner there).",
  examples: ["warrant users list", "warrant users list --format='value(email)'"],
  async run(ctx) {
    const users = await ctx.session.api().listAll("/warrant/v1/users", "users", { pageSize: 1000 });
    ctx.out.list(users, USER_COLUMNS);
    return 0;
  },
});
