import { seg } from "../../../api.js";
import { INSTANCE_POSITIONAL, ZONE_FLAG, zoneOf } from "../../../compute.js";
import { command } from "../../../spec.js";

export default command({
  name: "reset-agent",
  summary: "revoke the credentials of this instance's metadata-server agents at once",
  description:
    "Warrant's own command (no gcloud equivalent). Every agent credential of the instance stops working " +
    "immediately: its agents get 401 and serve no new tokens until enrolled again with a new token " +
    "(`warrant compute instances issue-enrollment-token`); `warrant serve` re-enrolls its in-process agent " +
    "by itself. Use it when a credential may have leaked. Tokens already issued stay valid until they " +
    "expire. Needs compute.instances.setMetadata on the instance; the revocation is audited.",
  positionals: [INSTANCE_POSITIONAL],
  flags: [ZONE_FLAG],
  examples: ["warrant compute instances reset-agent demo-vm --zone=us-central1-a"],
  async run(ctx) {
    const project = ctx.session.project();
    const path = `/warrant/v1/projects/${seg(project)}/zones/${seg(zoneOf(ctx))}/instances/${seg(ctx.arg("INSTANCE_NAME"))}:resetAgent`;
    const res = await ctx.session.api().request("POST", path, { body: {} });
    ctx.out.one(res);
    return 0;
  },
});
