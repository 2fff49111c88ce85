import YAML from "yaml";
import { UsageError } from "./errors.js";

export type FormatKind = "json" | "yaml" | "table" | "value" | "csv" | "none";

export interface Column {
  /** Key path; numbers index arrays, "[]" explicitly flattens (arrays are also mapped implicitly). */
  key: (string | number)[];
  transforms: { name: string; args: string[] }[];
  label: string;
}

export interface FormatSpec {
  kind: FormatKind;
  columns?: Column[];
  attrs: Record<string, string | true>;
}

const KINDS: FormatKind[] = ["json", "yaml", "table", "value", "csv", "none"];
const TRANSFORMS = new Set(["basename", "join", "len", "upper", "lower", "yesno"]);

/** Splits on `sep` at nesting depth 0 (outside (), [] and quotes). */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let cur = "";
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = undefined;
      cur += ch;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "(" || ch === "[") depth++;
    else if (ch === ")" || ch === "]") depth--;
    if (ch === sep && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function unquote(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && (t[0] === "'" || t[0] === '"') && t[t.length - 1] === t[0]) return t.slice(1, -1);
  return t;
}

export function parseColumn(text: string): Column {
  const [keyPart = "", ...attrParts] = splitTop(text.trim(), ":");
  const segments = splitTop(keyPart, ".");
  const key: (string | number)[] = [];
  const transforms: Column["transforms"] = [];
  for (const seg of segments) {
    const fn = /^([a-zA-Z_]+)\((.*)\)$/s.exec(seg);
    if (fn) {
      const name = fn[1]!;
      if (!TRANSFORMS.has(name)) {
        throw new UsageError(
          `Unknown format transform [${name}()].`,
          `Supported: ${[...TRANSFORMS].join(", ")}.`,
        );
      }
      const rawArgs = fn[2]!.trim();
      transforms.push({ name, args: rawArgs === "" ? [] : splitTop(rawArgs, ",").map(unquote) });
      continue;
    }
    if (transforms.length > 0)
      throw new UsageError(`Invalid format key [${keyPart}]: key after a transform.`);
    const m = /^([^[\]]*)((?:\[\d*\])*)$/.exec(seg);
    if (!m) throw new UsageError(`Invalid format key [${keyPart}].`);
    if (m[1]) key.push(m[1]);
    for (const idx of m[2]!.match(/\[\d*\]/g) ?? []) {
      const inner = idx.slice(1, -1);
      key.push(inner === "" ? "[]" : Number(inner));
    }
  }
  if (key.length === 0) throw new UsageError(`Invalid format key [${text}].`);
  let label = "";
  for (const a of attrParts) {
    const lm = /^label=(.*)$/s.exec(a.trim());
    if (lm) label = unquote(lm[1]!);
  }
  if (!label) {
    const last = [...key].reverse().find((k) => typeof k === "string" && k !== "[]");
    label = String(last ?? "value")
      .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
      .toUpperCase();
  }
  return { key, transforms, label };
}

export function parseColumns(text: string): Column[] {
  return splitTop(text, ",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(parseColumn);
}

/** Parses gcloud-style --format: `json`, `yaml`, `table[no-heading](a.b, c.basename():label=C)`, `value(a)`, `none`. */
export function parseFormat(text: string): FormatSpec {
  const m = /^\s*([a-z]+)\s*(?:\[([^\]]*)\])?\s*(?:\((.*)\))?\s*$/s.exec(text);
  const kind = m?.[1] as FormatKind | undefined;
  if (!m || !kind || !KINDS.includes(kind)) {
    throw new UsageError(
      `Format [${text}] is not valid.`,
      "Use json, yaml, table, table(FIELD,...), value(FIELD,...), csv(FIELD,...) or none.",
    );
  }
  const attrs: Record<string, string | true> = {};
  for (const a of m[2] ? splitTop(m[2], ",") : []) {
    const [k, ...v] = a.split("=");
    if (k?.trim()) attrs[k.trim()] = v.length > 0 ? unquote(v.join("=")) : true;
  }
  const columns = m[3] !== undefined ? parseColumns(m[3]) : undefined;
  if ((kind === "value" || kind === "csv") && !columns?.length) {
    throw new UsageError(`Format [${kind}] requires a list of fields, e.g. ${kind}(name).`);
  }
  return { kind, attrs, ...(columns ? { columns } : {}) };
}

function lookup(value: unknown, key: (string | number)[]): unknown {
  if (key.length === 0) return value;
  const [head, ...tail] = key;
  if (value === null || value === undefined) return undefined;
  if (head === "[]") return Array.isArray(value) ? value.map((v) => lookup(v, tail)) : lookup(value, tail);
  if (Array.isArray(value)) {
    if (typeof head === "number") return lookup(value[head], tail);
    return value.flatMap((v) => lookup(v, key));
  }
  if (typeof value === "object" && typeof head === "string") {
    return lookup((value as Record<string, unknown>)[head], tail);
  }
  if (typeof value === "object" && typeof head === "number") {
    return lookup((value as Record<string, unknown>)[String(head)], tail);
  }
  return undefined;
}

function basename(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const parts = v.replace(/\/+$/, "").split("/");
  return parts[parts.length - 1] ?? v;
}

function applyTransform(v: unknown, t: Column["transforms"][number]): unknown {
  switch (t.name) {
    case "basename":
      return Array.isArray(v) ? v.map(basename) : basename(v);
    case "join":
      return Array.isArray(v) ? v.map((x) => cell(x)).join(t.args[0] ?? ",") : v;
    case "len":
      return Array.isArray(v) || typeof v === "string"
        ? v.length
        : v && typeof v === "object"
          ? Object.keys(v).length
          : 0;
    case "upper":
      return typeof v === "string" ? v.toUpperCase() : v;
    case "lower":
      return typeof v === "string" ? v.toLowerCase() : v;
    case "yesno":
      return v ? (t.args[0] ?? "yes") : (t.args[1] ?? "");
    default:
      return v;
  }
}

export function extract(resource: unknown, col: Column): unknown {
  let v = lookup(resource, col.key);
  for (const t of col.transforms) v = applyTransform(v, t);
  return v;
}

/** Renders one extracted value as text: lists joined with ";", maps as k=v;..., null as empty. */
export function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map(cell).join(";");
  if (typeof v === "object") {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}=${cell(x)}`)
      .join(";");
  }
  return String(v);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

export function renderJson(v: unknown): string {
  return JSON.stringify(sortKeys(v), null, 2) + "\n";
}

export function renderYaml(v: unknown): string {
  return YAML.stringify(sortKeys(v), { lineWidth: 0, minContentWidth: 0, singleQuote: true });
}

/** Columns for `--format=table` without fields: the top-level scalar keys of the first resource. */
export function inferColumns(items: unknown[]): Column[] {
  const first = items.find((x) => x && typeof x === "object") as Record<string, unknown> | undefined;
  if (!first) return [parseColumn("value")];
  return Object.keys(first)
    .filter((k) => typeof first[k] !== "object" || first[k] === null)
    .map((k) => parseColumn(k));
}

export function renderTable(items: unknown[], columns: Column[], heading = true): string {
  const rows = items.map((it) => columns.map((c) => cell(extract(it, c)).replace(/\n/g, " ")));
  if (heading) rows.unshift(columns.map((c) => c.label));
  if (rows.length === 0) return "";
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}

export function renderValue(items: unknown[], columns: Column[], separator = "\t"): string {
  return items.map((it) => columns.map((c) => cell(extract(it, c))).join(separator) + "\n").join("");
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function renderCsv(items: unknown[], columns: Column[], heading = true): string {
  const lines = items.map((it) => columns.map((c) => csvField(cell(extract(it, c)))).join(","));
  if (heading) lines.unshift(columns.map((c) => csvField(c.label.toLowerCase())).join(","));
  return lines.map((l) => l + "\n").join("");
}

/**
 * Renders resources. `list` output goes one resource per row/document; a single resource (describe)
 * is rendered as itself. `defaultColumns` is the command's table projection.
 */
export function render(
  fmt: FormatSpec,
  data: { list: unknown[] } | { one: unknown },
  defaultColumns?: string,
): string {
  const items = "list" in data ? data.list : [data.one];
  const heading = fmt.attrs["no-heading"] === undefined;
  const cols = () => fmt.columns ?? (defaultColumns ? parseColumns(defaultColumns) : inferColumns(items));
  switch (fmt.kind) {
    case "none":
      return "";
    case "json":
      return renderJson("list" in data ? data.list : data.one);
    case "yaml":
      if ("one" in data) return renderYaml(data.one);
      return items.map((it) => "---\n" + renderYaml(it)).join("");
    case "table":
      return renderTable(items, cols(), heading);
    case "csv":
      return renderCsv(items, cols(), heading);
    case "value": {
      const sep = fmt.attrs.separator;
      return renderValue(items, cols(), typeof sep === "string" ? sep : "\t");
    }
  }
}
