import {
  type ComputeOperation,
  checkComputeOp,
  INSTANCE_COLUMNS,
  instancePath,
  waitComputeOp,
  ZONE_FLAG,
  zoneOf,
  zonePath,
} from "../../../compute.js";
import { UsageError } from "../../../errors.js";
import { DEFAULT_SCOPES, expandScopes, SCOPE_ALIASES, splitList } from "../../../scopes.js";
import { command } from "../../../spec.js";

export const DEFAULT_MACHINE_TYPE = "e2-medium";

export interface ServiceAccountSpec {
  email: string;
  scopes: string[];
}

/** gcloud's rules for --service-account/--scopes/--no-service-account/--no-scopes. */
export function serviceAccountsFor(opts: {
  serviceAccount?: string;
  scopes?: string;
  noServiceAccount?: boolean;
  noScopes?: boolean;
}): ServiceAccountSpec[] {
  if (opts.noServiceAccount) {
    if (opts.serviceAccount !== undefined) {
      throw new UsageError("argument --no-service-account: not allowed with argument --service-account");
    }
    if (!opts.noScopes || opts.scopes !== undefined) {
      throw new UsageError(
        "argument --no-service-account: requires --no-scopes (an instance without a service account has no scopes)",
      );
    }
    return [];
  }
  if (opts.noScopes && opts.scopes !== undefined) {
    throw new UsageError("argument --no-scopes: not allowed with argument --scopes");
  }
  const scopes = opts.noScopes
    ? []
    : opts.scopes !== undefined
      ? expandScopes(splitList(opts.scopes))
      : DEFAULT_SCOPES;
  return [{ email: opts.serviceAccount ?? "default", scopes }];
}

export function machineTypeFor(zone: string, type: string): string {
  return type.includes("/") ? type : `zones/${zone}/machineTypes/${type}`;
}

export default command({
  name: "create",
  summary: "create a VM instance that runs as a service account",
  description:
    "Creates the instance; code on it gets tokens for the service account from the metadata server, " +
    "limited to the scopes. Without --service-account the project's default compute service account " +
    '("default") is used; without --scopes gcloud\'s default scopes are. Scope aliases: ' +
    Object.keys(SCOPE_ALIASES).join(", ") +
    ". Other names become https://www.googleapis.com/auth/NAME; full URLs are kept.",
  positionals: [{ name: "INSTANCE_NAME", help: "Name of the new instance." }],
  flags: [
    ZONE_FLAG,
    { name: "machine-type", type: "string", help: `Machine type (default ${DEFAULT_MACHINE_TYPE}).` },
    {
      name: "service-account",
      type: "string",
      metavar: "EMAIL",
      help: "Service account the instance runs as.",
    },
    {
      name: "scopes",
      type: "string",
      metavar: "SCOPE,[SCOPE,...]",
      help: "OAuth scopes (aliases, names or URLs).",
    },
    { name: "no-service-account", type: "boolean", help: "Create the instance without a service account." },
    { name: "no-scopes", type: "boolean", help: "Grant no scopes to the service account." },
  ],
  examples: [
    "warrant compute instances create vm-1 --zone=us-central1-a --service-account=app@my-project.iam.gserviceaccount.com --scopes=cloud-platform",
    "warrant compute instances create vm-2 --zone=us-central1-a --scopes=storage-ro,logging-write --machine-type=e2-small",
  ],
  async run(ctx) {
    const project = ctx.session.project();
    const zone = zoneOf(ctx);
    const name = ctx.arg("INSTANCE_NAME");
    const serviceAccounts = serviceAccountsFor({
      serviceAccount: ctx.str("service-account"),
      scopes: ctx.str("scopes"),
      noServiceAccount: ctx.bool("no-service-account"),
      noScopes: ctx.bool("no-scopes"),
    });
    const body = {
      name,
      machineType: machineTypeFor(zone, ctx.str("machine-type") ?? DEFAULT_MACHINE_TYPE),
      serviceAccounts,
    };
    const api = ctx.session.api();
    let op = await api.request<ComputeOperation>("POST", `${zonePath(project, zone)}/instances`, { body });
    op = await waitComputeOp(api, project, zone, op);
    checkComputeOp(op, `create instance [${name}]`);
    ctx.status(`Created [${op.targetLink ?? api.url(instancePath(project, zone, name))}].`);
    const instance = await api.request("GET", instancePath(project, zone, name));
    ctx.out.list([instance], INSTANCE_COLUMNS);
    return 0;
  },
});
