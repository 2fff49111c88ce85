/**
 * OAuth scopes. A call is allowed only if the token's scopes admit the permission's family *and*
 * IAM grants the permission (see docs/scopes.md for the table).
 */
import { show } from "../show.js";

export const SCOPE_PREFIX = "https://www.googleapis.com/auth/";
export const CLOUD_PLATFORM = `${SCOPE_PREFIX}cloud-platform`;

const s = (names: string[]) => names.map((n) => SCOPE_PREFIX + n);

const STORAGE_READ = s([
  "devstorage.read_only",
  "devstorage.read_write",
  "devstorage.full_control",
  "cloud-platform.read-only",
  "cloud-platform",
]);
const STORAGE_WRITE = s(["devstorage.read_write", "devstorage.full_control", "cloud-platform"]);
const STORAGE_ADMIN = s(["devstorage.full_control", "cloud-platform"]);
const COMPUTE_READ = s(["compute.readonly", "compute", "cloud-platform.read-only", "cloud-platform"]);
const COMPUTE_WRITE = s(["compute", "cloud-platform"]);
const IAM_CREDENTIALS = s(["iam", "cloud-platform"]);
const MONITORING_READ = s(["monitoring.read", "monitoring", "cloud-platform.read-only", "cloud-platform"]);
const MONITORING_WRITE = s(["monitoring", "cloud-platform"]);
const LOGGING_READ = s(["logging.read", "logging.admin", "cloud-platform.read-only", "cloud-platform"]);
const PLATFORM_READ = s(["cloud-platform.read-only", "cloud-platform"]);
const PLATFORM_WRITE = s(["cloud-platform"]);

const READ_VERB = /\.(get|list|getIamPolicy|testIamPermissions)$/;

/** `scopesAdmitting` of permissions seen before (the code's permissions are a few hundred). */
const admittingOf = new Map<string, readonly string[]>();
const ADMITTING_ENTRIES = 4096;

/** The scopes any one of which lets a token exercise `permission`. */
export function scopesAdmitting(permission: string): readonly string[] {
  let admitting = admittingOf.get(permission);
  if (admitting === undefined) {
    admitting = scopesAdmittingUncached(permission);
    if (admittingOf.size >= ADMITTING_ENTRIES) admittingOf.clear();
    admittingOf.set(permission, admitting);
  }
  return admitting;
}

function scopesAdmittingUncached(permission: string): readonly string[] {
  const [service] = permission.split(".", 1);
  const read = READ_VERB.test(permission);
  if (service === "storage") {
    if (/\.(getIamPolicy|setIamPolicy)$/.test(permission)) return STORAGE_ADMIN;
    return read ? STORAGE_READ : STORAGE_WRITE;
  }
  if (service === "compute") return read ? COMPUTE_READ : COMPUTE_WRITE;
  if (service === "monitoring") return read ? MONITORING_READ : MONITORING_WRITE;
  if (service === "logging" && read) return LOGGING_READ;
  // actAs is checked while attaching an account to a VM, within a Compute call.
  if (permission === "iam.serviceAccounts.actAs") return COMPUTE_WRITE;
  if (
    /^iam\.serviceAccounts\.(getAccessToken|getOpenIdToken|signBlob|signJwt|implicitDelegation)$/.test(
      permission,
    )
  )
    return IAM_CREDENTIALS;
  return read ? PLATFORM_READ : PLATFORM_WRITE;
}

export function scopeAdmits(scopes: readonly string[], permission: string): boolean {
  const admitting = scopesAdmitting(permission);
  return scopes.some((sc) => admitting.includes(sc));
}

/** Accepts gcloud's aliases and bare names; returns full scope URLs. */
export function normalizeScope(scope: string): string {
  return scope.startsWith("https://") ? scope : SCOPE_PREFIX + scope;
}

export function scopeProblem(scope: unknown): string | null {
  if (typeof scope !== "string" || !/^https:\/\/www\.googleapis\.com\/auth\/[a-z0-9._-]+$/.test(scope))
    return `Invalid scope '${show(scope)}': expected https://www.googleapis.com/auth/NAME.`;
  return null;
}
