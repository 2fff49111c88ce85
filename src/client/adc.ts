/**
 * Application Default Credentials, in Google's order:
 *   1. the file named by GOOGLE_APPLICATION_CREDENTIALS,
 *   2. the gcloud well-known file ($CLOUDSDK_CONFIG or ~/.config/gcloud,
 *      application_default_credentials.json),
 *   3. the metadata server (GCE_METADATA_HOST / GCE_METADATA_IP, METADATA_SERVER_DETECTION).
 * A source that is configured but broken (a named file that is corrupt) is an error at once, as in
 * Google's libraries: falling through would silently run as someone else.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { AuthorizedUserCredential, type AuthorizedUserFile } from "./credentials/authorized-user.js";
import { ComputeCredential, metadataBaseUrl, metadataServerAvailable } from "./credentials/compute.js";
import type { Credential, CredentialOptions } from "./credentials/credential.js";
import { ImpersonatedCredential } from "./credentials/impersonated.js";
import { ServiceAccountCredential, type ServiceAccountKeyFile } from "./credentials/service-account.js";
import { AdcError, type Attempt, CredentialError } from "./errors.js";

export interface AdcOptions extends CredentialOptions {
  scopes?: string[];
  /** Environment to read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** For service-account key files: present self-signed JWTs instead of calling the token endpoint. */
  selfSignedJwt?: boolean;
  /** IAM Credentials base URL for impersonation files whose URL is not absolute. */
  iamCredentialsUrl?: string;
  /** Token endpoint for key and user files, instead of each file's `token_uri`. */
  tokenUri?: string;
}

export interface ApplicationDefault {
  credential: Credential;
  /** Which ADC step found it, e.g. "GOOGLE_APPLICATION_CREDENTIALS (/path/key.json)". */
  source: string;
  /** The project, when the environment or the credential names one. */
  projectId?: string;
}

export function wellKnownFile(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.CLOUDSDK_CONFIG || join(env.HOME || homedir(), ".config", "gcloud");
  return join(dir, "application_default_credentials.json");
}

/** Loads a credential file of any supported type; errors name the file, never its secrets. */
export async function credentialFromFile(file: string, opts: AdcOptions = {}): Promise<Credential> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CredentialError(
      `Cannot read credential file ${file}: ${code === "ENOENT" ? "no such file (it does not exist)" : (code ?? (err as Error).message)}.`,
      file,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CredentialError(
      `Credential file ${file} is not valid JSON (corrupt or partly written?).`,
      file,
    );
  }
  return credentialFromJson(json, { ...opts, file });
}

export function credentialFromJson(json: unknown, opts: AdcOptions & { file?: string } = {}): Credential {
  const where = opts.file ?? "credential JSON";
  if (!json || typeof json !== "object" || Array.isArray(json))
    throw new CredentialError(`${where} is not a JSON object.`, opts.file);
  const type = (json as { type?: unknown }).type;
  const common = {
    ...(opts.refreshMarginMs !== undefined ? { refreshMarginMs: opts.refreshMarginMs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.scopes ? { scopes: opts.scopes } : {}),
    ...(opts.file ? { file: opts.file } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
  };
  const tokenUri = opts.tokenUri ? { tokenUri: opts.tokenUri } : {};
  switch (type) {
    case "service_account":
      return new ServiceAccountCredential(json as ServiceAccountKeyFile, {
        ...common,
        ...tokenUri,
        ...(opts.selfSignedJwt ? { selfSignedJwt: true } : {}),
      });
    case "authorized_user":
      return new AuthorizedUserCredential(json as AuthorizedUserFile, { ...common, ...tokenUri });
    case "impersonated_service_account": {
      const f = json as {
        service_account_impersonation_url?: unknown;
        source_credentials?: unknown;
        delegates?: unknown;
      };
      const url =
        typeof f.service_account_impersonation_url === "string" ? f.service_account_impersonation_url : "";
      const m = /^(https?:\/\/[^/]+)?\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(
        url,
      );
      if (!m)
        throw new CredentialError(
          `${where}: service_account_impersonation_url is missing or malformed.`,
          opts.file,
        );
      const source = credentialFromJson(f.source_credentials, { ...opts, scopes: [] });
      return new ImpersonatedCredential({
        ...common,
        source,
        targetPrincipal: decodeURIComponent(m[2]!),
        ...(Array.isArray(f.delegates) ? { delegates: f.delegates.map(String) } : {}),
        ...((m[1] ?? opts.iamCredentialsUrl) ? { iamCredentialsUrl: (m[1] ?? opts.iamCredentialsUrl)! } : {}),
      });
    }
    case undefined:
      throw new CredentialError(`${where} has no "type" field; is it a credential file?`, opts.file);
    default:
      throw new CredentialError(
        `${where} is of type ${JSON.stringify(String(type)).slice(0, 60)}, which this library does not support (service_account, authorized_user, impersonated_service_account).`,
        opts.file,
      );
  }
}

/** Walks the ADC chain; throws AdcError listing every source tried and why it did not apply. */
export async function getApplicationDefault(opts: AdcOptions = {}): Promise<ApplicationDefault> {
  const env = opts.env ?? process.env;
  const attempts: Attempt[] = [];
  const projectFromEnv = env.GOOGLE_CLOUD_PROJECT || env.GCLOUD_PROJECT || undefined;
  const withProject = (
    credential: Credential,
    source: string,
    fromCredential?: string,
  ): ApplicationDefault => {
    const projectId = projectFromEnv ?? fromCredential;
    return { credential, source, ...(projectId ? { projectId } : {}) };
  };

  const named = env.GOOGLE_APPLICATION_CREDENTIALS;
  if (named) {
    const c = await credentialFromFile(named, opts);
    return withProject(c, `GOOGLE_APPLICATION_CREDENTIALS (${named})`, projectOf(c));
  }
  attempts.push({ source: "GOOGLE_APPLICATION_CREDENTIALS", reason: "not set" });

  const known = wellKnownFile(env);
  try {
    const c = await credentialFromFile(known, opts);
    return withProject(c, `well-known file (${known})`, projectOf(c));
  } catch (err) {
    if (!(err instanceof CredentialError) || !/does not exist/.test(err.message)) throw err;
    attempts.push({ source: `well-known file ${known}`, reason: "does not exist" });
  }

  const available = await metadataServerAvailable(env);
  if (available === true) {
    const c = new ComputeCredential({
      ...(opts.scopes ? { scopes: opts.scopes } : {}),
      ...(opts.refreshMarginMs !== undefined ? { refreshMarginMs: opts.refreshMarginMs } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
      metadataUrl: metadataBaseUrl(env),
    });
    return withProject(c, `metadata server (${c.metadataUrl})`);
  }
  attempts.push({ source: `metadata server ${metadataBaseUrl(env)}`, reason: available });
  throw new AdcError(attempts);
}

function projectOf(c: Credential): string | undefined {
  if (c instanceof ServiceAccountCredential) return c.projectId;
  if (c instanceof AuthorizedUserCredential) return c.userFile.quota_project_id;
  return undefined;
}
