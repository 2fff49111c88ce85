import { command } from "../../spec.js";

export default command({
  name: "create",
  summary: "add a user to the installation's user directory",
  description:
    "Adds EMAIL to the user directory (POST /warrant/v1/users). Tokens of `user:EMAIL` work only while the " +
    "user is in the directory and active; what the user may do is decided by IAM bindings to `user:EMAIL`, " +
    "which are made as usual (e.g. `warrant projects add-iam-policy-binding`). Needs " +
    "resourcemanager.projects.setIamPolicy on the organization (roles/owner there). Prints " +
    "`Created user [EMAIL].`, and the user when --format is given.",
  positionals: [{ name: "EMAIL", help: "E-mail address of the new user, e.g. alice@example.com." }],
  flags: [{ name: "display-name", type: "string", help: "Human-readable name (at most 100 characters)." }],
  examples: [
    "warrant users create alice@example.com --display-name='Alice Liddell'",
    "warrant projects add-iam-policy-binding my-project --member=user:alice@example.com --role=roles/storage.objectViewer",
  ],
  async run(ctx) {
    const email = ctx.arg("EMAIL");
    const displayName = ctx.str("display-name");
    const user = await ctx.session.api().request("POST", "/warrant/v1/users", {
      body: { email, ...(displayName !== undefined ? { displayName } : {}) },
    });
    ctx.status(`Created user [${email.toLowerCase()}].`);
    ctx.out.one(user, { quietByDefault: true });
    return 0;
  },
});
