/** The role catalog: Google's predefined roles (generated, committed) plus per-project custom roles. Pure. */

import { customRoleIdProblem } from "../ids.js";
import catalog from "./predefined-roles.generated.json" with { type: "json" };

export type RoleStage = "ALPHA" | "BETA" | "GA" | "DEPRECATED" | "DISABLED" | "EAP";
export const ROLE_STAGES: readonly RoleStage[] = ["ALPHA", "BETA", "GA", "DEPRECATED", "DISABLED", "EAP"];

export interface Role {
  name: string;
  title: string;
  description: string;
  stage: string;
  includedPermissions: string[];
  etag?: string;
  deleted?: boolean;
}

export const CATALOG_SOURCE: string | null = catalog.source;

const predefined = new Map<string, Role>(catalog.roles.map((r) => [r.name, r]));
const permissionSets = new Map<string, ReadonlySet<string>>(
  catalog.roles.map((r) => [r.name, new Set(r.includedPermissions)]),
);
/** Every permission some predefined role grants: the permissions Warrant knows. */
export const KNOWN_PERMISSIONS: ReadonlySet<string> = new Set(
  catalog.roles.flatMap((r) => r.includedPermissions),
);

export function predefinedRole(name: string): Role | undefined {
  return predefined.get(name);
}

export function listPredefinedRoles(): readonly Role[] {
  return catalog.roles;
}

export function predefinedPermissions(name: string): ReadonlySet<string> | undefined {
  return permissionSets.get(name);
}

const BASIC_ROLES = new Set(["roles/owner", "roles/editor", "roles/viewer"]);

/**
 * Predefined roles that grant `permission`, best advice first: GA roles of the permission's own
 * service (iam.* → roles/iam.*), then the rest; basic roles last; narrower before broader.
 */
export function rolesGranting(permission: string): string[] {
  // The catalog is fixed: the answer for a known permission is computed once (a denial's advice
  // would otherwise sort the catalog on every check). Unknown ones (testIamPermissions input) are not kept.
  const known = granting.get(permission);
  if (known) return [...known];
  const out = computeRolesGranting(permission);
  if (KNOWN_PERMISSIONS.has(permission)) granting.set(permission, out);
  return [...out];
}

const granting = new Map<string, readonly string[]>();

function computeRolesGranting(permission: string): string[] {
  const service = permission.split(".", 1)[0];
  // Legacy and service-agent roles exist for compatibility and for Google's own agents: grant
  // advice should name them last.
  const rank = (r: Role) =>
    (BASIC_ROLES.has(r.name) ? 4 : 0) +
    (/\.legacy|[sS]erviceAgent$/.test(r.name) ? 3 : 0) +
    (r.name.startsWith(`roles/${service}.`) ? 0 : 2) +
    (r.stage === "GA" ? 0 : 1);
  return catalog.roles
    .filter((r) => permissionSets.get(r.name)!.has(permission))
    .sort((a, b) => rank(a) - rank(b) || a.includedPermissions.length - b.includedPermissions.length)
    .map((r) => r.name);
}

const CUSTOM_ROLE_NAME = /^projects\/([^/]+)\/roles\/([^/]+)$/;

export function parseCustomRoleName(name: string): { projectId: string; roleId: string } | null {
  const m = CUSTOM_ROLE_NAME.exec(name);
  return m ? { projectId: m[1]!, roleId: m[2]! } : null;
}

/** Validates a custom role definition; returns the normalized role or a message naming the bad field. */
export function validateCustomRole(
  projectId: string,
  roleId: unknown,
  input: { title?: unknown; description?: unknown; includedPermissions?: unknown; stage?: unknown },
): Role | string {
  const idProblem = customRoleIdProblem(roleId);
  if (idProblem) return idProblem;
  if (input.title !== undefined && (typeof input.title !== "string" || input.title.length > 100))
    return "role.title must be a string of at most 100 characters.";
  if (
    input.description !== undefined &&
    (typeof input.description !== "string" || input.description.length > 300)
  )
    return "role.description must be a string of at most 300 characters.";
  const stage = input.stage ?? "ALPHA";
  if (typeof stage !== "string" || !ROLE_STAGES.includes(stage as RoleStage))
    return `role.stage must be one of ${ROLE_STAGES.join(", ")}.`;
  const perms = input.includedPermissions ?? [];
  if (!Array.isArray(perms) || perms.some((p) => typeof p !== "string"))
    return "role.includedPermissions must be a list of permission names.";
  if (perms.length > 3000) return "role.includedPermissions: a custom role holds at most 3000 permissions.";
  const unknown = perms.filter((p) => !KNOWN_PERMISSIONS.has(p));
  if (unknown.length > 0) return `Permission ${unknown[0]} is not valid.`;
  return {
    name: `projects/${projectId}/roles/${roleId as string}`,
    title: (input.title as string | undefined) ?? "",
    description: (input.description as string | undefined) ?? "",
    stage,
    includedPermissions: [...new Set(perms as string[])].sort(),
  };
}

/** Resolves role names to permission sets; custom roles come from the caller (the datastore). */
export interface RoleResolver {
  permissions(roleName: string): ReadonlySet<string> | undefined;
}

export function roleResolver(customRoles: Iterable<Role>): RoleResolver {
  const custom = new Map<string, ReadonlySet<string>>();
  for (const r of customRoles) if (!r.deleted) custom.set(r.name, new Set(r.includedPermissions));
  return {
    permissions: (name) => permissionSets.get(name) ?? custom.get(name),
  };
}
