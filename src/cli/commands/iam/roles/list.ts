import { seg } from "../../../api.js";
import { command } from "../../../spec.js";

export default command({
  name: "list",
  summary: "list predefined roles, or a project's custom roles with --project",
  description:
    "Without --project, lists the predefined roles (GET /v1/roles). With an explicit --project flag, lists " +
    "that project's custom roles. (The project from WARRANT_PROJECT or config does not switch the listing.)",
  examples: ["warrant iam roles list", "warrant iam roles list --project=my-project --format='value(name)'"],
  async run(ctx) {
    const project = ctx.session.explicitProject();
    const api = ctx.session.api();
    const roles = project
      ? await api.listAll(`/v1/projects/${seg(project)}/roles`, "roles", { pageSize: 1000 })
      : await api.listAll("/v1/roles", "roles", { pageSize: 1000 });
    ctx.out.list(roles, "name, title, stage");
    return 0;
  },
});
