import { KNOWN_PERMISSIONS } from "../../../domain/iam/roles.js";
import { ApiError, CliError } from "../../errors.js";
// Types only: the module itself (and its native sqlite dependency) is loaded when the command runs.
import type { TroubleshootAnswer } from "../../explain.js";
import { command } from "../../spec.js";
import { closest } from "../../suggest.js";

export default command({
  name: "explain",
  summary: "explain whether a member holds a permission on a resource (offline, or --online)",
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
    {
      name: "online",
      type: "boolean",
      help:
        "Ask the running server (--endpoint, WARRANT_ENDPOINT or the state directory's server.json) " +
        "through POST /v1/iam:troubleshoot with your credentials, instead of reading the datastore. The " +
        "same analysis; a policy your account may not read (getIamPolicy on its resource) is shown as " +
        "such, and the answer is then UNKNOWN (exit status 2) unless what you may read settles it.",
    },
  ],
  examples: [
    "warrant iam explain --member=user:bob@example.com --permission=storage.buckets.list --resource=projects/demo-project",
    "warrant iam explain --member=user:alice@example.com --permission=iam.serviceAccounts.actAs " +
      "--resource=projects/demo-project/serviceAccounts/demo-sa@demo-project.iam.gserviceaccount.com",
    "warrant iam explain --member=user:bob@example.com --permission=storage.buckets.get " +
      "--resource=projects/_/buckets/my-bucket --format=json",
    "warrant iam explain --online --member=user:bob@example.com --permission=resourcemanager.projects.get " +
      "--resource=projects/demo-project",
  ],
  async run(ctx) {
    const permission = ctx.str("permission")!;
    if (ctx.bool("online")) {
      const { EXPLAIN_ERROR_EXIT, renderTroubleshooting } = await import("../../explain.js");
      let answer: TroubleshootAnswer;
      try {
        answer = await ctx.session.api().request<TroubleshootAnswer>("POST", "/v1/iam:troubleshoot", {
          body: {
            accessTuple: {
              principal: ctx.str("member")!,
              fullResourceName: ctx.str("resource")!,
              permission,
            },
          },
        });
      } catch (e) {
        if (e instanceof ApiError && e.httpStatus >= 400 && e.httpStatus < 500)
          throw new CliError(e.message, "Check --member, --permission and --resource.", EXPLAIN_ERROR_EXIT);
        throw e;
      }
      if (ctx.out.explicit) ctx.out.one(answer);
      else
        ctx.rt.stdout.write(
          renderTroubleshooting(answer, ctx.str("member")!, permission, ctx.str("resource")!),
        );
      return answer.access === "GRANTED" ? 0 : answer.access === "NOT_GRANTED" ? 1 : EXPLAIN_ERROR_EXIT;
    }
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
