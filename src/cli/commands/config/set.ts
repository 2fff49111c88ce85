import { checkProperty, normalizeProperty, PROPERTIES, readConfig, writeConfig } from "../../config.js";
import { command } from "../../spec.js";

export default command({
  name: "set",
  summary: "set a warrant CLI property",
  description: `Stores the property in config.json in the config directory (WARRANT_CONFIG_DIR, else $XDG_CONFIG_HOME/warrant, else ~/.config/warrant). Properties: ${Object.entries(
    PROPERTIES,
  )
    .map(([k, v]) => `${k} (${v})`)
    .join("; ")}`,
  positionals: [
    { name: "PROPERTY", help: `One of: ${Object.keys(PROPERTIES).join(", ")}.` },
    { name: "VALUE", help: "The value; credential_file is stored as an absolute path." },
  ],
  examples: ["warrant config set project my-project", "warrant config set endpoint http://127.0.0.1:8080"],
  async run(ctx) {
    const prop = checkProperty(ctx.arg("PROPERTY"));
    const value = normalizeProperty(prop, ctx.arg("VALUE"), ctx.rt.cwd);
    const cfg = readConfig(ctx.rt.env);
    cfg[prop] = value;
    writeConfig(ctx.rt.env, cfg);
    ctx.status(`Updated property [${prop}].`);
    return 0;
  },
});
