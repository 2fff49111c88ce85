/**
 * Human users of the installation: the directory that `user:EMAIL` tokens are checked against.
 * A user is addressed by e-mail (compared lower-cased) and identified by a unique id: bindings and
 * tokens name the id, so a user re-created with the same e-mail is another principal. Tokens of a
 * user who is missing from the directory, disabled, or another user of the address are refused.
 */
import { newUniqueId } from "./ids.js";

export type UserState = "ACTIVE" | "DISABLED";

export interface User {
  /** `users/EMAIL`. */
  name: string;
  email: string;
  /**
   * Set at creation, never reused: bindings and tokens are tied to it, so a user re-created with the
   * same e-mail is a new principal that inherits neither. (Absent only on records written before
   * unique ids existed; the server assigns one at start.)
   */
  uniqueId?: string;
  displayName?: string;
  state: UserState;
  createTime: string;
  /**
   * Access tokens issued before this time are refused (set when a disabled user is enabled again, so
   * tokens from before the disable stay dead). Absent: `createTime` is the bound.
   */
  tokensValidAfter?: string;
}

export const MAX_EMAIL_LENGTH = 254;
export const MAX_DISPLAY_NAME_LENGTH = 100;

/** RFC 5322 atext without `/` (a user's e-mail is a URL path segment), dot-separated. */
const LOCAL = /^[A-Za-z0-9!#$%&'*+=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+=?^_`{|}~-]+)*$/;
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** Why `value` is not a usable user e-mail, or undefined when it is. */
export function userEmailProblem(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "") return "email is required.";
  if (value.length > MAX_EMAIL_LENGTH) return `email must be at most ${MAX_EMAIL_LENGTH} characters.`;
  const at = value.lastIndexOf("@");
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  const labels = domain.split(".");
  if (
    at <= 0 ||
    local.length > 64 ||
    !LOCAL.test(local) ||
    labels.length < 2 ||
    !labels.every((l) => LABEL.test(l))
  )
    return `'${value}' is not a valid email address.`;
  if (domain.toLowerCase().endsWith("gserviceaccount.com"))
    return `'${value}' is a service-account address; users cannot have one.`;
  return undefined;
}

export function userDisplayNameProblem(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") return "displayName must be a string.";
  if (value.length > MAX_DISPLAY_NAME_LENGTH)
    return `displayName must be at most ${MAX_DISPLAY_NAME_LENGTH} characters.`;
  if (/[\p{Cc}]/u.test(value)) return "displayName must not contain control characters.";
  return undefined;
}

export const normalizeEmail = (email: string) => email.toLowerCase();

export function makeUser(email: string, fields: { displayName?: string; createTime?: string } = {}): User {
  const e = normalizeEmail(email);
  return {
    name: `users/${e}`,
    email: e,
    uniqueId: newUniqueId(),
    ...(fields.displayName ? { displayName: fields.displayName } : {}),
    state: "ACTIVE",
    createTime: fields.createTime ?? new Date().toISOString(),
  };
}

/**
 * May a token issued at `iat` (seconds) act as this user? Only an active user, and only for tokens
 * issued after the user was created (or last enabled), so deleting and re-creating an address, or
 * disabling and enabling a user, does not revive earlier tokens.
 */
export function userAcceptsToken(user: User | undefined, iat: number): boolean {
  if (user?.state !== "ACTIVE") return false;
  return iat >= tokensValidAfterSeconds(user);
}

/** Parsed once per user record (records are replaced, never changed, so the value cannot go stale). */
const validAfter = new WeakMap<User, number>();
function tokensValidAfterSeconds(user: User): number {
  let s = validAfter.get(user);
  if (s === undefined) {
    s = Math.floor(Date.parse(user.tokensValidAfter ?? user.createTime) / 1000);
    validAfter.set(user, s);
  }
  return s;
}
