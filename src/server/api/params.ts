/** Query-parameter parsing shared by the APIs: strict, with 400s that name the parameter. */
import { InvalidArgument } from "../../domain/errors.js";
import type { RequestContext } from "../http/context.js";

export function pageSize(ctx: RequestContext, name: string, fallback: number, max: number): number {
  const raw = ctx.url.searchParams.get(name);
  if (raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgument(`Invalid value for ${name}: '${raw}' is not a non-negative integer.`);
  return n === 0 ? fallback : Math.min(n, max);
}

export function pageToken(ctx: RequestContext): string | undefined {
  const t = ctx.url.searchParams.get("pageToken");
  if (t === null || t === "") return undefined;
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(t)) throw new InvalidArgument("Invalid pageToken.");
  return t;
}

export function optionalString(
  body: Record<string, unknown>,
  field: string,
  path = field,
): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new InvalidArgument(`Invalid value at '${path}': expected a string.`);
  return v;
}

export function objectField(body: Record<string, unknown>, field: string): Record<string, unknown> {
  const v = body[field];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v))
    throw new InvalidArgument(`Invalid value at '${field}': expected an object.`);
  return v as Record<string, unknown>;
}

/** `updateMask` as a set of top-level field names ("displayName,description"). */
export function updateMask(
  body: Record<string, unknown>,
  ctx: RequestContext,
  allowed: readonly string[],
): string[] | undefined {
  const raw = body.updateMask ?? ctx.url.searchParams.get("updateMask");
  if (raw === undefined || raw === null || raw === "") return undefined;
  if (typeof raw !== "string")
    throw new InvalidArgument("updateMask must be a comma-separated string of field names.");
  const fields = raw.split(",").map((f) =>
    f
      .trim()
      .replace(/^serviceAccount\./, "")
      .replace(/^role\./, ""),
  );
  const bad = fields.find((f) => !allowed.includes(f));
  if (bad !== undefined)
    throw new InvalidArgument(`Invalid updateMask field '${bad}'. Allowed: ${allowed.join(", ")}.`);
  return fields;
}
