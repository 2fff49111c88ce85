import { INSTANCE_POSITIONAL, instancePath, ZONE_FLAG, zoneOf } from "../../../compute.js";
import { command } from "../../../spec.js";

export default command({
  name: "describe",
  summary: "show a VM instance, including its service account and scopes",
  positionals: [INSTANCE_POSITIONAL],
  flags: [ZONE_FLAG],
  examples: [
    "warrant compute instances describe vm-1 --zone=us-central1-a",
    "warrant compute instances describe vm-1 --zone=us-central1-a --format='value(serviceAccounts[0].email)'",
  ],
  async run(ctx) {
    const path = instancePath(ctx.session.project(), zoneOf(ctx), ctx.arg("INSTANCE_NAME"));
    ctx.out.one(await ctx.session.api().request("GET", path));
    return 0;
  },
});
