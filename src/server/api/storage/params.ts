/** Cloud Storage's query parameters and path names, parsed strictly with GCS-shaped 400s. */
import { InvalidArgument } from "../../../domain/errors.js";
import { objectNameProblem } from "../../../domain/storage/object.js";
import type { RequestContext } from "../../http/context.js";

/** `true`/`false` in any case (gsutil sends `False`, gcloud `True`). */
export function boolParam(ctx: RequestContext, name: string): boolean {
  const v = ctx.url.searchParams.get(name);
  if (v === null || v === "") return false;
  const lower = v.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  throw new InvalidArgument(`Invalid value for ${name}: '${v.slice(0, 40)}' is not a boolean.`, "invalid");
}

export function generationParam(ctx: RequestContext, name = "generation"): string | undefined {
  const v = ctx.url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  if (!/^\d{1,20}$/.test(v))
    throw new InvalidArgument(`Invalid value for ${name}: '${v.slice(0, 40)}'.`, "invalid");
  return BigInt(v).toString();
}

export function objectName(raw: string | undefined): string {
  const problem = objectNameProblem(raw);
  if (problem) throw new InvalidArgument(problem, "invalid");
  return raw!;
}

/**
 * The `name` query parameter, decoded strictly: URLSearchParams turns bytes that are not UTF-8
 * into U+FFFD, which would silently store a different name than the client sent.
 */
export function nameParam(ctx: RequestContext): string | undefined {
  const query = (ctx.req.url ?? "").split("?")[1] ?? "";
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    if ((eq < 0 ? pair : pair.slice(0, eq)) !== "name") continue;
    try {
      return decodeURIComponent(eq < 0 ? "" : pair.slice(eq + 1).replace(/\+/g, " "));
    } catch {
      throw new InvalidArgument("The object name is not valid UTF-8.", "invalid");
    }
  }
  return undefined;
}
