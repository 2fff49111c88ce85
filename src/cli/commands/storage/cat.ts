import { CliError } from "../../errors.js";
import { command } from "../../spec.js";
import { gs, transfers } from "./shared.js";

export default command({
  name: "cat",
  summary: "print an object's contents",
  positionals: [{ name: "URL", help: "gs://BUCKET/OBJECT" }],
  examples: ["warrant storage cat gs://my-bucket/config.json"],
  async run(ctx) {
    const { bucket, path } = gs(ctx.arg("URL"));
    if (!path) throw new CliError(`[${ctx.arg("URL")}] names a bucket, not an object.`);
    await transfers(ctx).cat(bucket, path, ctx.rt.stdout);
    return 0;
  },
});
