import { command } from "../../spec.js";
import { PROJECT_COLUMNS } from "./target.js";

export default command({
  name: "list",
  summary: "list the projects the caller can see",
  examples: ["warrant projects list", "warrant projects list --format='value(projectId)'"],
  async run(ctx) {
    const projects = await ctx.session.api().listAll("/v1/projects", "projects");
    ctx.out.list(projects, PROJECT_COLUMNS);
    return 0;
  },
});
