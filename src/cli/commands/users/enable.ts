import { command } from "../../spec.js";
import { USER_POSITIONAL, userPath } from "./target.js";

export default command({
  name: "enable",
  summary: "enable a disabled user",
  description:
    "Their refresh tokens work again; access tokens issued before they were disabled stay refused.",
  positionals: [USER_POSITIONAL],
  examples: ["warrant users enable alice@example.com"],
  async run(ctx) {
    const email = ctx.arg("EMAIL");
    await ctx.session.api().request("POST", `${userPath(email)}:enable`, { body: {} });
    ctx.status(`Enabled user [${email.toLowerCase()}].`);
    return 0;
  },
});
