import { INSTANCE_POSITIONAL, instanceAction, ZONE_FLAG } from "../../../compute.js";
import { command } from "../../../spec.js";

export default command({
  name: "start",
  summary: "start a stopped VM instance",
  positionals: [INSTANCE_POSITIONAL],
  flags: [ZONE_FLAG],
  examples: ["warrant compute instances start vm-1 --zone=us-central1-a"],
  async run(ctx) {
    return instanceAction(ctx, "POST", "/start", "start", "Updated");
  },
});
