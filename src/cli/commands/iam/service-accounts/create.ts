import { seg } from "../../../api.js";
import { command } from "../../../spec.js";

export default command({
  name: "create",
  summary: "create a service account in the project",
  description:
    "Creates NAME@PROJECT.iam.gserviceaccount.com. Prints `Created service account [NAME].`, and the " +
    "service account when --format is given (e.g. --format='value(email)').",
  positionals: [
    { name: "NAME", help: "Account ID: 6-30 lower-case letters, digits or hyphens, starting with a letter." },
  ],
  flags: [
    { name: "display-name", type: "string", help: "Human-readable name." },
    { name: "description", type: "string", help: "Free-form description." },
  ],
  examples: [
    "warrant iam service-accounts create app-runner --display-name='App runner' --project=my-project",
    "EMAIL=$(warrant iam service-accounts create app-runner --format='value(email)')",
  ],
  async run(ctx) {
    const name = ctx.arg("NAME");
    const serviceAccount: Record<string, string> = {};
    const displayName = ctx.str("display-name");
    const description = ctx.str("description");
    if (displayName !== undefined) serviceAccount.displayName = displayName;
    if (description !== undefined) serviceAccount.description = description;
    const sa = await ctx.session
      .api()
      .request("POST", `/v1/projects/${seg(ctx.session.project())}/serviceAccounts`, {
        body: { accountId: name, serviceAccount },
      });
    ctx.status(`Created service account [${name}].`);
    ctx.out.one(sa, { quietByDefault: true });
    return 0;
  },
});
