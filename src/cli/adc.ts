/**
 * Application Default Credentials files: where gcloud keeps them, and whether one there was issued
 * by Warrant (may be replaced or deleted) or by someone else (never touched).
 */
import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { wellKnownFile } from "../client/index.js";
import { CliError } from "./errors.js";
import type { Env } from "./io.js";

export const ADC_FILE_NAME = "application_default_credentials.json";
/** Written beside a foreign ADC file instead of replacing it. */
export const WARRANT_ADC_FILE_NAME = "warrant_application_default_credentials.json";

/** Where ADC looks: `$CLOUDSDK_CONFIG` or `~/.config/gcloud`, as `warrant/client` and Google's libraries do. */
export const wellKnownAdcFile = (env: Env) => wellKnownFile(env as NodeJS.ProcessEnv);
export const besideAdcFile = (env: Env) => join(dirname(wellKnownAdcFile(env)), WARRANT_ADC_FILE_NAME);

export type AdcFileState =
  | { kind: "absent" }
  | { kind: "warrant"; credential: Record<string, unknown> }
  | { kind: "foreign"; why: string };

import { GCLOUD_ADC_CLIENT_ID } from "../domain/oauth/first-party-clients.js";

const GOOGLE_HOST = /(^|\.)(googleapis\.com|google\.com)$/i;

/**
 * What is at `file`. Warrant's own files are `authorized_user` credentials whose client is one of
 * Warrant's (`*.apps.warrant.local`, or gcloud's ADC client, which the browser sign-in of
 * `application-default login` uses so Google's libraries can refresh it) and whose `token_uri` is
 * not a Google host (gcloud writes none); anything else (a gcloud login, a service-account key, an
 * external account, unreadable JSON) is foreign.
 */
export function inspectAdcFile(file: string): AdcFileState {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    return { kind: "foreign", why: `it cannot be read (${(e as Error).message})` };
  }
  let data: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error();
    data = parsed as Record<string, unknown>;
  } catch {
    return { kind: "foreign", why: "it is not a JSON credential Warrant wrote" };
  }
  if (data.type !== "authorized_user")
    return { kind: "foreign", why: `it is a ${JSON.stringify(data.type ?? "untyped")} credential` };
  if (typeof data.token_uri !== "string" || data.token_uri === "")
    return { kind: "foreign", why: "it has no token_uri (a Google-issued user credential)" };
  let host: string;
  try {
    host = new URL(data.token_uri).hostname;
  } catch {
    return { kind: "foreign", why: `its token_uri ${data.token_uri} is not a URL` };
  }
  if (GOOGLE_HOST.test(host))
    return { kind: "foreign", why: `its token_uri is Google's (${data.token_uri})` };
  if (
    typeof data.client_id !== "string" ||
    !(data.client_id.endsWith(".apps.warrant.local") || data.client_id === GCLOUD_ADC_CLIENT_ID)
  )
    return { kind: "foreign", why: "its OAuth client is not Warrant's" };
  return { kind: "warrant", credential: data };
}

/**
 * Writes a credential file with mode 0600, atomically. With `replace` false it never replaces a
 * file that appeared meanwhile (the new file is hard-linked into place, which fails if one exists).
 */
export function writeCredentialFile(file: string, credential: unknown, replace: boolean) {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(credential, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  try {
    if (replace) renameSync(tmp, file);
    else {
      try {
        linkSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST")
          throw new CliError(`${file} appeared while the credential was being written; it was left alone.`);
        throw e;
      }
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}
