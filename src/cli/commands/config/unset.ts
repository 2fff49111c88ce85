import { checkProperty, PROPERTIES, readConfig, writeConfig } from "../../config.js";
import { command } from "../../spec.js";

export default command({
  name: "unset",
  summary: "remove a warrant CLI property",
  positionals: [{ name: "PROPERTY", help: `One of: ${Object.keys(PROPERTIES).join(", ")}.` }],
  examples: ["warrant config unset project"],
  async run(ctx) {
    const prop = checkProperty(ctx.arg("PROPERTY"));
    const cfg = readConfig(ctx.rt.env);
    delete cfg[prop];
    writeConfig(ctx.rt.env, cfg);
    ctx.status(`Unset property [${prop}].`);
    return 0;
  },
});
