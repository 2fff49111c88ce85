import { CliError } from "../../errors.js";
import { objectPath } from "../../gcs.js";
import { command } from "../../spec.js";
import { gs } from "./shared.js";

export default command({
  name: "rm",
  summary: "delete objects",
  positionals: [{ name: "URL", help: "gs://BUCKET/OBJECT (one or more)", variadic: true }],
  examples: ["warrant storage rm gs://my-bucket/old.log gs://my-bucket/older.log"],
  async run(ctx) {
    for (const url of ctx.args("URL")) {
      const { bucket, path } = gs(url);
      if (!path) throw new CliError(`[${url}] names a bucket; use \`warrant storage buckets delete\`.`);
      await ctx.session.api().request("DELETE", objectPath(bucket, path));
      ctx.status(`Removed ${url}.`);
    }
    return 0;
  },
});
