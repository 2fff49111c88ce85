import { seg } from "../../../api.js";
import { UsageError } from "../../../errors.js";
import { splitList } from "../../../scopes.js";
import { command } from "../../../spec.js";

export const STAGES = ["ALPHA", "BETA", "GA", "DEPRECATED", "DISABLED", "EAP"] as const;

export default command({
  name: "create",
  summary: "create a custom role in a project",
  positionals: [
    { name: "ROLE_ID", help: "ID of the role, e.g. appReader (letters, digits, underscores, periods)." },
  ],
  flags: [
    {
      name: "permissions",
      type: "string",
      required: true,
      help: "Comma-separated permissions, e.g. storage.objects.get,storage.objects.list.",
    },
    { name: "title", type: "string", help: "Title of the role (default: ROLE_ID)." },
    { name: "description", type: "string", help: "Description of the role." },
    { name: "stage", type: "string", choices: STAGES, help: "Launch stage of the role." },
  ],
  examples: [
    "warrant iam roles create appReader --project=my-project --permissions=storage.objects.get,storage.objects.list --title='App reader' --stage=GA",
  ],
  async run(ctx) {
    const roleId = ctx.arg("ROLE_ID");
    const includedPermissions = splitList(ctx.str("permissions"));
    if (includedPermissions.length === 0)
      throw new UsageError("argument --permissions: list at least one permission.");
    const role: Record<string, unknown> = { title: ctx.str("title") ?? roleId, includedPermissions };
    const description = ctx.str("description");
    const stage = ctx.str("stage");
    if (description !== undefined) role.description = description;
    if (stage !== undefined) role.stage = stage;
    const created = await ctx.session
      .api()
      .request("POST", `/v1/projects/${seg(ctx.session.project())}/roles`, { body: { roleId, role } });
    ctx.status(`Created role [${roleId}].`);
    ctx.out.one(created);
    return 0;
  },
});
