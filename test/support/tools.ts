/**
 * External tools the compatibility tests drive, found the way a shell finds them: on PATH, never at
 * a hard-coded install path. A missing tool makes its tests skip with a reason that says what to
 * install.
 */
import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, realpathSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";

/** The absolute path of `name` on PATH, or undefined. */
export function onPath(name: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return undefined;
}

export const GCLOUD = onPath("gcloud");
export const GSUTIL = onPath("gsutil");
export const CURL = onPath("curl");

export const GCLOUD_MISSING = "gcloud is not on PATH (install the Google Cloud CLI)";
export const GSUTIL_MISSING = "gsutil is not on PATH (install the Google Cloud CLI)";

/**
 * The Cloud SDK's Python and the google-auth it bundles, found from the gcloud on PATH (its real
 * path is <sdk>/bin/gcloud): CLOUDSDK_PYTHON when set, else the SDK's bundled Python, else
 * python3 on PATH.
 */
function findSdkPython(): { python: string; sdk: string } | string {
  if (!GCLOUD) return `${GCLOUD_MISSING}; the tests use the google-auth bundled with it`;
  const sdk = dirname(dirname(realpathSync(GCLOUD)));
  if (!existsSync(join(sdk, "lib", "third_party", "google", "auth")))
    return `the Cloud SDK at ${sdk} (from gcloud on PATH) has no bundled google-auth (lib/third_party/google/auth)`;
  const bundled = join(sdk, "platform", "bundledpythonunix", "bin", "python3");
  const python = process.env.CLOUDSDK_PYTHON || (existsSync(bundled) ? bundled : onPath("python3"));
  if (!python) return `no Python for the Cloud SDK at ${sdk}: neither its bundled Python nor python3 on PATH`;
  return { python, sdk };
}

const sdkPython = findSdkPython();
/** The Python that runs the SDK's google-auth, and the SDK root; undefined when absent. */
export const SDK_PYTHON = typeof sdkPython === "string" ? undefined : sdkPython;
/** Why the Python google-auth tests skip, or false. */
export const SDK_PYTHON_MISSING: string | false = typeof sdkPython === "string" ? sdkPython : false;

/** Where an endpoint override points, per gcloud API name (`iam`, `cloudresourcemanager`, `compute`, …). */
export type GcloudEndpoints = Partial<Record<string, string>>;

/**
 * The environment a test gives the real gcloud: its own config dir, no prompts, no update check or
 * usage reports, no metadata-server probe, the project, an access-token file as its credential, and
 * each named API pointed at a Warrant server (`CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>`). Loopback
 * bypasses any proxy of the machine's.
 */
export function gcloudEnv(opts: {
  home: string;
  config: string;
  project: string;
  tokenFile: string;
  endpoints: GcloudEndpoints;
}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: opts.home,
    CLOUDSDK_CONFIG: opts.config,
    CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
    CLOUDSDK_CORE_CHECK_GCE_METADATA: "false",
    CLOUDSDK_CORE_PROJECT: opts.project,
    CLOUDSDK_AUTH_ACCESS_TOKEN_FILE: opts.tokenFile,
    NO_PROXY: "127.0.0.1,localhost",
    no_proxy: "127.0.0.1,localhost",
  };
  for (const [api, url] of Object.entries(opts.endpoints))
    env[`CLOUDSDK_API_ENDPOINT_OVERRIDES_${api.toUpperCase()}`] = url;
  return env;
}

export interface GcloudResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real gcloud with `env`; a non-zero exit is a result to assert on, not an exception. */
export async function runGcloud(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 90_000,
): Promise<GcloudResult> {
  if (!GCLOUD) throw new Error(GCLOUD_MISSING);
  try {
    const { stdout, stderr } = await promisify(execFile)(GCLOUD, args, { env, timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}
