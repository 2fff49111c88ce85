import { seg } from "../../../api.js";
import { command } from "../../../spec.js";

/** API path for a role given as roles/NAME, NAME, projects/P/roles/ID, or ID with an explicit project. */
export function rolePath(role: string, explicitProject: string | undefined): string {
  if (role.startsWith("roles/")) return `/v1/roles/${seg(role.slice("roles/".length))}`;
  const custom = /^projects\/([^/]+)\/roles\/([^/]+)$/.exec(role);
  if (custom) return `/v1/projects/${seg(custom[1]!)}/roles/${seg(custom[2]!)}`;
  if (explicitProject) return `/v1/projects/${seg(explicitProject)}/roles/${seg(role)}`;
  return `/v1/roles/${seg(role)}`;
}

export default command({
  name: "describe",
  summary: "show a role and its permissions",
  description:
    "ROLE may be roles/NAME or NAME for a predefined role, projects/PROJECT/roles/ID for a custom one, or " +
    "ID together with --project.",
  positionals: [
    { name: "ROLE", help: "roles/storage.admin, storage.admin, or a custom role ID with --project." },
  ],
  examples: [
    "warrant iam roles describe roles/storage.objectAdmin",
    "warrant iam roles describe myRole --project=my-project",
    "warrant iam roles describe storage.admin --format='value(includedPermissions)'",
  ],
  async run(ctx) {
    ctx.out.one(
      await ctx.session.api().request("GET", rolePath(ctx.arg("ROLE"), ctx.session.explicitProject())),
    );
    return 0;
  },
});
