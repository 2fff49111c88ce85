/** Service accounts, as IAM v1 shows them. */
export interface ServiceAccount {
  name: string;
  projectId: string;
  uniqueId: string;
  email: string;
  displayName?: string;
  description?: string;
  etag: string;
  oauth2ClientId: string;
  disabled?: boolean;
}

import { newEtag } from "./iam/policy.js";
import { newUniqueId } from "./ids.js";

export const SERVICE_ACCOUNT_DOMAIN_SUFFIX = ".iam.gserviceaccount.com";

/** A deleted account, kept so that it can be undeleted (same unique id, so its bindings apply again). */
export interface DeletedServiceAccount {
  account: ServiceAccount;
  deleteTime: string;
}

/** Google removes a deleted service account for good after 30 days; until then it can be undeleted. */
export const UNDELETE_WINDOW_MS = 30 * 86400_000;

export const undeletable = (d: DeletedServiceAccount, now = Date.now()) =>
  now - Date.parse(d.deleteTime) < UNDELETE_WINDOW_MS;

/**
 * Compute Engine's default service account of a project. Warrant creates it with the project, as
 * Google does when the Compute API is enabled, but grants it no role (least privilege): bind
 * what its workloads need.
 */
export const defaultComputeServiceAccountEmail = (projectNumber: string) =>
  `${projectNumber}-compute@developer.gserviceaccount.com`;

export function makeServiceAccount(
  projectId: string,
  email: string,
  fields: { displayName?: string; description?: string } = {},
): ServiceAccount {
  const uniqueId = newUniqueId();
  return {
    name: `projects/${projectId}/serviceAccounts/${email}`,
    projectId,
    uniqueId,
    email,
    ...(fields.displayName ? { displayName: fields.displayName } : {}),
    ...(fields.description ? { description: fields.description } : {}),
    etag: newEtag(),
    oauth2ClientId: uniqueId,
  };
}

export function defaultComputeServiceAccount(projectId: string, projectNumber: string): ServiceAccount {
  return makeServiceAccount(projectId, defaultComputeServiceAccountEmail(projectNumber), {
    displayName: "Compute Engine default service account",
  });
}

export function serviceAccountEmail(accountId: string, projectId: string): string {
  return `${accountId}@${projectId}${SERVICE_ACCOUNT_DOMAIN_SUFFIX}`;
}

/** The project a service-account email belongs to, or null for emails Warrant cannot own. */
export function projectOfServiceAccountEmail(email: string): string | null {
  const at = email.lastIndexOf("@");
  if (at < 1 || !email.endsWith(SERVICE_ACCOUNT_DOMAIN_SUFFIX)) return null;
  return email.slice(at + 1, -SERVICE_ACCOUNT_DOMAIN_SUFFIX.length) || null;
}

export function displayNameProblem(v: unknown): string | null {
  if (v === undefined) return null;
  if (typeof v !== "string" || v.length > 100)
    return "displayName must be a string of at most 100 characters.";
  return null;
}
export function descriptionProblem(v: unknown): string | null {
  if (v === undefined) return null;
  if (typeof v !== "string" || v.length > 256)
    return "description must be a string of at most 256 characters.";
  return null;
}
