/**
 * IAM Conditions: CEL expressions on role bindings (and deny rules), compiled once and evaluated
 * per decision with the attributes Google offers — `request.time`, `resource.name`,
 * `resource.type`, `resource.service` — plus Google's extra functions (`date()`, `extract()`).
 * Pure: the caller supplies the time and the resource name.
 *
 * Semantics (docs/iam.md): a binding applies only if its condition evaluates to exactly `true`.
 * An attribute a resource does not provide is absent, so any use of it is an error, which CEL's
 * `||`/`&&` absorb where the other side decides; an error or a non-boolean result never grants.
 */
import { CelScalar, celEnv, celFunc, celMethod, isCelError, objectType, parse, plan } from "@bufbuild/cel";
import { type Timestamp, TimestampSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";

/** The attributes of the resource being accessed, as Google names them (absent when not provided). */
export interface ResourceAttributes {
  service?: string;
  type?: string;
  name?: string;
}

export interface ConditionInput {
  expression: string;
  title?: string;
}

const TIMESTAMP = objectType(TimestampSchema);

/**
 * `"…".extract("prefix{var}suffix")`: the text after the first `prefix` and before the next
 * `suffix` (to the end when the suffix is empty); "" when either is absent.
 */
export function extractTemplate(value: string, template: string): string {
  const m = /^([^{}]*)\{[A-Za-z_][A-Za-z0-9_]*\}([^{}]*)$/.exec(template);
  if (!m) throw new Error(`extract(): invalid template '${template}': expected PREFIX{name}SUFFIX`);
  const [, prefix, suffix] = m as unknown as [string, string, string];
  const start = value.indexOf(prefix);
  if (start < 0) return "";
  const from = start + prefix.length;
  if (suffix === "") return value.slice(from);
  const end = value.indexOf(suffix, from);
  return end < 0 ? "" : value.slice(from, end);
}

const funcs = [
  celMethod("extract", CelScalar.STRING, [CelScalar.STRING], CelScalar.STRING, function (template) {
    return extractTemplate(this as string, template);
  }),
  celFunc("date", [CelScalar.STRING], TIMESTAMP, (s) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) throw new Error(`date(): '${s}' is not YYYY-MM-DD`);
    const d = new Date(`${s}T00:00:00Z`);
    if (Number.isNaN(d.getTime())) throw new Error(`date(): '${s}' is not a valid date`);
    return timestampFromDate(d);
  }),
];

const env = celEnv({ funcs });

/** Attributes a condition may name, by variable. */
const ATTRIBUTES: Record<string, readonly string[]> = {
  request: ["time"],
  resource: ["name", "type", "service"],
};
const UNSUPPORTED: Record<string, string> = {
  "request.host": "is offered by Identity-Aware Proxy only",
  "request.path": "is offered by Identity-Aware Proxy only",
  "request.auth": "is offered by Identity-Aware Proxy only",
  "destination.ip": "is offered by Identity-Aware Proxy only",
  "destination.port": "is offered by Identity-Aware Proxy only",
};

interface Compiled {
  run: (vars: Record<string, unknown>) => unknown;
  /** expr id → character offset, for positions in errors. */
  positions: Map<string, number>;
  /** The attributes the expression reads (`resource.name`, …), in order of first use. */
  attributes: string[];
}

/**
 * Limits that keep every evaluation cheap: no comprehension macros (`all`, `exists`, `map`, …,
 * which nest into polynomial loops; Google's attribute reference offers none), at most 12 logical
 * operators (Google's documented limit) and 4096 characters.
 */
export const MAX_LOGICAL_OPERATORS = 12;
export const MAX_EXPRESSION_LENGTH = 4096;

const cache = new Map<string, Compiled | string>();
const MAX_CACHE = 10_000;

/** Where `offset` is in `text`, as Google reports it: `line L, column C` (1-based). */
function position(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

// biome-ignore lint/suspicious/noExplicitAny: the CEL AST is walked structurally.
type Node = any;

function compile(expression: string): Compiled | string {
  const hit = cache.get(expression);
  if (hit !== undefined) return hit;
  const out = compileUncached(expression);
  if (cache.size >= MAX_CACHE) cache.clear();
  cache.set(expression, out);
  return out;
}

function compileUncached(expression: string): Compiled | string {
  if (expression.trim() === "") return "the expression is empty";
  if (expression.length > MAX_EXPRESSION_LENGTH)
    return `the expression is longer than ${MAX_EXPRESSION_LENGTH} characters`;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(expression);
  } catch (err) {
    const e = err as { location?: { offset?: number; line?: number; column?: number }; message: string };
    const where = /^<input>:(\d+):(\d+): (.*)$/s.exec(e.message);
    if (where) return `syntax error at line ${where[1]}, column ${Number(where[2]) + 1}: ${where[3]}`;
    return `syntax error: ${e.message}`;
  }
  const positions = new Map<string, number>();
  const raw = parsed.sourceInfo?.positions as unknown;
  if (raw instanceof Map) for (const [k, v] of raw) positions.set(String(k), Number(v));
  else if (raw && typeof raw === "object")
    for (const [k, v] of Object.entries(raw as Record<string, number>)) positions.set(k, Number(v));
  const at = (node: Node) => {
    const off = positions.get(String(node?.id));
    return off === undefined ? "" : ` at ${position(expression, off)}`;
  };
  const attributes: string[] = [];
  let problem: string | undefined;
  let logical = 0;
  const walk = (node: Node) => {
    if (!node || problem) return;
    const kind = node.exprKind;
    switch (kind?.case) {
      case "identExpr": {
        const name = kind.value.name as string;
        if (name in ATTRIBUTES)
          problem = `'${name}' must be used through one of its attributes (${ATTRIBUTES[name]!.map((a) => `${name}.${a}`).join(", ")})${at(node)}`;
        else problem = `undeclared reference to '${name}'${at(node)}`;
        return;
      }
      case "selectExpr": {
        const operand = kind.value.operand;
        if (operand?.exprKind?.case === "identExpr") {
          const base = operand.exprKind.value.name as string;
          const path = `${base}.${kind.value.field}`;
          const unsupported = Object.entries(UNSUPPORTED).find(
            ([p]) => path === p || path.startsWith(`${p}.`),
          );
          if (unsupported) {
            problem = `attribute '${path}' is not supported: it ${unsupported[1]}${at(node)}`;
            return;
          }
          if (!(base in ATTRIBUTES)) {
            problem = `undeclared reference to '${base}'${at(operand)}`;
            return;
          }
          if (!ATTRIBUTES[base]!.includes(kind.value.field)) {
            problem = `unknown attribute '${path}' (known: ${ATTRIBUTES[base]!.map((a) => `${base}.${a}`).join(", ")})${at(node)}`;
            return;
          }
          if (!attributes.includes(path)) attributes.push(path);
          return;
        }
        walk(operand);
        return;
      }
      case "callExpr":
        if (kind.value.function === "_&&_" || kind.value.function === "_||_") {
          logical++;
          if (logical > MAX_LOGICAL_OPERATORS) {
            problem = `more than ${MAX_LOGICAL_OPERATORS} logical operators (&&, ||)${at(node)}`;
            return;
          }
        }
        walk(kind.value.target);
        for (const a of kind.value.args ?? []) walk(a);
        return;
      case "listExpr":
        for (const e of kind.value.elements ?? []) walk(e);
        return;
      case "structExpr":
        for (const e of kind.value.entries ?? []) {
          if (e.keyKind?.case === "mapKey") walk(e.keyKind.value);
          walk(e.value);
        }
        return;
      case "comprehensionExpr":
        problem = `macros such as all(), exists(), exists_one(), map() and filter() are not supported in IAM conditions${at(node)}`;
        return;
      default:
        return;
    }
  };
  walk(parsed.expr);
  if (problem) return problem;
  let run: (vars: Record<string, unknown>) => unknown;
  try {
    const planned = plan(env, parsed) as (vars: Record<string, unknown>) => unknown;
    run = planned;
  } catch (err) {
    return `cannot be compiled: ${(err as Error).message}`;
  }
  return { run, positions, attributes };
}

/**
 * Undefined when the expression parses (deny conditions: Google's tag functions are accepted, and
 * an expression Warrant cannot evaluate applies its rule); else the syntax error with its position.
 */
export function conditionParseError(expression: string): string | undefined {
  if (expression.trim() === "") return "the expression is empty";
  try {
    parse(expression);
    return undefined;
  } catch (err) {
    const where = /^<input>:(\d+):(\d+): (.*)$/s.exec((err as Error).message);
    if (where) return `syntax error at line ${where[1]}, column ${Number(where[2]) + 1}: ${where[3]}`;
    return `syntax error: ${(err as Error).message}`;
  }
}

/** Undefined when the expression compiles; else what is wrong, with its position. */
export function conditionError(expression: string): string | undefined {
  const c = compile(expression);
  return typeof c === "string" ? c : undefined;
}

/**
 * The attributes Google provides for a resource, from its full name: Cloud Storage buckets and
 * objects, Compute Engine instances, and projects (which have no `resource.name`). IAM resources
 * (service accounts) provide none.
 */
export function resourceAttributes(name: string): ResourceAttributes {
  const storage = /^projects\/_\/buckets\/[^/]+(\/objects\/.+|\/managedFolders\/.+)?$/.exec(name);
  if (storage) {
    const type = storage[1]?.startsWith("/objects/")
      ? "Object"
      : storage[1]?.startsWith("/managedFolders/")
        ? "ManagedFolder"
        : "Bucket";
    return { service: "storage.googleapis.com", type: `storage.googleapis.com/${type}`, name };
  }
  if (/^projects\/[^/]+\/zones\/[^/]+\/instances\/[^/]+$/.test(name))
    return { service: "compute.googleapis.com", type: "compute.googleapis.com/Instance", name };
  if (/^projects\/[^/]+$/.test(name))
    return {
      service: "cloudresourcemanager.googleapis.com",
      type: "cloudresourcemanager.googleapis.com/Project",
    };
  return {};
}

export interface ConditionOutcome {
  /** True only when the expression evaluated to `true`. */
  value: boolean;
  /** The evaluation error, when there was one (then `value` is false for a binding). */
  error?: string;
  /** The attributes the expression reads, with their values: `resource.name = "…"`, `resource.type: not provided`. */
  attributes: string[];
  /** One line: `"title" (expr) was false with resource.name = "…"`. */
  explanation: string;
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

export function evaluateCondition(
  condition: ConditionInput,
  resource: ResourceAttributes,
  now: Date,
): ConditionOutcome {
  const label = `condition ${condition.title ? `"${condition.title}" ` : ""}(${condition.expression})`;
  const c = compile(condition.expression);
  if (typeof c === "string")
    return {
      value: false,
      error: c,
      attributes: [],
      explanation: `${label} cannot be evaluated: ${c}`,
    };
  const requestTime: Timestamp = timestampFromDate(now);
  const values: Record<string, unknown> = {
    "request.time": now.toISOString(),
    "resource.name": resource.name,
    "resource.type": resource.type,
    "resource.service": resource.service,
  };
  const attributes = c.attributes.map((a) =>
    values[a] === undefined ? `${a}: not provided for this resource` : `${a} = ${describe(values[a])}`,
  );
  const res = new Map<string, string>();
  if (resource.name !== undefined) res.set("name", resource.name);
  if (resource.type !== undefined) res.set("type", resource.type);
  if (resource.service !== undefined) res.set("service", resource.service);
  let result: unknown;
  try {
    result = c.run({ request: new Map([["time", requestTime]]), resource: res });
  } catch (err) {
    result = err instanceof Error ? err : new Error(String(err));
  }
  const withAttrs = attributes.length ? ` with ${attributes.join(", ")}` : "";
  if (isCelError(result) || result instanceof Error) {
    const e = result as Error & { exprId?: bigint };
    const off = e.exprId !== undefined ? c.positions.get(String(e.exprId)) : undefined;
    const where = off === undefined ? "" : ` at ${position(condition.expression, off)}`;
    const error = `${e.message}${where}`;
    return {
      value: false,
      error,
      attributes,
      explanation: `${label} could not be evaluated (${error})${withAttrs}, so it counts as not met`,
    };
  }
  if (typeof result !== "boolean")
    return {
      value: false,
      error: `the expression's value is ${typeof result}, not bool`,
      attributes,
      explanation: `${label} is not a boolean expression${withAttrs}, so it counts as not met`,
    };
  return {
    value: result,
    attributes,
    explanation: `${label} was ${result}${withAttrs}`,
  };
}
