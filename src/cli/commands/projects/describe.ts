import { seg } from "../../api.js";
import { command } from "../../spec.js";
import { PROJECT_POSITIONAL } from "./target.js";

export default command({
  name: "describe",
  summary: "show a project's metadata",
  description: "Prints projectId, projectNumber, name, lifecycleState and createTime.",
  positionals: [PROJECT_POSITIONAL],
  examples: [
    "warrant projects describe my-project",
    "warrant projects describe my-project --format='value(projectNumber)'",
  ],
  async run(ctx) {
    ctx.out.one(await ctx.session.api().request("GET", `/v1/projects/${seg(ctx.arg("PROJECT_ID"))}`));
    return 0;
  },
});
