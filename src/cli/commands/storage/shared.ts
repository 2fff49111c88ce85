import { CliError } from "../../errors.js";
import { type GsUrl, parseGsUrl, progressEnabled, Transfers } from "../../gcs.js";
import type { CommandContext } from "../../spec.js";

export function gs(url: string, what = "URL"): GsUrl {
  const u = parseGsUrl(url);
  if (!u)
    throw new CliError(
      `${what} [${url}] is not a gs:// URL.`,
      "Cloud Storage URLs look like gs://BUCKET/OBJECT.",
    );
  return u;
}

export function transfers(ctx: CommandContext) {
  return new Transfers(ctx.session, ctx.rt.fetch, ctx.rt.stderr, progressEnabled(ctx.rt.stderr, ctx.rt.env));
}
