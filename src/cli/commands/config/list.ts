import { configFile, readConfig } from "../../config.js";
import { command } from "../../spec.js";

export default command({
  name: "list",
  summary: "list the warrant CLI properties that are set",
  examples: ["warrant config list", "warrant config list --format=json"],
  async run(ctx) {
    const cfg = readConfig(ctx.rt.env);
    if (ctx.out.explicit) {
      ctx.out.one(cfg);
      return 0;
    }
    const lines = Object.entries(cfg).map(([k, v]) => `${k} = ${v}\n`);
    ctx.rt.stdout.write(lines.join(""));
    if (lines.length === 0) ctx.status(`No properties set in ${configFile(ctx.rt.env)}.`);
    return 0;
  },
});
