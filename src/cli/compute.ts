import type { ApiClient } from "./api.js";
import { seg } from "./api.js";
import { CliError, UsageError } from "./errors.js";
import type { CommandContext, FlagSpec, PositionalSpec } from "./spec.js";

export const INSTANCE_COLUMNS =
  "name, zone.basename():label=ZONE, machineType.basename():label=MACHINE_TYPE, " +
  "networkInterfaces[0].networkIP:label=INTERNAL_IP, status";

export const ZONE_FLAG: FlagSpec = {
  name: "zone",
  type: "string",
  help: "Zone of the instance, e.g. us-central1-a (default: CLOUDSDK_COMPUTE_ZONE).",
};

export const INSTANCE_POSITIONAL: PositionalSpec = { name: "INSTANCE_NAME", help: "Name of the instance." };

export function zoneOf(ctx: CommandContext): string {
  const z = ctx.str("zone") ?? ctx.rt.env.CLOUDSDK_COMPUTE_ZONE;
  if (!z)
    throw new UsageError(
      "argument --zone: Must be specified.",
      "Pass --zone=ZONE, e.g. --zone=us-central1-a.",
    );
  return z;
}

export function zonePath(project: string, zone: string): string {
  return `/compute/v1/projects/${seg(project)}/zones/${seg(zone)}`;
}

export function instancePath(project: string, zone: string, name: string): string {
  return `${zonePath(project, zone)}/instances/${seg(name)}`;
}

export interface ComputeOperation {
  kind?: string;
  name?: string;
  status?: string;
  targetLink?: string;
  selfLink?: string;
  zone?: string;
  error?: { errors?: { code?: string; message?: string }[] };
}

/** Waits (bounded) for a zonal compute operation to be DONE. */
export async function waitComputeOp(
  api: ApiClient,
  project: string,
  zone: string,
  op: ComputeOperation,
  timeoutMs = 120_000,
): Promise<ComputeOperation> {
  const deadline = Date.now() + timeoutMs;
  let cur = op;
  while (cur.status !== undefined && cur.status !== "DONE") {
    if (!cur.name) throw new CliError("The server returned an unfinished operation without a name.");
    if (Date.now() > deadline) throw new CliError(`Timed out waiting for operation [${cur.name}].`);
    await new Promise((r) => setTimeout(r, 500));
    cur = await api.request<ComputeOperation>(
      "GET",
      `${zonePath(project, zone)}/operations/${seg(cur.name)}`,
    );
  }
  return cur;
}

/** Throws a CliError listing the errors of a finished operation, gcloud style. */
export function checkComputeOp(op: ComputeOperation, what: string): void {
  const errors = op.error?.errors ?? [];
  if (errors.length === 0) return;
  const lines = errors.map((e) => ` - ${e.code ? `${e.code}: ` : ""}${e.message ?? "unknown error"}`);
  throw new CliError(`Could not ${what}:\n${lines.join("\n")}`);
}

export async function instanceAction(
  ctx: CommandContext,
  method: "POST" | "DELETE",
  suffix: string,
  verb: string,
  done: string,
): Promise<number> {
  const project = ctx.session.project();
  const zone = zoneOf(ctx);
  const name = ctx.arg("INSTANCE_NAME");
  const api = ctx.session.api();
  const path = instancePath(project, zone, name) + suffix;
  let op = await api.request<ComputeOperation>(method, path, method === "POST" ? { body: {} } : {});
  op = await waitComputeOp(api, project, zone, op);
  checkComputeOp(op, `${verb} instance [${name}]`);
  ctx.status(`${done} [${op.targetLink ?? api.url(instancePath(project, zone, name))}].`);
  return 0;
}
