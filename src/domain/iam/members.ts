/** Policy member strings: validation and matching against a principal. Pure. */
import type { Principal } from "./principal.js";

export const CONVENIENCE_ROLES = {
  projectOwner: "roles/owner",
  projectEditor: "roles/editor",
  projectViewer: "roles/viewer",
} as const;
export type ConvenienceKind = keyof typeof CONVENIENCE_ROLES;

const EMAIL = /^[^\s@:]+@[^\s@:]+\.[^\s@:]+$/;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const PROJECT_SA_SET =
  /^principalSet:\/\/cloudresourcemanager\.googleapis\.com\/projects\/(\d+)\/type\/ServiceAccount$/;

export type ParsedMember =
  | { type: "allUsers" }
  | { type: "allAuthenticatedUsers" }
  | { type: "user" | "serviceAccount" | "group"; email: string }
  | { type: "domain"; domain: string }
  | { type: "convenience"; kind: ConvenienceKind; projectId: string }
  | { type: "projectServiceAccounts"; projectNumber: string }
  | { type: "deleted"; inner: string };

/** Parses a member string; returns a message naming what is wrong when it is not valid. */
export function parseMember(member: unknown): ParsedMember | string {
  if (typeof member !== "string" || member === "") return "a member must be a non-empty string";
  if (member === "allUsers") return { type: "allUsers" };
  if (member === "allAuthenticatedUsers") return { type: "allAuthenticatedUsers" };
  const m = PROJECT_SA_SET.exec(member);
  if (m) return { type: "projectServiceAccounts", projectNumber: m[1]! };
  const i = member.indexOf(":");
  if (i < 0)
    return `Invalid member '${member}': expected TYPE:VALUE (user:, serviceAccount:, group:, domain:) or allUsers/allAuthenticatedUsers.`;
  const type = member.slice(0, i);
  const value = member.slice(i + 1);
  switch (type) {
    case "user":
    case "serviceAccount":
    case "group":
      if (!EMAIL.test(value)) return `Invalid member '${member}': '${value}' is not an email address.`;
      return { type, email: value.toLowerCase() };
    case "domain":
      if (!DOMAIN.test(value)) return `Invalid member '${member}': '${value}' is not a domain name.`;
      return { type: "domain", domain: value.toLowerCase() };
    case "projectOwner":
    case "projectEditor":
    case "projectViewer":
      if (value === "") return `Invalid member '${member}': a project id is required.`;
      return { type: "convenience", kind: type, projectId: value };
    case "deleted":
      return { type: "deleted", inner: value };
    default:
      return `Invalid member '${member}': unknown member type '${type}'.`;
  }
}

/** Whether `member` names `principal` directly (no role lookups; convenience members are resolved by the caller). */
export function memberMatches(member: ParsedMember, principal: Principal): boolean {
  switch (member.type) {
    case "allUsers":
      return true;
    case "allAuthenticatedUsers":
      return principal.kind !== "anonymous";
    case "user":
    case "serviceAccount":
      return principal.kind === member.type && principal.email === member.email;
    case "group":
      return principal.kind !== "anonymous" && principal.groups.includes(member.email);
    case "domain":
      return principal.kind === "user" && principal.email.endsWith(`@${member.domain}`);
    case "projectServiceAccounts":
      return principal.kind === "serviceAccount" && principal.projectNumber === member.projectNumber;
    case "convenience":
    case "deleted":
      return false;
  }
}
