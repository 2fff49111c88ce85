import { checkProperty, PROPERTIES, readConfig } from "../../config.js";
import { command } from "../../spec.js";

export default command({
  name: "get",
  summary: "print the value of a warrant CLI property",
  description: "Prints the stored value, or `(unset)` on stderr when the property is not set.",
  positionals: [{ name: "PROPERTY", help: `One of: ${Object.keys(PROPERTIES).join(", ")}.` }],
  examples: ["warrant config get project"],
  async run(ctx) {
    const prop = checkProperty(ctx.arg("PROPERTY"));
    const v = readConfig(ctx.rt.env)[prop];
    if (v === undefined) ctx.status("(unset)");
    else ctx.rt.stdout.write(v + "\n");
    return 0;
  },
});
