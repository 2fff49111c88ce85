/**
 * A client-supplied value, safe to put in an error message: never calls the value's own methods
 * (a JSON object may carry a `toString` member) and never echoes more than a short excerpt.
 */
export function show(value: unknown, max = 100): string {
  let s: string;
  if (typeof value === "string") s = value;
  else if (value === null || ["number", "boolean", "undefined"].includes(typeof value))
    s = `${value as string}`;
  else if (Array.isArray(value)) s = "a list";
  else s = `a ${typeof value}`;
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
