import { command } from "../../../spec.js";
import { KEY_COLUMNS } from "./list.js";

export default command({
  name: "rotate",
  summary: "rotate the token-signing keys now",
  description:
    "Promotes the staged key to primary, demotes the primary to secondary (it keeps verifying the tokens it " +
    "signed until they expire), retires secondaries whose tokens have all expired, and stages a new key. The " +
    "server also rotates on its own every 24 hours. Refused while the staged key is too new for every " +
    "verifier to have fetched it (the published key set is cached for up to 5 minutes).",
  examples: ["warrant admin keys rotate"],
  async run(ctx) {
    const res = (await ctx.session.api().request("POST", "/warrant/v1/signingKeys:rotate", { body: {} })) as {
      promoted: string;
      keys: unknown[];
    };
    ctx.status(`Rotated: key [${res.promoted}] now signs new tokens.`);
    ctx.out.list(res.keys, KEY_COLUMNS);
    return 0;
  },
});
