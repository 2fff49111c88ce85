import { ApiError, CliError, UsageError } from "./errors.js";

export interface Expr {
  expression: string;
  title?: string;
  description?: string;
}

export interface Binding {
  role: string;
  members?: string[];
  condition?: Expr;
}

export interface Policy {
  version?: number;
  etag?: string;
  bindings?: Binding[];
  auditConfigs?: unknown[];
  [k: string]: unknown;
}

const MEMBER_PREFIXES = [
  "user:",
  "serviceAccount:",
  "group:",
  "domain:",
  "deleted:",
  "principal:",
  "principalSet:",
  "projectOwner:",
  "projectEditor:",
  "projectViewer:",
];

export function checkMember(member: string): string {
  if (member === "allUsers" || member === "allAuthenticatedUsers") return member;
  if (MEMBER_PREFIXES.some((p) => member.startsWith(p) && member.length > p.length)) return member;
  const hint = member.includes("@")
    ? `e.g. user:${member} or serviceAccount:${member}`
    : "e.g. user:alice@example.com or serviceAccount:sa@p.iam.gserviceaccount.com";
  throw new UsageError(`Member ${member} must include a type prefix (${hint}).`);
}

export function checkRole(role: string): string {
  if (/^(roles|projects\/[^/]+\/roles|organizations\/[^/]+\/roles)\/[^/]+$/.test(role)) return role;
  throw new UsageError(
    `Invalid role [${role}]: use roles/NAME for predefined roles or projects/PROJECT/roles/ID for custom ones.`,
    role.includes("/") ? undefined : `Did you mean roles/${role}?`,
  );
}

/**
 * Parses gcloud's --condition: `None`, or `expression=EXPR,title=TITLE[,description=DESC]`.
 * Returns undefined for no condition. (Commas inside the expression are kept: only the known keys split.)
 */
export function parseCondition(text: string | undefined): Expr | undefined {
  if (text === undefined || text === "None" || text === "none" || text === "") return undefined;
  const out: Partial<Expr> = {};
  const re = /(?:^|,)\s*(expression|title|description)=/g;
  const marks: { key: keyof Expr; start: number; valueStart: number }[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) {
    marks.push({ key: m[1] as keyof Expr, start: m.index, valueStart: m.index + m[0].length });
  }
  if (marks.length === 0 || marks[0]!.start !== 0) {
    throw new UsageError(
      `Invalid --condition [${text}]: use None or expression=EXPR,title=TITLE[,description=D].`,
    );
  }
  marks.forEach((mk, i) => {
    const end = i + 1 < marks.length ? marks[i + 1]!.start : text.length;
    out[mk.key] = text.slice(mk.valueStart, end);
  });
  if (!out.expression) throw new UsageError("--condition needs expression=EXPR.");
  if (!out.title) throw new UsageError("--condition needs title=TITLE.");
  return out as Expr;
}

function sameCondition(a: Expr | undefined, b: Expr | undefined): boolean {
  if (!a || !b) return !a && !b;
  return (
    a.expression === b.expression &&
    (a.title ?? "") === (b.title ?? "") &&
    (a.description ?? "") === (b.description ?? "")
  );
}

function clonePolicy(p: Policy): Policy {
  return JSON.parse(JSON.stringify(p)) as Policy;
}

/** Adds member to the binding with the same role and condition (creating it). Does not mutate `policy`. */
export function addBinding(policy: Policy, member: string, role: string, condition?: Expr): Policy {
  const out = clonePolicy(policy);
  out.bindings ??= [];
  const b = out.bindings.find((x) => x.role === role && sameCondition(x.condition, condition));
  if (b) {
    b.members ??= [];
    if (!b.members.includes(member)) b.members.push(member);
  } else {
    out.bindings.push({ role, members: [member], ...(condition ? { condition } : {}) });
  }
  if (condition || out.bindings.some((x) => x.condition)) out.version = 3;
  return out;
}

export class BindingNotFoundError extends CliError {
  constructor() {
    super("Policy binding with the specified principal, role, and condition not found!");
  }
}

/**
 * Removes member from the binding with the role and condition; `all` removes it from every condition
 * variant of the role. Drops bindings left without members. Does not mutate `policy`.
 */
export function removeBinding(
  policy: Policy,
  member: string,
  role: string,
  condition?: Expr | "all",
): Policy {
  const out = clonePolicy(policy);
  let found = false;
  for (const b of out.bindings ?? []) {
    if (b.role !== role) continue;
    if (condition !== "all" && !sameCondition(b.condition, condition)) continue;
    const i = b.members?.indexOf(member) ?? -1;
    if (i >= 0) {
      b.members!.splice(i, 1);
      found = true;
    }
  }
  if (!found) throw new BindingNotFoundError();
  out.bindings = (out.bindings ?? []).filter((b) => (b.members?.length ?? 0) > 0);
  return out;
}

export function isConcurrencyConflict(e: unknown): boolean {
  return e instanceof ApiError && (e.httpStatus === 409 || e.status === "ABORTED");
}

export interface RetryOptions {
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onRetry?: (attempt: number, err: unknown) => void;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Read-modify-write of an IAM policy: get, modify, set with the etag read. When the set is rejected as a
 * concurrent change (409 ABORTED: stale etag), the whole cycle is retried with jittered exponential
 * backoff, like gcloud does.
 */
export async function readModifyWrite(
  get: () => Promise<Policy>,
  modify: (p: Policy) => Policy,
  set: (p: Policy) => Promise<Policy>,
  opts: RetryOptions = {},
): Promise<Policy> {
  const max = opts.maxAttempts ?? 25;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    const current = await get();
    const next = modify(current);
    try {
      return await set(next);
    } catch (e) {
      if (!isConcurrencyConflict(e) || attempt >= max) throw e;
      opts.onRetry?.(attempt, e);
      const cap = Math.min(2000, 50 * 2 ** Math.min(attempt, 10));
      await sleep(10 + Math.floor(random() * cap));
    }
  }
}
