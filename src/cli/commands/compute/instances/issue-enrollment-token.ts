import { seg } from "../../../api.js";
import { INSTANCE_POSITIONAL, ZONE_FLAG, zoneOf } from "../../../compute.js";
import { command } from "../../../spec.js";

export default command({
  name: "issue-enrollment-token",
  summary: "issue a one-time token with which a `warrant agent` enrolls as this instance",
  description:
    "Warrant's own command (no gcloud equivalent). The token is valid for one hour and one use: " +
    "`warrant agent --enrollment-token` exchanges it for a credential bound to this instance. It is a " +
    "secret. Needs compute.instances.setMetadata on the instance and iam.serviceAccounts.actAs on its " +
    "service account (whoever runs the agent obtains that account's tokens).",
  positionals: [INSTANCE_POSITIONAL],
  flags: [ZONE_FLAG],
  examples: [
    "warrant compute instances issue-enrollment-token demo-vm --zone=us-central1-a --format='value(enrollmentToken)'",
  ],
  async run(ctx) {
    const project = ctx.session.project();
    const path = `/warrant/v1/projects/${seg(project)}/zones/${seg(zoneOf(ctx))}/instances/${seg(ctx.arg("INSTANCE_NAME"))}:issueEnrollmentToken`;
    const res = await ctx.session.api().request("POST", path, { body: {} });
    ctx.out.one(res);
    return 0;
  },
});
