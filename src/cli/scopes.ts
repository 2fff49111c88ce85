import { UsageError } from "./errors.js";

const AUTH = "https://www.googleapis.com/auth/";

/** gcloud's DEFAULT_SCOPES (compute instances create without --scopes). */
export const DEFAULT_SCOPES = [
  "devstorage.read_only",
  "logging.write",
  "monitoring.write",
  "pubsub",
  "service.management.readonly",
  "servicecontrol",
  "trace.append",
].map((s) => AUTH + s);

/** gcloud's scope aliases (`gcloud compute instances create --help`). */
export const SCOPE_ALIASES: Record<string, string[]> = {
  bigquery: [AUTH + "bigquery"],
  "cloud-platform": [AUTH + "cloud-platform"],
  "cloud-source-repos": [AUTH + "source.full_control"],
  "cloud-source-repos-ro": [AUTH + "source.read_only"],
  "compute-ro": [AUTH + "compute.readonly"],
  "compute-rw": [AUTH + "compute"],
  datastore: [AUTH + "datastore"],
  default: DEFAULT_SCOPES,
  "logging-write": [AUTH + "logging.write"],
  monitoring: [AUTH + "monitoring"],
  "monitoring-read": [AUTH + "monitoring.read"],
  "monitoring-write": [AUTH + "monitoring.write"],
  pubsub: [AUTH + "pubsub"],
  "service-control": [AUTH + "servicecontrol"],
  "service-management": [AUTH + "service.management.readonly"],
  "sql-admin": [AUTH + "sqlservice.admin"],
  "storage-full": [AUTH + "devstorage.full_control"],
  "storage-ro": [AUTH + "devstorage.read_only"],
  "storage-rw": [AUTH + "devstorage.read_write"],
  taskqueue: [AUTH + "taskqueue"],
  trace: [AUTH + "trace.append"],
  "userinfo-email": [AUTH + "userinfo.email"],
};

/**
 * Expands a --scopes list: aliases, bare names (`devstorage.read_only` → https://www.googleapis.com/auth/...)
 * and full URLs. Order is kept, duplicates dropped.
 */
export function expandScopes(list: string[]): string[] {
  const out: string[] = [];
  for (const raw of list) {
    const s = raw.trim();
    if (s === "") continue;
    let urls: string[];
    if (SCOPE_ALIASES[s]) urls = SCOPE_ALIASES[s];
    else if (/^https?:\/\//.test(s)) urls = [s];
    else if (/^[a-z][a-z0-9._-]*$/i.test(s)) urls = [AUTH + s];
    else
      throw new UsageError(`Invalid scope [${s}]: use an alias (e.g. cloud-platform, storage-ro) or a URL.`);
    for (const u of urls) if (!out.includes(u)) out.push(u);
  }
  return out;
}

export function splitList(v: string | undefined): string[] {
  return (v ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
}
