import { seg } from "../../api.js";
import { type LroOperation, waitLro } from "../../operations.js";
import { command } from "../../spec.js";
import { PROJECT_POSITIONAL } from "./target.js";

export default command({
  name: "create",
  summary: "create a new project",
  description:
    "Creates the project; the caller becomes its owner. Prints `Created project [ID].`, and the project " +
    "when --format is given.",
  positionals: [
    { ...PROJECT_POSITIONAL, help: "ID for the new project: 6-30 lower-case letters, digits or hyphens." },
  ],
  flags: [{ name: "name", type: "string", help: "Display name of the project (default: the project ID)." }],
  examples: ["warrant projects create my-project --name='My Project'"],
  async run(ctx) {
    const id = ctx.arg("PROJECT_ID");
    const api = ctx.session.api();
    const op = await api.request<LroOperation>("POST", "/v1/projects", {
      body: { projectId: id, name: ctx.str("name") ?? id },
    });
    const done = await waitLro(api, op);
    ctx.status(`Created project [${id}].`);
    if (ctx.out.explicit) {
      ctx.out.one(done.response ?? (await api.request("GET", `/v1/projects/${seg(id)}`)));
    }
    return 0;
  },
});
