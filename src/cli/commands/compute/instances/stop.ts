import { INSTANCE_POSITIONAL, instanceAction, ZONE_FLAG } from "../../../compute.js";
import { command } from "../../../spec.js";

export default command({
  name: "stop",
  summary: "stop a running VM instance",
  positionals: [INSTANCE_POSITIONAL],
  flags: [ZONE_FLAG],
  examples: ["warrant compute instances stop vm-1 --zone=us-central1-a"],
  async run(ctx) {
    return instanceAction(ctx, "POST", "/stop", "stop", "Updated");
  },
});
