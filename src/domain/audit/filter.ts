/**
 * The subset of Cloud Logging's query language that `entries:list` accepts over Warrant's audit
 * log: comparisons `FIELD OP VALUE` on the fields below, combined with `AND` (or a space), `OR`
 * (which binds tighter than AND, as in Logging), `NOT` or `-`, and parentheses (gcloud wraps each
 * clause in them). Anything else is refused with a message naming what is supported; the parser
 * never throws anything but `FilterError`.
 *
 * Fields: `timestamp`, `severity`, `logName`, `insertId`, `operation.id` (the request id),
 * `protoPayload.authenticationInfo.principalEmail`, `protoPayload.authorizationInfo.permission`,
 * `protoPayload.authorizationInfo.granted`, `protoPayload.authorizationInfo.resource`,
 * `protoPayload.methodName`, `protoPayload.serviceName`, `protoPayload.resourceName`,
 * `protoPayload.status.code`. A comparison on a repeated field (`authorizationInfo`) holds when it
 * holds for any element, as in Logging.
 */
import { type LogEntry, SEVERITIES, severityRank } from "./log-entry.js";

export class FilterError extends Error {}

export const MAX_FILTER_LENGTH = 20_000;
const MAX_DEPTH = 64;

type Op = "=" | "!=" | ">" | ">=" | "<" | "<=" | ":";

export type FilterNode =
  | { and: FilterNode[] }
  | { or: FilterNode[] }
  | { not: FilterNode }
  | { field: string; op: Op; value: string };

interface FieldSpec {
  kind: "string" | "time" | "severity" | "bool" | "number" | "logName";
  /** The values of the field in an entry (several for a repeated field; none when absent). */
  get: (e: LogEntry) => readonly unknown[];
  /** Compared case-insensitively (e-mails). */
  caseless?: boolean;
}

const one = (v: unknown) => (v === undefined ? [] : [v]);

export const FIELDS: Record<string, FieldSpec> = {
  timestamp: { kind: "time", get: (e) => [e.timestamp] },
  receiveTimestamp: { kind: "time", get: (e) => [e.receiveTimestamp] },
  severity: { kind: "severity", get: (e) => [e.severity] },
  logName: { kind: "logName", get: (e) => [e.logName] },
  insertId: { kind: "string", get: (e) => [e.insertId] },
  "operation.id": { kind: "string", get: (e) => one(e.operation?.id) },
  "protoPayload.authenticationInfo.principalEmail": {
    kind: "string",
    caseless: true,
    get: (e) => one(e.protoPayload.authenticationInfo.principalEmail),
  },
  "protoPayload.authenticationInfo.principalSubject": {
    kind: "string",
    caseless: true,
    get: (e) => one(e.protoPayload.authenticationInfo.principalSubject),
  },
  "protoPayload.authorizationInfo.permission": {
    kind: "string",
    get: (e) => (e.protoPayload.authorizationInfo ?? []).map((a) => a.permission),
  },
  "protoPayload.authorizationInfo.granted": {
    kind: "bool",
    get: (e) => (e.protoPayload.authorizationInfo ?? []).map((a) => a.granted),
  },
  "protoPayload.authorizationInfo.resource": {
    kind: "string",
    get: (e) => (e.protoPayload.authorizationInfo ?? []).map((a) => a.resource),
  },
  "protoPayload.methodName": { kind: "string", get: (e) => [e.protoPayload.methodName] },
  "protoPayload.serviceName": { kind: "string", get: (e) => [e.protoPayload.serviceName] },
  "protoPayload.resourceName": { kind: "string", get: (e) => one(e.protoPayload.resourceName) },
  "protoPayload.status.code": { kind: "number", get: (e) => [e.protoPayload.status.code ?? 0] },
};

const SUPPORTED =
  "Supported: comparisons FIELD OP VALUE (OP one of = != > >= < <= and : for a substring) on " +
  `${Object.keys(FIELDS).join(", ")}, combined with AND (or a space), OR, NOT and parentheses; ` +
  'values are "quoted strings" or bare words, e.g. protoPayload.authorizationInfo.granted=false AND timestamp>="2026-12-04T00:00:00Z".';

interface Token {
  t: "word" | "string" | "op" | "(" | ")" | "-";
  v: string;
  at: number;
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "(" || c === ")") {
      out.push({ t: c, v: c, at: i });
      i++;
      continue;
    }
    if (c === '"') {
      let v = "";
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new FilterError(`Unterminated string starting at position ${i + 1}.`);
        const d = src[j]!;
        if (d === '"') break;
        if (d === "\\") {
          const n = src[j + 1];
          if (n === undefined) throw new FilterError(`Unterminated string starting at position ${i + 1}.`);
          v += n === "n" ? "\n" : n === "t" ? "\t" : n;
          j += 2;
          continue;
        }
        v += d;
        j++;
      }
      out.push({ t: "string", v, at: i });
      i = j + 1;
      continue;
    }
    const op = /^(>=|<=|!=|=~|!~|=|>|<|:)/.exec(src.slice(i, i + 2));
    if (op) {
      if (op[1] === "=~" || op[1] === "!~")
        throw new FilterError(`Regular-expression comparisons (${op[1]}) are not supported. ${SUPPORTED}`);
      out.push({ t: "op", v: op[1]!, at: i });
      i += op[1]!.length;
      continue;
    }
    if (c === "-" && (out.length === 0 || out[out.length - 1]!.t !== "op")) {
      out.push({ t: "-", v: c, at: i });
      i++;
      continue;
    }
    let j = i;
    while (j < src.length && !/[\s()"<>=!:]/.test(src[j]!)) j++;
    if (j === i) throw new FilterError(`Unexpected '${c}' at position ${i + 1}. ${SUPPORTED}`);
    out.push({ t: "word", v: src.slice(i, j), at: i });
    i = j;
  }
  return out;
}

/** Parses a filter; an empty one matches every entry. Throws `FilterError` with the reason. */
export function parseFilter(src: string): FilterNode {
  if (src.length > MAX_FILTER_LENGTH)
    throw new FilterError(`The filter is longer than ${MAX_FILTER_LENGTH} characters.`);
  const tokens = tokenize(src);
  let pos = 0;
  const peek = () => tokens[pos];
  const isKeyword = (tok: Token | undefined, k: string) => tok?.t === "word" && tok.v === k;

  function conjunction(depth: number): FilterNode {
    if (depth > MAX_DEPTH) throw new FilterError(`The filter nests deeper than ${MAX_DEPTH} levels.`);
    const parts: FilterNode[] = [disjunction(depth)];
    for (;;) {
      const tok = peek();
      if (!tok || tok.t === ")") break;
      if (isKeyword(tok, "AND")) pos++;
      parts.push(disjunction(depth));
    }
    return parts.length === 1 ? parts[0]! : { and: parts };
  }
  function disjunction(depth: number): FilterNode {
    const parts: FilterNode[] = [unary(depth)];
    while (isKeyword(peek(), "OR")) {
      pos++;
      parts.push(unary(depth));
    }
    return parts.length === 1 ? parts[0]! : { or: parts };
  }
  function unary(depth: number): FilterNode {
    const tok = peek();
    if (!tok) throw new FilterError(`The filter ends where a comparison was expected. ${SUPPORTED}`);
    if (isKeyword(tok, "NOT") || tok.t === "-") {
      pos++;
      if (depth > MAX_DEPTH) throw new FilterError(`The filter nests deeper than ${MAX_DEPTH} levels.`);
      return { not: unary(depth + 1) };
    }
    if (tok.t === "(") {
      pos++;
      const inner = conjunction(depth + 1);
      if (peek()?.t !== ")") throw new FilterError(`Missing ')' for the '(' at position ${tok.at + 1}.`);
      pos++;
      return inner;
    }
    return comparison();
  }
  function comparison(): FilterNode {
    const f = tokens[pos]!;
    if (f.t !== "word" || f.v === "AND" || f.v === "OR")
      throw new FilterError(`Expected a field name at position ${f.at + 1}, found '${f.v}'. ${SUPPORTED}`);
    const spec = FIELDS[f.v];
    if (!spec) {
      const hint =
        f.v.startsWith("protoPayload.") || f.v.includes(".")
          ? ""
          : " (global restrictions, bare words without a field, are not supported)";
      throw new FilterError(`Unsupported field '${f.v}'${hint}. ${SUPPORTED}`);
    }
    const op = tokens[pos + 1];
    if (op?.t !== "op") throw new FilterError(`Expected a comparison operator after '${f.v}'. ${SUPPORTED}`);
    const val = tokens[pos + 2];
    if (!val || (val.t !== "word" && val.t !== "string"))
      throw new FilterError(`Expected a value after '${f.v}${op.v}'. ${SUPPORTED}`);
    pos += 3;
    return checkComparison(f.v, spec, op.v as Op, val.v);
  }

  if (tokens.length === 0) return { and: [] };
  const root = conjunction(0);
  if (pos < tokens.length) {
    const tok = tokens[pos]!;
    throw new FilterError(`Unexpected '${tok.v}' at position ${tok.at + 1}. ${SUPPORTED}`);
  }
  return root;
}

function checkComparison(field: string, spec: FieldSpec, op: Op, value: string): FilterNode {
  const ordered = op === ">" || op === ">=" || op === "<" || op === "<=";
  switch (spec.kind) {
    case "time":
      if (op === ":") throw new FilterError(`${field} takes = != > >= < <=, not ':'.`);
      if (Number.isNaN(parseTime(value)))
        throw new FilterError(
          `${field}${op}"${value}": not an RFC 3339 timestamp (e.g. 2026-12-04T21:00:00Z).`,
        );
      break;
    case "severity":
      if (op === ":") throw new FilterError(`${field} takes = != > >= < <=, not ':'.`);
      if (severityValue(value) === undefined)
        throw new FilterError(
          `${field}${op}${value}: not a severity (${SEVERITIES.join(", ")}, or a number).`,
        );
      break;
    case "bool":
      if (op !== "=" && op !== "!=") throw new FilterError(`${field} takes = or !=.`);
      if (value !== "true" && value !== "false")
        throw new FilterError(`${field}${op}${value}: expected true or false.`);
      break;
    case "number":
      if (op === ":") throw new FilterError(`${field} takes = != > >= < <=, not ':'.`);
      if (!/^-?\d{1,15}$/.test(value)) throw new FilterError(`${field}${op}${value}: expected an integer.`);
      break;
    default:
      if (ordered) throw new FilterError(`${field} takes =, != or ':' (substring), not '${op}'.`);
  }
  return { field, op, value };
}

/** Epoch ms of an RFC 3339 timestamp (fractions beyond milliseconds allowed), NaN if not one. */
export function parseTime(v: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/.exec(v);
  if (!m) return Number.NaN;
  const frac = m[3] ? m[3].slice(0, 4).padEnd(4, "0") : "";
  const zone = m[4]
    ? m[4].toUpperCase() === "Z"
      ? "Z"
      : m[4].replace(/^([+-]\d{2})(\d{2})$/, "$1:$2")
    : "Z";
  return Date.parse(`${m[1]}T${m[2] ?? "00:00:00"}${m[2]?.length === 5 ? ":00" : ""}${frac}${zone}`);
}

function severityValue(v: string): number | undefined {
  if (/^\d{1,4}$/.test(v)) return Number(v);
  const r = severityRank(v.toUpperCase());
  return r < 0 ? undefined : r;
}

const decodeLogName = (v: string) => {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
};

function compare(spec: FieldSpec, op: Op, have: unknown, want: string): boolean {
  let a: number | string;
  let b: number | string;
  switch (spec.kind) {
    case "time":
      a = typeof have === "string" ? Date.parse(have) : Number.NaN;
      b = parseTime(want);
      break;
    case "severity":
      a = severityRank(String(have));
      b = severityValue(want) ?? Number.NaN;
      break;
    case "bool":
      return op === "=" ? String(have) === want : String(have) !== want;
    case "number":
      a = Number(have);
      b = Number(want);
      break;
    case "logName":
      a = decodeLogName(String(have));
      b = decodeLogName(want);
      break;
    default:
      a = spec.caseless ? String(have).toLowerCase() : String(have);
      b = spec.caseless ? want.toLowerCase() : want;
  }
  switch (op) {
    case "=":
      return a === b;
    case "!=":
      return a !== b;
    case ":":
      return String(a).includes(String(b));
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
  }
}

export function evaluate(node: FilterNode, e: LogEntry): boolean {
  if ("and" in node) return node.and.every((n) => evaluate(n, e));
  if ("or" in node) return node.or.some((n) => evaluate(n, e));
  if ("not" in node) return !evaluate(node.not, e);
  const spec = FIELDS[node.field]!;
  const values = spec.get(e);
  // `!=` on a repeated field: no element equals it (Logging's NOT field=value).
  if (node.op === "!=") return !values.some((v) => compare(spec, "=", v, node.value));
  return values.some((v) => compare(spec, node.op, v, node.value));
}

/**
 * Bounds on `timestamp` that every matching entry satisfies: from comparisons joined by AND at the
 * top (inside parentheses too), never under OR or NOT. Lets a reader stop early.
 */
export function timeBounds(node: FilterNode): { after?: number; afterInclusive?: boolean; before?: number } {
  const out: { after?: number; afterInclusive?: boolean; before?: number } = {};
  const visit = (n: FilterNode) => {
    if ("and" in n) {
      for (const c of n.and) visit(c);
      return;
    }
    if (!("field" in n) || n.field !== "timestamp") return;
    const t = parseTime(n.value);
    if (n.op === ">" || n.op === ">=" || n.op === "=") {
      if (out.after === undefined || t > out.after || (t === out.after && n.op === ">")) {
        out.after = t;
        out.afterInclusive = n.op !== ">";
      }
    }
    if (n.op === "<" || n.op === "<=" || n.op === "=") {
      const b = n.op === "<" ? t : t + 1;
      if (out.before === undefined || b < out.before) out.before = b;
    }
  };
  visit(node);
  return out;
}

/** The logName values required at the top (AND) level: lets the server ask for data access only when requested. */
export function requiredLogNames(node: FilterNode): string[] {
  const out: string[] = [];
  const visit = (n: FilterNode) => {
    if ("and" in n) for (const c of n.and) visit(c);
    else if ("field" in n && n.field === "logName" && n.op === "=") out.push(decodeLogName(n.value));
  };
  visit(node);
  return out;
}

/** Fields whose value an audit line holds verbatim (as a JSON string), for `literalHints`. */
const VERBATIM = new Set([
  "operation.id",
  "protoPayload.authorizationInfo.permission",
  "protoPayload.authorizationInfo.resource",
]);

/**
 * Strings every matching audit line contains, from `=` comparisons joined by AND at the top on
 * fields the line holds verbatim (the request id, a checked permission or resource): a reader can
 * skip a line without parsing it when one is missing. Only values of characters JSON never escapes.
 */
export function literalHints(node: FilterNode): string[] {
  const out: string[] = [];
  const visit = (n: FilterNode) => {
    if ("and" in n) for (const c of n.and) visit(c);
    else if ("field" in n && n.op === "=" && VERBATIM.has(n.field) && /^[A-Za-z0-9@._:/{}+-]+$/.test(n.value))
      out.push(`"${n.value}"`);
  };
  visit(node);
  return out;
}
