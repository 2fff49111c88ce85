import { KNOWN_PERMISSIONS } from "../../../domain/iam/roles.js";
import { command } from "../../spec.js";
import { closest } from "../../suggest.js";

export default command({
  name: "explain",
  summary: "explain offline whether a member holds a permission on a resource",
  description:
    "Answers from the state directory's datastore (--state-dir, WARRANT_STATE_DIR, else ./.warrant), read " +
    "directly and read-only: no server is needed, and a running `warrant serve` on the same directory is " +
    "fine. The decision is the server's own: the policies of the resource and its ancestors (a bucket's " +
    "project comes from the bucket's record), custom roles, the member's groups (nested ones included), the " +
    "deny policies of the project and organization, conditions evaluated now, and Cloud Storage's " +
    "projectOwner:/projectEditor:/projectViewer: members. OAuth scopes are not part of it: they belong to a token, not to a member. " +
    "Prints ALLOWED or DENIED, the reason, the policies evaluated, the deny rule that refused it, the " +
    "bindings whose role contains the permission (through which group; a condition's value and the " +
    "attribute values it saw) and, for a denial no deny rule made, the role to grant. --format=json or yaml prints the same as data. " +
    "Exit status: 0 allowed, 1 denied, 2 the question could not be answered (bad flags, malformed member, " +
    "unknown resource, no datastore).",
  flags: [
    {
      name: "member",
      type: "string",
      required: true,
      metavar: "MEMBER",
      help: "The caller: user:EMAIL, serviceAccount:EMAIL, or allUsers (anonymous).",
    },
    {
      name: "permission",
      type: "string",
      required: true,
      metavar: "PERMISSION",
      help: "The permission, e.g. storage.buckets.list; a permission no role knows gets a warning.",
    },
    {
      name: "resource",
      type: "string",
      required: true,
      metavar: "RESOURCE",
      help:
        "organizations/ORG, projects/P, projects/P/serviceAccounts/EMAIL, projects/P/zones/Z/instances/NAME, " +
        "projects/_/buckets/BUCKET or projects/_/buckets/BUCKET/objects/OBJECT.",
    },
  ],
  examples: [
    "warrant iam explain --member=user:bob@example.com --permission=storage.buckets.list --resource=projects/demo-project",
    "warrant iam explain --member=user:alice@example.com --permission=iam.serviceAccounts.actAs " +
      "--resource=projects/demo-project/serviceAccounts/demo-sa@demo-project.iam.gserviceaccount.com",
    "warrant iam explain --member=user:bob@example.com --permission=storage.buckets.get " +
      "--resource=projects/_/buckets/my-bucket --format=json",
  ],
  async run(ctx) {
    const permission = ctx.str("permission")!;
    // Loaded lazily: only this command needs the native sqlite module.
    const { explainOffline, renderExplanation } = await import("../../explain.js");
    const answer = await explainOffline(
      ctx.session.stateDir(),
      ctx.str("member")!,
      permission,
      ctx.str("resource")!,
    );
    if (!answer.knownPermission) {
      const guess = closest(permission, KNOWN_PERMISSIONS);
      ctx.status(
        `WARNING: ${permission} is not in the role catalog: no predefined role contains it, and custom roles ` +
          `may hold only catalog permissions, so nothing can grant it.${guess ? ` Did you mean ${guess}?` : ""}`,
      );
    }
    if (ctx.out.explicit) ctx.out.one(answer);
    else ctx.rt.stdout.write(renderExplanation(answer));
    return answer.allowed ? 0 : 1;
  },
});
