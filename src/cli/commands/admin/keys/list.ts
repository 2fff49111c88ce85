import { command } from "../../../spec.js";

export const KEY_COLUMNS =
  "kid:label=KEY_ID, state:label=STATE, createTime:label=CREATED, activateTime:label=ACTIVATED";

export default command({
  name: "list",
  summary: "list the token-signing keys and their states",
  description:
    "Shows the installation's token-signing key ring: the staged key (published, signs nothing yet), the " +
    "primary key (signs), and secondary keys (verify tokens they signed until those expire). Needs " +
    "roles/owner on the installation's organization.",
  examples: ["warrant admin keys list"],
  async run(ctx) {
    const res = (await ctx.session.api().request("GET", "/warrant/v1/signingKeys")) as { keys: unknown[] };
    ctx.out.list(res.keys, KEY_COLUMNS);
    return 0;
  },
});
