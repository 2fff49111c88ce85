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
  /** `uid`: the unique id of the principal the member was bound to (`user:E?uid=U`, the stored form). */
  | { type: "user" | "serviceAccount" | "group"; email: string; uid?: string }
  | { type: "domain"; domain: string }
  | { type: "convenience"; kind: ConvenienceKind; projectId: string }
  | { type: "projectServiceAccounts"; projectNumber: string }
  /** `principal://iam.googleapis.com/POOL/subject/S`: one federated identity of a workload identity pool. */
  | { type: "federatedSubject"; pool: string; subject: string }
  /** `principalSet://iam.googleapis.com/POOL/group/G`, `…/attribute.NAME/VALUE` or `…/*`. */
  | { type: "federatedSet"; pool: string; group?: string; attribute?: { name: string; value: string } }
  | { type: "deleted"; inner: string; principal?: DeletedPrincipal };

/** What a `deleted:TYPE:EMAIL?uid=ID` member names: a principal that was deleted (or replaced). */
export interface DeletedPrincipal {
  type: "user" | "serviceAccount" | "group";
  email: string;
  uid: string;
}

/** A workload identity pool's resource name, as federated members spell it (project number, location global). */
const POOL = String.raw`projects/\d{1,20}/locations/global/workloadIdentityPools/[a-z0-9-]{4,32}`;
const FEDERATED_SUBJECT = new RegExp(`^principal://iam\\.googleapis\\.com/(${POOL})/subject/(.+)$`);
const FEDERATED_SET = new RegExp(
  `^principalSet://iam\\.googleapis\\.com/(${POOL})/(?:group/(.+)|attribute\\.([a-z0-9_]{1,100})/(.+)|(\\*))$`,
);
/** Google bounds a federated subject (`google.subject`) at 127 bytes. */
export const MAX_FEDERATED_SUBJECT_BYTES = 127;

/** `?uid=ID` on an e-mail member: Google's notation for the unique id a binding was written for. */
const UID_SUFFIX = /\?uid=(\d{1,32})$/;

/** Parses a member string; returns a message naming what is wrong when it is not valid. */
export function parseMember(member: unknown): ParsedMember | string {
  if (typeof member !== "string" || member === "") return "a member must be a non-empty string";
  if (member === "allUsers") return { type: "allUsers" };
  if (member === "allAuthenticatedUsers") return { type: "allAuthenticatedUsers" };
  const m = PROJECT_SA_SET.exec(member);
  if (m) return { type: "projectServiceAccounts", projectNumber: m[1]! };
  if (member.startsWith("principal://") || member.startsWith("principalSet://"))
    return federatedMember(member);
  const i = member.indexOf(":");
  if (i < 0)
    return `Invalid member '${member}': expected TYPE:VALUE (user:, serviceAccount:, group:, domain:) or allUsers/allAuthenticatedUsers.`;
  const type = member.slice(0, i);
  const value = member.slice(i + 1);
  switch (type) {
    case "user":
    case "serviceAccount":
    case "group": {
      const uid = UID_SUFFIX.exec(value)?.[1];
      const email = uid === undefined ? value : value.slice(0, value.lastIndexOf("?"));
      if (!EMAIL.test(email) || email.includes("?"))
        return `Invalid member '${member}': '${value}' is not an email address.`;
      return { type, email: email.toLowerCase(), ...(uid !== undefined ? { uid } : {}) };
    }
    case "domain":
      if (!DOMAIN.test(value)) return `Invalid member '${member}': '${value}' is not a domain name.`;
      return { type: "domain", domain: value.toLowerCase() };
    case "projectOwner":
    case "projectEditor":
    case "projectViewer":
      if (value === "") return `Invalid member '${member}': a project id is required.`;
      return { type: "convenience", kind: type, projectId: value };
    case "deleted": {
      const inner = parseMember(value);
      if (
        typeof inner !== "string" &&
        (inner.type === "user" || inner.type === "serviceAccount" || inner.type === "group") &&
        inner.uid !== undefined
      )
        return {
          type: "deleted",
          inner: value,
          principal: { type: inner.type, email: inner.email, uid: inner.uid },
        };
      return { type: "deleted", inner: value };
    }
    default:
      return `Invalid member '${member}': unknown member type '${type}'.`;
  }
}

function federatedMember(member: string): ParsedMember | string {
  const subject = FEDERATED_SUBJECT.exec(member);
  if (subject) {
    if (Buffer.byteLength(subject[2]!) > MAX_FEDERATED_SUBJECT_BYTES)
      return `Invalid member '${member}': a subject is at most ${MAX_FEDERATED_SUBJECT_BYTES} bytes.`;
    return { type: "federatedSubject", pool: subject[1]!, subject: subject[2]! };
  }
  const set = FEDERATED_SET.exec(member);
  if (set) {
    if (set[2] !== undefined) return { type: "federatedSet", pool: set[1]!, group: set[2] };
    if (set[3] !== undefined)
      return { type: "federatedSet", pool: set[1]!, attribute: { name: set[3], value: set[4]! } };
    return { type: "federatedSet", pool: set[1]! };
  }
  return `Invalid member '${member}': expected principal://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/subject/SUBJECT or principalSet://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/{group/GROUP | attribute.NAME/VALUE | *}.`;
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
      // A member bound to a unique id names that account only: a newer account of the same e-mail
      // is another principal. A member without one (a pure caller's, or one naming no account yet)
      // names the e-mail.
      return (
        principal.kind === member.type &&
        principal.email === member.email &&
        (member.uid === undefined || principal.uid === member.uid)
      );
    case "group":
      // A federated identity's groups are its pool's (`principalSet://…/group/G`), never Google groups.
      return (
        (principal.kind === "user" || principal.kind === "serviceAccount") &&
        principal.groups.includes(member.email)
      );
    case "domain":
      return principal.kind === "user" && principal.email.endsWith(`@${member.domain}`);
    case "projectServiceAccounts":
      return principal.kind === "serviceAccount" && principal.projectNumber === member.projectNumber;
    case "federatedSubject":
      return (
        principal.kind === "federated" &&
        principal.pool === member.pool &&
        principal.subject === member.subject
      );
    case "federatedSet": {
      if (principal.kind !== "federated" || principal.pool !== member.pool) return false;
      if (member.group !== undefined) return principal.poolGroups.includes(member.group);
      if (member.attribute) {
        const v = principal.attributes[member.attribute.name];
        return Array.isArray(v) ? v.includes(member.attribute.value) : v === member.attribute.value;
      }
      return true;
    }
    case "convenience":
    case "deleted":
      return false;
  }
}

/** The stored form of a member bound to the account with unique id `uid`: `TYPE:EMAIL?uid=UID`. */
export const boundMember = (type: "user" | "serviceAccount" | "group", email: string, uid: string) =>
  `${type}:${email.toLowerCase()}?uid=${uid}`;

/**
 * How a stored member is shown: a member bound to a unique id is shown as `TYPE:EMAIL` while that
 * account is the live one of its e-mail (`liveUid`), else as `deleted:TYPE:EMAIL?uid=UID`, as
 * Google shows the bindings of a deleted principal. Other members are shown as stored.
 */
export function displayMember(member: string, liveUid: string | undefined): string {
  const parsed = parseMember(member);
  if (
    typeof parsed === "string" ||
    parsed.type === "deleted" ||
    !("uid" in parsed) ||
    parsed.uid === undefined
  )
    return member;
  const plain = `${parsed.type}:${parsed.email}`;
  return parsed.uid === liveUid ? plain : `deleted:${member}`;
}

/** The member without its `?uid=` binding: how a member that just matched a live caller is named. */
export function unboundMember(member: string): string {
  const parsed = parseMember(member);
  if (typeof parsed === "string" || !("uid" in parsed) || parsed.uid === undefined) return member;
  return `${parsed.type}:${parsed.email}`;
}
