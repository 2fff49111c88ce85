import { applyImport, planImport, readExport, renderImportReport } from "../../import.js";
import { command } from "../../spec.js";
import { PROJECT_POSITIONAL } from "./target.js";

export default command({
  name: "import",
  summary: "recreate a real project's IAM from gcloud's JSON exports",
  description:
    "Recreates in Warrant what the real gcloud prints for a project: its service accounts " +
    "(`gcloud iam service-accounts list --format=json`; recreated without keys, with new unique ids), custom roles " +
    "(`gcloud iam roles list --project P --format=json`, or a list of `roles describe` outputs, which carry the " +
    "permissions), its allow policy (`gcloud projects get-iam-policy P --format=json`, conditions included; merged " +
    "into the current policy, so existing administrators keep their access) and deny policies " +
    "(`gcloud iam policies get|list --kind=denypolicies --format=json`; `list` prints no rules, so those are " +
    "reported). Creates the project if it does not exist. Prints what was imported and, one line each, what " +
    "could not be carried over and why. Deny policies need roles/iam.denyAdmin on the project.",
  positionals: [PROJECT_POSITIONAL],
  flags: [
    { name: "iam-policy", type: "string", help: "JSON of `gcloud projects get-iam-policy P --format=json`." },
    {
      name: "service-accounts",
      type: "string",
      help: "JSON of `gcloud iam service-accounts list --format=json`.",
    },
    {
      name: "roles",
      type: "string",
      help: "JSON of `gcloud iam roles list --project P --format=json` (or describe outputs).",
    },
    {
      name: "deny-policies",
      type: "string",
      help: "JSON of `gcloud iam policies get|list … --kind=denypolicies --format=json`.",
    },
  ],
  examples: [
    "warrant projects import my-project --iam-policy=policy.json --service-accounts=accounts.json --roles=roles.json --deny-policies=deny.json",
  ],
  async run(ctx) {
    const projectId = ctx.arg("PROJECT_ID");
    const cwd = ctx.rt.cwd;
    const file = (flag: string) => {
      const f = ctx.str(flag);
      return f === undefined ? undefined : readExport(f, cwd);
    };
    const plan = planImport(projectId, {
      policy: file("iam-policy"),
      serviceAccounts: file("service-accounts"),
      roles: file("roles"),
      denyPolicies: file("deny-policies"),
    });
    const report = await applyImport(ctx.session.api(), plan);
    if (ctx.out.explicit) ctx.out.one(report);
    else ctx.rt.stdout.write(renderImportReport(report));
    return 0;
  },
});
