import { seg } from "../../../api.js";
import { command } from "../../../spec.js";
import { SA_COLUMNS } from "./target.js";

export default command({
  name: "list",
  summary: "list the service accounts of the project",
  examples: [
    "warrant iam service-accounts list --project=my-project",
    "warrant iam service-accounts list --format='value(email,uniqueId)'",
  ],
  async run(ctx) {
    const accounts = await ctx.session
      .api()
      .listAll(`/v1/projects/${seg(ctx.session.project())}/serviceAccounts`, "accounts", { pageSize: 100 });
    ctx.out.list(accounts, SA_COLUMNS);
    return 0;
  },
});
