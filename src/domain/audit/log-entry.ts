/**
 * One line of Warrant's audit log (src/server/audit.ts) seen as a Cloud Audit Logs `LogEntry`, as
 * Cloud Logging's `entries:list` returns it: `logName` `…/logs/cloudaudit.googleapis.com%2Factivity`
 * (writes) or `%2Fdata_access` (reads, tokens), a `protoPayload` of `@type` AuditLog with the
 * principal, method, resource, authorization checks and status, and the request id as
 * `operation.id`. Pure: the caller supplies where the line sits (for `insertId`).
 */

/** One line of `<state-dir>/audit.log`, as the server wrote it. */
export interface AuditEntry {
  time: string;
  kind: string;
  [field: string]: unknown;
}

export interface AuditCheck {
  permission?: unknown;
  resource?: unknown;
  allowed?: unknown;
  project?: unknown;
  reason?: unknown;
}

/** The entry for a line, or undefined when the line is not a JSON object with a time and a kind. */
export function parseEntry(line: string): AuditEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const e = v as Record<string, unknown>;
  if (typeof e.time !== "string" || Number.isNaN(Date.parse(e.time))) return undefined;
  if (typeof e.kind !== "string") return undefined;
  return e as AuditEntry;
}

export function checksOf(e: AuditEntry): AuditCheck[] {
  return Array.isArray(e.checks) ? (e.checks.filter((c) => c && typeof c === "object") as AuditCheck[]) : [];
}

export type AuditLogId = "activity" | "data_access";

/** Reads (`get`, `list`, `getIamPolicy`, …), object data and tokens: Google's ADMIN_READ, DATA_READ, DATA_WRITE. */
const READ_PERMISSION =
  /\.(get|list|getIamPolicy|testIamPermissions|getAccessToken|getOpenIdToken|signBlob|signJwt)$|^storage\.objects\./;

/**
 * Which audit log an entry belongs to, as Google files them: permissions of type ADMIN_WRITE go to
 * Admin Activity, the rest (ADMIN_READ, DATA_READ, DATA_WRITE) to Data Access. A request that checked
 * nothing is filed by its HTTP method; tokens issued or refused are data access.
 */
export function auditLogOf(e: AuditEntry): AuditLogId {
  if (e.kind === "token") return "data_access";
  if (e.kind !== "request") return "activity";
  const perms = checksOf(e)
    .map((c) => c.permission)
    .filter((p): p is string => typeof p === "string");
  if (perms.length === 0) return e.method === "GET" || e.method === "HEAD" ? "data_access" : "activity";
  return perms.every((p) => READ_PERMISSION.test(p)) ? "data_access" : "activity";
}

const PROJECT_RESOURCE = /^projects\/([^/_][^/]*)(?:\/|$)/;
const PROJECT_PATH = /\/projects\/([^/_:][^/:]*)(?:[/:]|$)/;
const SA_PROJECT = /@([a-z][a-z0-9-]*)\.iam\.gserviceaccount\.com$/;

/**
 * The project an entry belongs to (it is listed under that project only), or undefined for the
 * organization: the project of its checks (recorded by AccessControl), else the project its checked
 * resources or its path name, else, for a token, the project of the service account it was for.
 */
export function projectOf(e: AuditEntry): string | undefined {
  const checks = checksOf(e);
  for (const c of checks) if (typeof c.project === "string" && c.project) return c.project;
  for (const c of checks) {
    const m = typeof c.resource === "string" ? PROJECT_RESOURCE.exec(c.resource) : null;
    if (m) return m[1];
  }
  if (typeof e.path === "string") {
    const m = PROJECT_PATH.exec(e.path);
    if (m && m[1] !== "-") return m[1];
  }
  for (const field of ["subject", "principal"]) {
    const v = e[field];
    if (typeof v === "string" && v.startsWith("serviceAccount:")) {
      const m = SA_PROJECT.exec(v);
      if (m) return m[1];
    }
  }
  return undefined;
}

export const SEVERITIES = [
  "DEFAULT",
  "DEBUG",
  "INFO",
  "NOTICE",
  "WARNING",
  "ERROR",
  "CRITICAL",
  "ALERT",
  "EMERGENCY",
] as const;
export type Severity = (typeof SEVERITIES)[number];
/** Google's numeric value of each severity (DEFAULT 0, DEBUG 100, … EMERGENCY 800). */
export const severityRank = (s: string): number => {
  const i = (SEVERITIES as readonly string[]).indexOf(s);
  return i < 0 ? -1 : i * 100;
};

/** google.rpc.Code of each canonical status name. */
const RPC_CODES: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};
const HTTP_CODES: Record<number, number> = {
  400: 3,
  401: 16,
  403: 7,
  404: 5,
  405: 3,
  408: 4,
  409: 10,
  412: 9,
  413: 3,
  429: 8,
  499: 1,
  500: 13,
  501: 12,
  503: 14,
  504: 4,
};

/** The request's outcome as a google.rpc.Status: from its error (`STATUS: message`), else its HTTP status. */
function statusOf(e: AuditEntry): { code: number; message?: string } {
  if (e.kind === "token")
    return e.outcome === "refused"
      ? { code: 7, message: typeof e.error === "string" ? e.error : "refused" }
      : { code: 0 };
  const error = typeof e.error === "string" ? e.error : undefined;
  const named = error ? /^([A-Z_]+): ([\s\S]*)$/.exec(error) : null;
  if (named && RPC_CODES[named[1]!] !== undefined) return { code: RPC_CODES[named[1]!]!, message: named[2]! };
  const http = typeof e.status === "number" ? e.status : 200;
  if (http < 400) return { code: 0 };
  return { code: HTTP_CODES[http] ?? (http >= 500 ? 13 : 2), ...(error ? { message: error } : {}) };
}

/** ERROR for a failed or refused call, else NOTICE for admin activity and INFO for data access. */
export function severityOf(e: AuditEntry, log: AuditLogId = auditLogOf(e)): Severity {
  if (statusOf(e).code !== 0) return "ERROR";
  return log === "activity" ? "NOTICE" : "INFO";
}

const SERVICES: [RegExp, string][] = [
  [/^storage\./, "storage.googleapis.com"],
  [/^compute\./, "compute.googleapis.com"],
  [
    /^iam\.serviceAccounts\.(getAccessToken|getOpenIdToken|signBlob|signJwt)$/,
    "iamcredentials.googleapis.com",
  ],
  [/^iam\./, "iam.googleapis.com"],
  [/^resourcemanager\./, "cloudresourcemanager.googleapis.com"],
  [/^logging\./, "logging.googleapis.com"],
  [/^monitoring\./, "monitoring.googleapis.com"],
];
const PATH_SERVICES: [RegExp, string][] = [
  [/^\/(upload\/|download\/|resumable\/)?storage\//, "storage.googleapis.com"],
  [/^\/compute\//, "compute.googleapis.com"],
  [/^\/v1\/projects\/[^/]+\/serviceAccounts\/[^/]+:(generate|sign)/, "iamcredentials.googleapis.com"],
  [/^\/v1\/(projects\/[^/]+\/(serviceAccounts|roles|locations)|roles|iam:)/, "iam.googleapis.com"],
  [/^\/v2\/policies\//, "iam.googleapis.com"],
  [/^\/v1\/projects/, "cloudresourcemanager.googleapis.com"],
  [/^\/v2(alpha1)?\/iam:troubleshoot|^\/v1\/iam:troubleshoot/, "policytroubleshooter.googleapis.com"],
  [/^\/v2\/entries/, "logging.googleapis.com"],
  [/^\/v1\/token/, "sts.googleapis.com"],
  [/^\/(token|oauth2|revoke|o\/oauth2|tokeninfo)/, "oauth2.googleapis.com"],
];

function serviceOf(e: AuditEntry, perms: string[]): string {
  if (e.kind === "token") {
    if (e.grant === "impersonation") return "iamcredentials.googleapis.com";
    if (e.grant === "metadata") return "compute.googleapis.com";
    if (typeof e.grant === "string" && e.grant.includes("token-exchange")) return "sts.googleapis.com";
    return "oauth2.googleapis.com";
  }
  for (const p of perms) for (const [re, s] of SERVICES) if (re.test(p)) return s;
  const path = typeof e.path === "string" ? e.path : "";
  for (const [re, s] of PATH_SERVICES) if (re.test(path)) return s;
  return "warrant";
}

const str = (v: unknown) => (typeof v === "string" ? v : undefined);

/** `user:a@b` → `a@b`; members that are not an account (federated, anonymous) have no e-mail. */
function emailOf(member: string | undefined): string | undefined {
  const m = member ? /^(?:user|serviceAccount):(.+)$/.exec(member) : null;
  return m ? m[1] : undefined;
}

export interface LogEntry {
  logName: string;
  resource: { type: string; labels: Record<string, string> };
  protoPayload: {
    "@type": "type.googleapis.com/google.cloud.audit.AuditLog";
    status: { code?: number; message?: string };
    authenticationInfo: { principalEmail?: string; principalSubject?: string };
    serviceName: string;
    methodName: string;
    resourceName?: string;
    /** Warrant adds a failed check's `reason` (the same text as the 403's explanation). */
    authorizationInfo?: { resource: string; permission: string; granted: boolean; reason?: string }[];
    metadata: Record<string, unknown>;
  };
  insertId: string;
  timestamp: string;
  receiveTimestamp: string;
  severity: Severity;
  operation?: { id: string; producer: string; first: true; last: true };
}

/** Where the entry is listed: `projects/P` or `organizations/ORG`. */
export function parentOf(e: AuditEntry, organizationId: string): string {
  const p = projectOf(e);
  return p ? `projects/${p}` : `organizations/${organizationId}`;
}

export const logNameOf = (parent: string, log: AuditLogId) =>
  `${parent}/logs/cloudaudit.googleapis.com%2F${log}`;

/** The LogEntry of an audit line; `insertId` names its place in the log (unique, stable). */
export function toLogEntry(e: AuditEntry, organizationId: string, insertId: string): LogEntry {
  const log = auditLogOf(e);
  const parent = parentOf(e, organizationId);
  const checks = checksOf(e);
  const perms = checks.map((c) => c.permission).filter((p): p is string => typeof p === "string");
  const service = serviceOf(e, perms);
  const principal = str(e.principal) ?? str(e.subject) ?? str(e.actor);
  const email = emailOf(principal);
  const status = statusOf(e);
  const route = str(e.route);
  const methodName =
    e.kind === "request"
      ? `${str(e.method) ?? ""} ${route ?? str(e.path) ?? ""}`.trim()
      : e.kind === "token"
        ? `token.${str(e.grant) ?? "unknown"}`
        : `${e.kind}.${str(e.action) ?? str(e.event) ?? "event"}`;
  const resourceName =
    str(checks[0]?.resource) ?? (e.kind === "request" ? str(e.path) : (str(e.subject) ?? undefined));
  const { time: _t, kind, checks: _c, requestId, ...rest } = e;
  const project = parent.startsWith("projects/") ? parent.slice("projects/".length) : undefined;
  return {
    logName: logNameOf(parent, log),
    resource: {
      type: project ? "audited_resource" : "organization",
      labels: project
        ? { project_id: project, service, method: methodName }
        : { organization_id: organizationId, service, method: methodName },
    },
    protoPayload: {
      "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
      status: status.code === 0 ? {} : status,
      authenticationInfo: {
        ...(email ? { principalEmail: email } : {}),
        ...(principal ? { principalSubject: principal } : {}),
      },
      serviceName: service,
      methodName,
      ...(resourceName ? { resourceName } : {}),
      ...(checks.length
        ? {
            authorizationInfo: checks.map((c) => ({
              resource: str(c.resource) ?? "",
              permission: str(c.permission) ?? "",
              granted: c.allowed === true,
              ...(typeof c.reason === "string" ? { reason: c.reason } : {}),
            })),
          }
        : {}),
      metadata: { kind, ...rest },
    },
    insertId,
    timestamp: e.time,
    receiveTimestamp: e.time,
    severity: severityOf(e, log),
    ...(typeof requestId === "string"
      ? { operation: { id: requestId, producer: "warrant", first: true, last: true } }
      : {}),
  };
}
