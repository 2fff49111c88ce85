import { CliError } from "./errors.js";
import type { CommandContext } from "./spec.js";

/** Asks on an interactive terminal (unless --quiet); non-interactive runs proceed, as gcloud does. */
export async function confirmOrAbort(ctx: CommandContext, question: string): Promise<void> {
  if (ctx.bool("quiet") || !ctx.rt.stdinIsTTY || !ctx.rt.confirm) return;
  if (!(await ctx.rt.confirm(question))) throw new CliError("Aborted by user.");
}
