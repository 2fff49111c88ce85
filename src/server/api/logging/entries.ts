/**
 * Cloud Logging v2 `POST /v2/entries:list` over Warrant's audit log, as the real
 * `gcloud logging read` calls it: each audit line is a Cloud Audit Logs `LogEntry`
 * (src/domain/audit/log-entry.ts), listed under its project (or the organization), filtered with a
 * subset of the Logging query language (src/domain/audit/filter.ts), newest or oldest first, in
 * pages. The file is read by the same reader as `warrant logs read` (src/server/audit-read.ts), which
 * reads only the lines within the filter's time bounds: a console polling with `timestamp>"…"` reads
 * the log's tail.
 *
 * Authorization, as on Google: `logging.logEntries.list` on every resource named (Admin Activity
 * entries), and Data Access entries only where the caller also holds `logging.privateLogEntries.list`
 * (roles/logging.privateLogViewer, roles/owner); a filter that asks for a Data Access log without it
 * is refused with 403.
 */
import { createHash } from "node:crypto";
import {
  evaluate,
  FilterError,
  type FilterNode,
  literalHints,
  parseFilter,
  requiredLogNames,
  timeBounds,
} from "../../../domain/audit/filter.js";
import { auditLogOf, type LogEntry, parentOf, toLogEntry } from "../../../domain/audit/log-entry.js";
import { InvalidArgument, NotFound } from "../../../domain/errors.js";
import { organizationRef, projectRef, type ResourceRef } from "../../../domain/resources.js";
import { type AuditPosition, scanAudit } from "../../audit-read.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
const MAX_RESOURCE_NAMES = 100;
/**
 * Lines in the time range parsed per request at most (one skipped unparsed by a request id or
 * permission in the filter counts a tenth): a filter that matches little returns a short page and a
 * token, in about half a second at worst.
 */
export const MAX_LINES_PER_REQUEST = 50_000;

export interface EntriesRequest {
  resourceNames: string[];
  filter: FilterNode;
  order: "asc" | "desc";
  pageSize: number;
  cursor?: AuditPosition;
  /** Ties a page token to the request it continues. */
  fingerprint: string;
}

function parseOrder(v: unknown): "asc" | "desc" {
  if (v === undefined || v === "") return "asc";
  const m = typeof v === "string" ? /^\s*timestamp(?:\s+(asc|desc))?\s*$/i.exec(v) : null;
  if (!m)
    throw new InvalidArgument(
      `orderBy must be "timestamp asc" or "timestamp desc", not ${JSON.stringify(v)}.`,
    );
  return (m[1]?.toLowerCase() ?? "asc") as "asc" | "desc";
}

function parsePageSize(v: unknown): number {
  if (v === undefined || v === 0) return DEFAULT_PAGE_SIZE;
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0)
    throw new InvalidArgument(`pageSize must be a positive integer, not ${JSON.stringify(v)}.`);
  return Math.min(n, MAX_PAGE_SIZE);
}

function encodeToken(fingerprint: string, at: AuditPosition): string {
  return Buffer.from(JSON.stringify({ f: fingerprint, i: at.ino, h: at.head, o: at.offset })).toString(
    "base64url",
  );
}

function decodeToken(token: string, fingerprint: string): AuditPosition {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    v = undefined;
  }
  const t = v as { f?: unknown; i?: unknown; h?: unknown; o?: unknown } | undefined;
  if (
    !t ||
    typeof t !== "object" ||
    typeof t.i !== "number" ||
    typeof t.h !== "string" ||
    typeof t.o !== "number" ||
    !Number.isSafeInteger(t.o) ||
    t.o < 0
  )
    throw new InvalidArgument("pageToken is not one this API returned.");
  if (t.f !== fingerprint)
    throw new InvalidArgument(
      "pageToken belongs to a request with other resourceNames, filter or orderBy: repeat those of the first page.",
    );
  return { ino: t.i, head: t.h, offset: t.o };
}

/** Validates the body of entries:list. */
export function parseEntriesRequest(body: Record<string, unknown>): EntriesRequest {
  const names =
    body.resourceNames ??
    (Array.isArray(body.projectIds) ? body.projectIds.map((p) => `projects/${p}`) : undefined);
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== "string" || n === ""))
    throw new InvalidArgument('resourceNames is required: a list such as ["projects/my-project"].');
  if (names.length > MAX_RESOURCE_NAMES)
    throw new InvalidArgument(`resourceNames names at most ${MAX_RESOURCE_NAMES} resources.`);
  if (body.filter !== undefined && typeof body.filter !== "string")
    throw new InvalidArgument("filter must be a string in the Logging query language.");
  let filter: FilterNode;
  try {
    filter = parseFilter((body.filter as string | undefined) ?? "");
  } catch (e) {
    if (e instanceof FilterError) throw new InvalidArgument(`Invalid filter: ${e.message}`);
    throw e;
  }
  const order = parseOrder(body.orderBy);
  const resourceNames = [...new Set(names as string[])];
  const fingerprint = createHash("sha256")
    .update(JSON.stringify([resourceNames, body.filter ?? "", order]))
    .digest("base64url")
    .slice(0, 16);
  const req: EntriesRequest = {
    resourceNames,
    filter,
    order,
    pageSize: parsePageSize(body.pageSize),
    fingerprint,
  };
  if (body.pageToken !== undefined && body.pageToken !== "") {
    if (typeof body.pageToken !== "string") throw new InvalidArgument("pageToken must be a string.");
    req.cursor = decodeToken(body.pageToken, fingerprint);
  }
  return req;
}

export function registerLoggingEntries(router: Router, deps: ServerDeps) {
  /** `projects/ID` (or number) or `organizations/ORG`, as the parent its entries are listed under. */
  async function parentRef(name: string): Promise<{ parent: string; ref: ResourceRef }> {
    const org = /^organizations\/([^/]+)$/.exec(name);
    if (org) {
      if (org[1] !== deps.organizationId) throw new NotFound(`Organization ${org[1]} not found.`);
      return { parent: name, ref: organizationRef(deps.organizationId) };
    }
    const m = /^projects\/([^/]+)$/.exec(name);
    if (!m)
      throw new InvalidArgument(
        `resourceNames: '${name}' is not projects/PROJECT or organizations/ORG (Warrant has no folders, billing accounts or log views).`,
      );
    const id = m[1]!;
    const project = /^\d+$/.test(id)
      ? (await deps.repos.projects.all()).find((p) => p.projectNumber === id)
      : await deps.repos.projects.get(id);
    // A project that does not exist (any more) is checked by its name: its entries stay readable
    // by whoever may read the organization's logs.
    const projectId = project?.projectId ?? id;
    return { parent: `projects/${projectId}`, ref: projectRef(deps.organizationId, projectId) };
  }

  router.add("POST", "/v2/entries:list", async (ctx: RequestContext) => {
    const req = parseEntriesRequest(await readJsonObject(ctx.req));
    // Which parents the caller may read, and where it may read Data Access entries too.
    const activity = new Set<string>();
    const dataAccess = new Set<string>();
    const wanted = requiredLogNames(req.filter);
    for (const name of req.resourceNames) {
      const { parent, ref } = await parentRef(name);
      await deps.access.require(ctx, "logging.logEntries.list", ref);
      activity.add(parent);
      const asked = wanted.some((l) => l === `${parent}/logs/cloudaudit.googleapis.com/data_access`);
      if (asked) await deps.access.require(ctx, "logging.privateLogEntries.list", ref);
      if (asked || (await deps.access.allows(ctx, "logging.privateLogEntries.list", ref)))
        dataAccess.add(parent);
    }
    const bounds = timeBounds(req.filter);
    const result = await scanAudit<LogEntry>(deps.auditFile, {
      order: req.order,
      ...(bounds.after !== undefined
        ? { after: bounds.after, afterInclusive: bounds.afterInclusive ?? true }
        : {}),
      ...(bounds.before !== undefined ? { before: bounds.before } : {}),
      ...(req.cursor ? { cursor: req.cursor } : {}),
      limit: req.pageSize,
      maxLines: MAX_LINES_PER_REQUEST,
      mustContain: literalHints(req.filter),
      accept(entry, at) {
        const parent = parentOf(entry, deps.organizationId);
        if (!activity.has(parent)) return undefined;
        if (auditLogOf(entry) === "data_access" && !dataAccess.has(parent)) return undefined;
        const e = toLogEntry(entry, deps.organizationId, `${at.ino.toString(36)}-${at.start.toString(36)}`);
        return evaluate(req.filter, e) ? e : undefined;
      },
    });
    return {
      entries: result.items,
      ...(result.next ? { nextPageToken: encodeToken(req.fingerprint, result.next) } : {}),
    };
  });
}
