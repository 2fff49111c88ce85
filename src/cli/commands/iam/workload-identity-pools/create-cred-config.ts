import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { CliError } from "../../../errors.js";
import { command } from "../../../spec.js";

export interface CredConfigOptions {
  /** `projects/N/locations/global/workloadIdentityPools/P/providers/PR`, or already `//iam.googleapis.com/…`. */
  audience: string;
  /** The Warrant endpoint the file's URLs point at. */
  endpoint: string;
  subjectTokenType?: string;
  file?: string;
  url?: string;
  headers?: Record<string, string>;
  format?: { type: "text" | "json"; fieldName?: string };
  executable?: { command: string; timeoutMillis?: number; outputFile?: string };
  serviceAccount?: string;
  tokenLifetimeSeconds?: number;
}

/**
 * The `external_account` credential file, in the shape and key order gcloud's
 * `iam workload-identity-pools create-cred-config` writes, with URLs on this Warrant.
 */
export function credConfig(o: CredConfigOptions): Record<string, unknown> {
  const sources = [o.file, o.url, o.executable].filter((s) => s !== undefined);
  if (sources.length !== 1)
    throw new CliError(
      "Exactly one of --credential-source-file, --credential-source-url and --executable-command is required.",
    );
  if (o.format?.type === "json" && !o.format.fieldName)
    throw new CliError("--credential-source-type=json requires --credential-source-field-name.");
  const format =
    o.format && (o.format.type === "json" || o.format.fieldName)
      ? {
          format: {
            type: o.format.type,
            ...(o.format.fieldName ? { subject_token_field_name: o.format.fieldName } : {}),
          },
        }
      : {};
  const credentialSource = o.executable
    ? {
        executable: {
          command: o.executable.command,
          timeout_millis: o.executable.timeoutMillis ?? 30000,
          ...(o.executable.outputFile ? { output_file: o.executable.outputFile } : {}),
        },
      }
    : o.file !== undefined
      ? { file: o.file, ...format }
      : { url: o.url, ...(o.headers ? { headers: o.headers } : {}), ...format };
  if (o.tokenLifetimeSeconds !== undefined && !o.serviceAccount)
    throw new CliError("--service-account-token-lifetime-seconds needs --service-account.");
  if (
    o.tokenLifetimeSeconds !== undefined &&
    (o.tokenLifetimeSeconds < 600 || o.tokenLifetimeSeconds > 43200)
  )
    throw new CliError("--service-account-token-lifetime-seconds must be between 600 and 43200.");
  const audience = o.audience.startsWith("//iam.googleapis.com/")
    ? o.audience
    : `//iam.googleapis.com/${o.audience}`;
  if (
    !/^\/\/iam\.googleapis\.com\/projects\/[^/]+\/locations\/[^/]+\/workloadIdentityPools\/[^/]+\/providers\/[^/]+$/.test(
      audience,
    )
  )
    throw new CliError(
      "AUDIENCE must be projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER.",
    );
  const base = o.endpoint.replace(/\/+$/, "");
  return {
    universe_domain: "googleapis.com",
    type: "external_account",
    audience,
    subject_token_type: o.subjectTokenType ?? "urn:ietf:params:oauth:token-type:jwt",
    token_url: `${base}/v1/token`,
    credential_source: credentialSource,
    ...(o.serviceAccount
      ? {
          service_account_impersonation_url: `${base}/v1/projects/-/serviceAccounts/${o.serviceAccount}:generateAccessToken`,
          ...(o.tokenLifetimeSeconds !== undefined
            ? { service_account_impersonation: { token_lifetime_seconds: o.tokenLifetimeSeconds } }
            : {}),
        }
      : { token_info_url: `${base}/v1/introspect` }),
  };
}

function parseHeaders(raw: string | undefined): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const part of raw.split(",")) {
    const i = part.indexOf("=");
    if (i <= 0) throw new CliError(`--credential-source-headers: '${part}' is not KEY=VALUE.`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

function int(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new CliError(`${flag} must be a whole number.`);
  return Number(raw);
}

export default command({
  name: "create-cred-config",
  summary: "write an external_account credential file whose URLs point at this Warrant",
  description:
    "Writes the file gcloud's create-cred-config writes (the same keys, sources and flags), but with " +
    "token_url, token_info_url and service_account_impersonation_url on the Warrant endpoint, so Google's " +
    "client libraries and gcloud exchange the workload's own token at this Warrant. AUDIENCE is the " +
    "provider's resource name.",
  positionals: [
    {
      name: "AUDIENCE",
      help: "projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER.",
    },
  ],
  flags: [
    { name: "output-file", type: "string", required: true, help: "Where to write the credential file." },
    { name: "credential-source-file", type: "string", help: "Read the subject token from this file." },
    { name: "credential-source-url", type: "string", help: "Fetch the subject token from this URL." },
    {
      name: "credential-source-headers",
      type: "string",
      help: "KEY=VALUE,... headers for --credential-source-url.",
    },
    {
      name: "credential-source-type",
      type: "string",
      choices: ["text", "json"],
      help: "Format of the source (text: default).",
    },
    {
      name: "credential-source-field-name",
      type: "string",
      help: "JSON field holding the token (with type json).",
    },
    { name: "executable-command", type: "string", help: "Run this command to obtain the subject token." },
    { name: "executable-timeout-millis", type: "string", help: "Timeout of the command (default 30000)." },
    { name: "executable-output-file", type: "string", help: "File where the command caches its output." },
    { name: "service-account", type: "string", help: "Impersonate this service account after the exchange." },
    {
      name: "service-account-token-lifetime-seconds",
      type: "string",
      help: "Lifetime of the impersonated token (600-43200).",
    },
    {
      name: "subject-token-type",
      type: "string",
      help: "Type of the subject token (default urn:ietf:params:oauth:token-type:jwt).",
    },
  ],
  examples: [
    "warrant iam workload-identity-pools create-cred-config " +
      "projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/ci-oidc " +
      "--credential-source-file=/var/run/secrets/tokens/ci --output-file=cred.json",
    "warrant iam workload-identity-pools create-cred-config AUDIENCE --service-account=deployer@my-project.iam.gserviceaccount.com " +
      "--credential-source-url=http://127.0.0.1:9000/token --credential-source-type=json " +
      "--credential-source-field-name=id_token --output-file=cred.json",
  ],
  async run(ctx) {
    const type = ctx.str("credential-source-type") as "text" | "json" | undefined;
    const field = ctx.str("credential-source-field-name");
    const command = ctx.str("executable-command");
    const headers = parseHeaders(ctx.str("credential-source-headers"));
    const timeout = int(ctx.str("executable-timeout-millis"), "--executable-timeout-millis");
    const outputFile = ctx.str("executable-output-file");
    const sa = ctx.str("service-account");
    const lifetime = int(
      ctx.str("service-account-token-lifetime-seconds"),
      "--service-account-token-lifetime-seconds",
    );
    const subjectTokenType = ctx.str("subject-token-type");
    const file = ctx.str("credential-source-file");
    const url = ctx.str("credential-source-url");
    const config = credConfig({
      audience: ctx.arg("AUDIENCE"),
      endpoint: ctx.session.endpoint(),
      ...(subjectTokenType ? { subjectTokenType } : {}),
      ...(file !== undefined ? { file } : {}),
      ...(url !== undefined ? { url } : {}),
      ...(headers ? { headers } : {}),
      ...(type || field ? { format: { type: type ?? "text", ...(field ? { fieldName: field } : {}) } } : {}),
      ...(command
        ? {
            executable: {
              command,
              ...(timeout !== undefined ? { timeoutMillis: timeout } : {}),
              ...(outputFile ? { outputFile } : {}),
            },
          }
        : {}),
      ...(sa ? { serviceAccount: sa } : {}),
      ...(lifetime !== undefined ? { tokenLifetimeSeconds: lifetime } : {}),
    });
    const out = resolve(ctx.rt.cwd, ctx.str("output-file")!);
    writeFileSync(out, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    ctx.status(`Created credential configuration file [${out}].`);
    return 0;
  },
});
