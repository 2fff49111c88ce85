/** Identifier rules, as Google's APIs enforce them. Pure: each returns an error message or null. */

import { randomInt } from "node:crypto";
import { show } from "./show.js";

const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const RESTRICTED_IN_PROJECT_ID = ["google", "ssl", "undefined", "null"];
const ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const RFC1035 = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const CUSTOM_ROLE_ID = /^[a-zA-Z0-9_.]{3,64}$/;

export function projectIdProblem(id: unknown): string | null {
  if (typeof id !== "string" || id === "") return "projectId is required.";
  if (!PROJECT_ID.test(id))
    return `Invalid project ID '${id}': must be 6 to 30 lowercase letters, digits, or hyphens, start with a letter and not end with a hyphen.`;
  const bad = RESTRICTED_IN_PROJECT_ID.find((w) => id.includes(w));
  if (bad) return `Invalid project ID '${id}': it must not contain the restricted string '${bad}'.`;
  return null;
}

export function accountIdProblem(id: unknown): string | null {
  if (typeof id !== "string" || id === "") return "accountId is required.";
  if (id.length < 6 || id.length > 30) return `accountId '${id}' must be between 6 and 30 characters.`;
  if (!ACCOUNT_ID.test(id))
    return `accountId '${id}' must match ^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$: lowercase letters, digits and hyphens, starting with a letter.`;
  return null;
}

export function resourceNameProblem(field: string, name: unknown): string | null {
  if (typeof name !== "string" || name === "") return `Invalid value for field '${field}': it is required.`;
  if (!RFC1035.test(name))
    return `Invalid value for field '${field}': '${name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`;
  return null;
}

export function customRoleIdProblem(id: unknown): string | null {
  if (typeof id !== "string" || !CUSTOM_ROLE_ID.test(id))
    return `The role ID '${show(id)}' is invalid: it must be 3 to 64 characters of letters, digits, underscores and periods.`;
  return null;
}

/** A string of `length` random digits whose first digit is `lead` (or any non-zero digit). */
export function randomDigits(length: number, lead?: string): string {
  let s = lead ?? String(randomInt(1, 10));
  while (s.length < length) s += String(randomInt(0, 10));
  return s;
}

export const newProjectNumber = () => randomDigits(12);
export const newUniqueId = () => randomDigits(21, "1");
/** Compute ids are unsigned 64-bit integers; 19 digits starting 1-8 stays below 2^64. */
export const newComputeId = () => randomDigits(19, String(randomInt(1, 9)));
