import { command } from "../../spec.js";
import { USER_POSITIONAL, userPath } from "./target.js";

export default command({
  name: "disable",
  summary: "disable a user: their tokens and credentials stop working until enabled",
  description:
    "Refuses the user's access tokens at once (within 5 seconds on other nodes) and their refresh tokens get invalid_grant, until `warrant users enable`. The installation's administrator cannot be disabled.",
  positionals: [USER_POSITIONAL],
  examples: ["warrant users disable alice@example.com"],
  async run(ctx) {
    const email = ctx.arg("EMAIL");
    await ctx.session.api().request("POST", `${userPath(email)}:disable`, { body: {} });
    ctx.status(`Disabled user [${email.toLowerCase()}].`);
    return 0;
  },
});
