import { seg } from "../../../api.js";
import type { CommandContext } from "../../../spec.js";

/** `/v1/projects/P/locations/global/workloadIdentityPools[/POOL]` for the command's project. */
export function poolsPath(ctx: CommandContext, pool?: string): string {
  const base = `/v1/projects/${seg(ctx.session.project())}/locations/${seg(ctx.str("location") ?? "global")}/workloadIdentityPools`;
  return pool === undefined ? base : `${base}/${seg(pool)}`;
}

export const LOCATION_FLAG = {
  name: "location",
  type: "string",
  help: "Location of the pool; only global exists (the default).",
} as const;
