import { INSTANCE_POSITIONAL, instanceAction, ZONE_FLAG, zoneOf } from "../../../compute.js";
import { confirmOrAbort } from "../../../prompt.js";
import { command } from "../../../spec.js";

export default command({
  name: "delete",
  summary: "delete a VM instance",
  description: "Asks for confirmation on a terminal unless --quiet is given.",
  positionals: [INSTANCE_POSITIONAL],
  flags: [ZONE_FLAG],
  examples: ["warrant compute instances delete vm-1 --zone=us-central1-a --quiet"],
  async run(ctx) {
    await confirmOrAbort(
      ctx,
      `The following instances will be deleted:\n - [${ctx.arg("INSTANCE_NAME")}] in [${zoneOf(ctx)}]\nDo you want to continue`,
    );
    return instanceAction(ctx, "DELETE", "", "delete", "Deleted");
  },
});
