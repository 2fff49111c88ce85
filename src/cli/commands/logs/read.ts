import { type FileHandle, open, stat } from "node:fs/promises";
import { join } from "node:path";
import { type AuditEntry, checksOf, parseEntry } from "../../../domain/audit/log-entry.js";
import { auditFiles, scanAudit } from "../../../server/audit-read.js";
import { CliError, UsageError } from "../../errors.js";
import { command } from "../../spec.js";

export interface LogFilter {
  kind?: string;
  /** A member (`user:a@b`), or a bare email that matches any member type. */
  principal?: string;
  denied: boolean;
  /** Only requests that enforcement mode audit-only let through although a check failed. */
  wouldDeny?: boolean;
  permission?: string;
  /** Only entries at or after this instant (epoch ms). */
  notBefore?: number;
  /** Only entries before this instant (epoch ms). */
  before?: number;
  /** Only entries with this outcome (see RESULTS). */
  result?: string;
  requestId?: string;
}

/** `--result`: an outcome, or an HTTP status (`403`) or class (`4xx`). */
export const RESULTS = ["allowed", "denied", "would-deny", "issued", "refused"] as const;

function resultMatches(e: AuditEntry, result: string): boolean {
  switch (result) {
    case "allowed":
      return !isDenied(e);
    case "denied":
      return isDenied(e);
    case "would-deny":
      return e.wouldDeny === true;
    case "issued":
    case "refused":
      return e.kind === "token" && e.outcome === result;
    default: {
      if (e.kind !== "request" || typeof e.status !== "number") return false;
      const m = /^([1-5])xx$/i.exec(result);
      return m ? Math.floor(e.status / 100) === Number(m[1]) : e.status === Number(result);
    }
  }
}

const DEFAULT_LIMIT = 50;

/** Tests stop `--follow` with this instead of a signal. */
let followSignal: AbortSignal | undefined;
export function setFollowSignal(signal: AbortSignal | undefined) {
  followSignal = signal;
}
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const COLUMNS = "time, kind, principal, what, result, denied";

/** Parses `30s`, `10m`, `2h`, `1d`, `1w` or combinations such as `1h30m` into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (!/^(?:\d+[smhdw])+$/.test(t)) return undefined;
  let ms = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)([smhdw])/g)) ms += Number(n) * UNIT_MS[unit!]!;
  return ms;
}

export function isDenied(e: AuditEntry): boolean {
  if (e.kind === "request") {
    return e.status === 401 || e.status === 403 || checksOf(e).some((c) => c.allowed === false);
  }
  if (e.kind === "token") return e.outcome === "refused";
  return false;
}

function deniedPermissions(e: AuditEntry): string[] {
  return checksOf(e)
    .filter((c) => c.allowed === false && typeof c.permission === "string")
    .map((c) => c.permission as string);
}

function principalMatches(e: AuditEntry, wanted: string): boolean {
  const w = wanted.toLowerCase();
  const bare = !w.includes(":");
  for (const field of ["principal", "subject", "actor"]) {
    const v = e[field];
    if (typeof v !== "string") continue;
    const m = v.toLowerCase();
    if (m === w || (bare && m.slice(m.indexOf(":") + 1) === w)) return true;
  }
  return false;
}

export function matches(e: AuditEntry, f: LogFilter): boolean {
  if (f.kind !== undefined && e.kind !== f.kind) return false;
  if (f.notBefore !== undefined && Date.parse(e.time) < f.notBefore) return false;
  if (f.before !== undefined && Date.parse(e.time) >= f.before) return false;
  if (f.requestId !== undefined && e.requestId !== f.requestId) return false;
  if (f.result !== undefined && !resultMatches(e, f.result)) return false;
  if (f.denied && !isDenied(e)) return false;
  if (f.wouldDeny && e.wouldDeny !== true) return false;
  if (f.permission !== undefined) {
    // With --denied, the check on that permission must itself be the denied one.
    const hit = checksOf(e).some((c) => c.permission === f.permission && (!f.denied || c.allowed === false));
    if (!hit) return false;
  }
  if (f.principal !== undefined && !principalMatches(e, f.principal)) return false;
  return true;
}

/** Keeps the last `capacity` items pushed, so memory stays bounded however long the log is. */
export class Ring<T> {
  private readonly items: T[] = [];
  private count = 0;

  constructor(private readonly capacity: number) {}

  push(item: T): void {
    this.items[this.count % this.capacity] = item;
    this.count++;
  }

  /** The kept items, most recently pushed first. */
  newestFirst(): T[] {
    const out: T[] = [];
    for (let i = this.count - 1; i >= Math.max(0, this.count - this.capacity); i--) {
      out.push(this.items[i % this.capacity]!);
    }
    return out;
  }
}

function str(v: unknown): string {
  return typeof v === "string" || typeof v === "number" ? String(v) : "";
}

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** The default table row: one line per entry, whatever its kind. */
function summarize(e: AuditEntry): Record<string, string> {
  if (e.kind === "request") {
    return {
      time: e.time,
      kind: e.kind,
      principal: str(e.principal),
      what: `${str(e.method)} ${str(e.path)}`.trim(),
      result: e.wouldDeny === true ? `${str(e.status)} (would deny)` : str(e.status),
      denied: deniedPermissions(e).join(","),
    };
  }
  if (e.kind === "token") {
    const grant = e.grant === JWT_BEARER ? "jwt-bearer" : str(e.grant);
    const what = [grant, str(e.tokenType)].filter(Boolean).join(" ");
    const actor = str(e.actor);
    return {
      time: e.time,
      kind: e.kind,
      principal: str(e.subject) || actor,
      what: actor && str(e.subject) ? `${what} by ${actor}` : what,
      result: e.outcome === "refused" && e.error ? `refused: ${str(e.error)}` : str(e.outcome),
      denied: "",
    };
  }
  return { time: e.time, kind: e.kind, principal: str(e.principal), what: "", result: "", denied: "" };
}

function noLog(file: string): CliError {
  return new CliError(
    `No audit log at ${file}.`,
    "The Warrant server writes it (`warrant serve` appends every request and token to " +
      "<state-dir>/audit.log). Pass --state-dir or set WARRANT_STATE_DIR to the server's state directory.",
  );
}

async function readLog(
  file: string,
  filter: LogFilter,
  limit: number,
): Promise<{ entries: AuditEntry[]; malformed: number }> {
  if ((await auditFiles(file)).length === 0) throw noLog(file);
  try {
    // Newest first, reading the files backwards: stops after `limit` matches or before --after.
    const { items, malformed } = await scanAudit(file, {
      order: "desc",
      ...(filter.notBefore !== undefined ? { after: filter.notBefore, afterInclusive: true } : {}),
      ...(filter.before !== undefined ? { before: filter.before } : {}),
      limit,
      accept: (entry) => (matches(entry, filter) ? entry : undefined),
    });
    return { entries: items, malformed };
  } catch (e) {
    throw new CliError(`Cannot read the audit log ${file}: ${(e as Error).message}`);
  }
}

/**
 * Follows `file` as `tail -F` does: new complete lines as they are appended; when the file is
 * replaced (the server rotated it, or logrotate moved it), the rest of the old one, then the new
 * one from its start. Stops when `signal` aborts.
 */
export async function followLog(
  file: string,
  onLine: (line: string) => void,
  signal: AbortSignal,
  pollMs = 200,
): Promise<void> {
  let fh: FileHandle | undefined;
  let ino: number | undefined;
  let pos = 0;
  let pending = "";
  const buf = Buffer.alloc(64 * 1024);
  const drain = async () => {
    if (!fh) return;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      pending += buf.subarray(0, bytesRead).toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) if (l.trim() !== "") onLine(l);
    }
  };
  const openAt = async (start: "end" | "start") => {
    try {
      const h = await open(file, "r");
      const st = await h.stat();
      fh = h;
      ino = st.ino;
      pos = start === "end" ? st.size : 0;
      pending = "";
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      fh = undefined;
      ino = undefined;
    }
  };
  await openAt("end");
  try {
    while (!signal.aborted) {
      await drain();
      let current: number | undefined;
      try {
        current = (await stat(file)).ino;
      } catch {
        current = undefined;
      }
      if (current !== undefined && current !== ino) {
        await drain();
        await fh?.close().catch(() => {});
        await openAt("start");
        continue;
      }
      if (fh && current === ino) {
        const st = await fh.stat();
        if (st.size < pos) pos = 0; // truncated in place (copytruncate)
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, pollMs);
        signal.addEventListener(
          "abort",
          () => {
            clearTimeout(t);
            r();
          },
          { once: true },
        );
      });
    }
  } finally {
    await fh?.close().catch(() => {});
  }
}

export default command({
  name: "read",
  summary: "read the server's audit log, newest entries first",
  description:
    "Reads `<state-dir>/audit.log` (the --state-dir flag, WARRANT_STATE_DIR, else ./.warrant), which the " +
    "server appends to: one `request` entry per API call (principal, method, path, status, IAM checks) and " +
    "one `token` entry per token issued or refused. Filters combine with AND. Prints the newest --limit " +
    "matching entries, newest first, as a table; --format=json or yaml prints the entries as logged, and " +
    "field projections such as value(...) address the logged fields (time, principal, status, " +
    "checks.permission, grant, outcome, subject, ...). The rotated files audit.log.N … audit.log.1 are read " +
    "too, oldest first. Needs no running server.",
  flags: [
    {
      name: "kind",
      type: "string",
      choices: ["request", "token"],
      help: "Only entries of this kind.",
    },
    {
      name: "principal",
      type: "string",
      metavar: "MEMBER",
      help:
        "Only entries whose principal, token subject or impersonating actor is MEMBER, e.g. " +
        "user:alice@example.com; a bare email matches any member type.",
    },
    {
      name: "denied",
      type: "boolean",
      help:
        "Only denials: requests answered 401 or 403 or with a failed IAM check, and refused tokens. " +
        "With --permission, the check on that permission must be the failed one. Includes the calls " +
        "a server in audit-only enforcement let through.",
    },
    {
      name: "would-deny",
      type: "boolean",
      help:
        "Only requests that a server in audit-only enforcement let through although a scope or IAM check " +
        'failed (logged with "wouldDeny": true; each failed check carries its reason).',
    },
    {
      name: "permission",
      type: "string",
      metavar: "PERMISSION",
      help: "Only requests that checked this permission, e.g. iam.serviceAccounts.list.",
    },
    {
      name: "since",
      type: "string",
      metavar: "DURATION",
      help: "Only entries from the last DURATION, e.g. 30s, 10m, 2h, 1d (or combined, 1h30m).",
    },
    {
      name: "after",
      type: "string",
      metavar: "TIME",
      help: "Only entries at or after TIME (ISO 8601, e.g. 2025-01-31T12:00:00Z).",
    },
    {
      name: "before",
      type: "string",
      metavar: "TIME",
      help: "Only entries before TIME (ISO 8601); with --after or --since, a time range.",
    },
    {
      name: "result",
      type: "string",
      metavar: "RESULT",
      help:
        "Only entries with this result: allowed, denied, would-deny, issued or refused (tokens), or an HTTP " +
        "status (403) or class (4xx, 5xx) of a request.",
    },
    {
      name: "request-id",
      type: "string",
      metavar: "ID",
      help:
        "Only entries of this request id (the X-Request-Id of the response, the requestId in an error's " +
        "details, the reqId of the server's log line).",
    },
    {
      name: "follow",
      type: "boolean",
      help:
        "After the newest --limit matching entries (printed oldest first), keep printing matching entries as " +
        "the server appends them, across rotations, until interrupted (Ctrl-C). One line per entry: a text " +
        "line, or with --format=json one JSON object per line.",
    },
    {
      name: "limit",
      type: "string",
      metavar: "N",
      help: `Print at most N entries, the newest (default ${DEFAULT_LIMIT}).`,
    },
  ],
  examples: [
    "warrant logs read",
    "warrant logs read --denied --since=1h",
    "warrant logs read --would-deny --format=json   # what audit-only mode let through",
    "warrant logs read --principal=user:bob@example.com --permission=iam.serviceAccounts.list --format=json",
    "warrant logs read --kind=token --limit=10 --format='value(time,subject,outcome)'",
    "warrant logs read --result=5xx --after=2026-12-04T18:00:00Z --before=2026-12-04T19:00:00Z",
    "warrant logs read --request-id=3f1c…   # everything one request did",
    "warrant logs read --follow --format=json --denied   # a live feed of denials, one JSON per line",
  ],
  async run(ctx) {
    const filter: LogFilter = { denied: ctx.bool("denied"), wouldDeny: ctx.bool("would-deny") };
    const kind = ctx.str("kind");
    if (kind !== undefined) filter.kind = kind;
    const principal = ctx.str("principal");
    if (principal !== undefined) filter.principal = principal;
    const permission = ctx.str("permission");
    if (permission !== undefined) filter.permission = permission;

    const since = ctx.str("since");
    const after = ctx.str("after");
    if (since !== undefined && after !== undefined) {
      throw new UsageError("argument --since: not allowed with argument --after", "Pass one of them.");
    }
    if (since !== undefined) {
      const ms = parseDuration(since);
      if (ms === undefined) {
        throw new UsageError(
          `argument --since: invalid duration [${since}]`,
          "Use a number and a unit (s, m, h, d, w): 30s, 10m, 2h, 1d, or combined, e.g. 1h30m.",
        );
      }
      filter.notBefore = Date.now() - ms;
    }
    if (after !== undefined) {
      const t = Date.parse(after);
      if (Number.isNaN(t)) {
        throw new UsageError(
          `argument --after: invalid time [${after}]`,
          "Use ISO 8601, e.g. 2025-01-31T12:00:00Z.",
        );
      }
      filter.notBefore = t;
    }

    const beforeFlag = ctx.str("before");
    if (beforeFlag !== undefined) {
      const t = Date.parse(beforeFlag);
      if (Number.isNaN(t))
        throw new UsageError(
          `argument --before: invalid time [${beforeFlag}]`,
          "Use ISO 8601, e.g. 2025-01-31T13:00:00Z.",
        );
      filter.before = t;
    }
    const result = ctx.str("result");
    if (result !== undefined) {
      if (!(RESULTS as readonly string[]).includes(result) && !/^([1-5]xx|[1-5]\d\d)$/i.test(result))
        throw new UsageError(
          `argument --result: invalid result [${result}]`,
          `Use one of ${RESULTS.join(", ")}, an HTTP status such as 403, or a class such as 4xx.`,
        );
      filter.result = result.toLowerCase();
    }
    const requestId = ctx.str("request-id");
    if (requestId !== undefined) filter.requestId = requestId;

    let limit = DEFAULT_LIMIT;
    const limitFlag = ctx.str("limit");
    if (limitFlag !== undefined) {
      limit = /^\d+$/.test(limitFlag.trim()) ? Number(limitFlag.trim()) : Number.NaN;
      if (!Number.isSafeInteger(limit) || limit < 1) {
        throw new UsageError(`argument --limit: expected a positive integer, got [${limitFlag}]`);
      }
    }

    const file = join(ctx.session.stateDir(), "audit.log");
    const { entries, malformed } = await readLog(file, filter, limit);
    if (malformed > 0) {
      ctx.status(`WARNING: Skipped ${malformed} malformed line${malformed === 1 ? "" : "s"} in ${file}.`);
    }
    const fmt = ctx.out.explicit;
    if (ctx.bool("follow")) {
      if (fmt && fmt.kind !== "json")
        throw new UsageError("argument --follow: only with the default format or --format=json.");
      const print = (e: AuditEntry) =>
        ctx.rt.stdout.write(
          fmt ? `${JSON.stringify(e)}\n` : `${Object.values(summarize(e)).filter(Boolean).join("  ")}\n`,
        );
      for (const e of entries.reverse()) print(e);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await followLog(
          file,
          (line) => {
            const entry = parseEntry(line);
            if (entry && matches(entry, filter)) print(entry);
          },
          followSignal ?? stop.signal,
        );
      } finally {
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
      }
      return 0;
    }
    if (!fmt || (fmt.kind === "table" && !fmt.columns)) ctx.out.list(entries.map(summarize), COLUMNS);
    else ctx.out.list(entries, COLUMNS);
    return 0;
  },
});
