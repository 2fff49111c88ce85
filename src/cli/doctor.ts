/**
 * `warrant doctor`: what this shell's environment makes each client do, and what is wrong with it.
 * Every check reads the environment of the Runtime (never process.env) and talks only to the hosts
 * the environment names. Each problem carries the fix.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  AdcError,
  ComputeCredential,
  CredentialError,
  getApplicationDefault,
  metadataBaseUrl,
  metadataServerAvailable,
  wellKnownFile,
} from "../client/index.js";
import type { Env, Runtime } from "./io.js";
import type { Session } from "./session.js";

export interface Finding {
  /** "ok", "info" or "problem". */
  level: "ok" | "info" | "problem";
  text: string;
  fix?: string;
}

export interface Section {
  title: string;
  findings: Finding[];
}

const ok = (text: string): Finding => ({ level: "ok", text });
const info = (text: string): Finding => ({ level: "info", text });
const problem = (text: string, fix: string): Finding => ({ level: "problem", text, fix });

/** Clock skew beyond this is a problem: JWT assertions and token lifetimes are checked against it. */
export const MAX_SKEW_SECONDS = 30;

const PROXY_VARS = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];
/** The CA variables each runtime reads, and who reads it. */
const CA_VARS: [string, string][] = [
  ["NODE_EXTRA_CA_CERTS", "Node.js"],
  ["REQUESTS_CA_BUNDLE", "Python requests / google-auth"],
  ["SSL_CERT_FILE", "OpenSSL (Python, curl, gsutil)"],
  ["CURL_CA_BUNDLE", "curl"],
  ["HTTPLIB2_CA_CERTS", "httplib2 (gsutil)"],
  ["CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", "gcloud"],
];

function fileState(path: string): "missing" | "empty" | "unreadable" | "ok" {
  try {
    const st = statSync(path);
    if (!st.isFile()) return "unreadable";
    if (st.size === 0) return "empty";
    readFileSync(path, { flag: "r" }).subarray(0, 1);
    return "ok";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : "unreadable";
  }
}

/** A short description of a credential file: its type and account, never its secrets. */
function describeCredentialFile(path: string): string {
  try {
    const j = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    const who =
      typeof j.client_email === "string"
        ? ` for ${j.client_email}`
        : typeof j.account === "string"
          ? ` for ${j.account}`
          : "";
    return `a ${String(j.type ?? "untyped")} credential${who}`;
  } catch {
    return "not a JSON credential";
  }
}

/** The Warrant CLI's own credential: what `warrant` commands in this shell act as. */
async function cliSection(rt: Runtime, session: Session): Promise<{ section: Section; token?: string }> {
  const findings: Finding[] = [];
  let endpoint: string | undefined;
  try {
    const e = session.endpointSource();
    endpoint = e.value;
    findings.push(info(`endpoint: ${e.value} (from ${e.from})`));
  } catch (e) {
    findings.push(
      problem(
        (e as Error).message,
        'run `eval "$(warrant env)"` where the server keeps its state, or export WARRANT_ENDPOINT=http://127.0.0.1:PORT',
      ),
    );
    return { section: { title: "Warrant CLI", findings } };
  }
  let token: string | undefined;
  try {
    token = await session.accessToken();
  } catch (e) {
    findings.push(
      problem(
        `the warrant CLI has no working credential: ${(e as Error).message.split("\n")[0]}`,
        (e as { hint?: string }).hint ??
          'run `eval "$(warrant env)"` (admin) or `eval "$(warrant env --instance NAME)"` (an instance)',
      ),
    );
  }
  if (token) {
    const who = await tokenInfo(rt, endpoint, token);
    const source = session.credentialSource ?? "unknown";
    findings.push(
      ok(
        `credential in use: ${source}${who?.email ? ` — acts as ${who.email}` : ""}${
          rt.env.WARRANT_CREDENTIAL_FILE && source === rt.env.WARRANT_CREDENTIAL_FILE
            ? " (WARRANT_CREDENTIAL_FILE)"
            : ""
        }`,
      ),
    );
  }
  const p = session.projectSource();
  findings.push(
    p
      ? info(`project: ${p.value} (from ${p.from})`)
      : info("project: none (pass --project or export WARRANT_PROJECT)"),
  );
  return { section: { title: "Warrant CLI", findings }, ...(token ? { token } : {}) };
}

interface TokenInfo {
  email?: string;
  scope?: string;
  date?: string;
}

async function tokenInfo(rt: Runtime, endpoint: string, token: string): Promise<TokenInfo | undefined> {
  try {
    const res = await rt.fetch(`${endpoint}/oauth2/v3/tokeninfo`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ access_token: token }).toString(),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json().catch(() => ({}))) as TokenInfo;
    if (!res.ok) return undefined;
    return { ...body, ...(res.headers.get("date") ? { date: res.headers.get("date")! } : {}) };
  } catch {
    return undefined;
  }
}

/** Google's ADC order, step by step, and which credential it picks here. */
async function adcSection(
  env: Env,
  mds: string | true,
): Promise<{ section: Section; adc?: ComputeCredential }> {
  const findings: Finding[] = [];
  const penv = env as NodeJS.ProcessEnv;
  const named = env.GOOGLE_APPLICATION_CREDENTIALS;
  const known = wellKnownFile(penv);
  const knownState = fileState(known);
  const metadataUrl = metadataBaseUrl(penv);
  const fallback =
    knownState === "ok"
      ? `the well-known file ${known}`
      : mds === true
        ? `the metadata server ${metadataUrl}`
        : "nothing (no well-known file, no metadata server)";

  if (!named) findings.push(info("1. GOOGLE_APPLICATION_CREDENTIALS: not set"));
  else {
    const st = fileState(named);
    if (st === "ok")
      findings.push(info(`1. GOOGLE_APPLICATION_CREDENTIALS: ${named}, ${describeCredentialFile(named)}`));
    else
      findings.push(
        problem(
          `1. GOOGLE_APPLICATION_CREDENTIALS names ${named}, which ${
            st === "missing" ? "does not exist" : st === "empty" ? "is empty" : "cannot be read"
          } (stale): Google's libraries and this CLI's ADC fail at once rather than fall through to ${fallback}`,
          `unset GOOGLE_APPLICATION_CREDENTIALS (ADC then uses ${fallback}), or point it at an existing key file ` +
            "(`warrant iam service-accounts keys create FILE --iam-account=EMAIL`)",
        ),
      );
  }
  findings.push(
    info(
      `2. well-known file ${known}: ${
        knownState === "ok"
          ? describeCredentialFile(known)
          : knownState === "missing"
            ? "does not exist"
            : knownState
      }${env.CLOUDSDK_CONFIG ? " (CLOUDSDK_CONFIG)" : ""}`,
    ),
  );
  findings.push(
    info(
      `3. metadata server ${metadataUrl}: ${mds === true ? "answers with Metadata-Flavor: Google" : `not used (${mds})`}`,
    ),
  );
  let adc: ComputeCredential | undefined;
  try {
    // The metadata server was probed once: ADC is told the answer rather than probing again.
    const found = await getApplicationDefault({
      env: { ...penv, METADATA_SERVER_DETECTION: mds === true ? "assume-present" : "none" },
      retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
    });
    const who = found.credential.principal;
    findings.push(ok(`ADC picks: ${found.source}${who ? ` — acts as ${who}` : ""}`));
    if (found.credential instanceof ComputeCredential) adc = found.credential;
  } catch (e) {
    if (e instanceof AdcError)
      findings.push(
        info(
          "ADC picks: nothing — Google's libraries in this shell have no credential (fine for a shell that only runs `warrant`)",
        ),
      );
    else if (e instanceof CredentialError) {
      // A missing GOOGLE_APPLICATION_CREDENTIALS file is reported above; anything else is new here.
      if (findings.some((f) => f.level === "problem"))
        findings.push(info(`ADC picks: nothing — it fails: ${e.message}`));
      else
        findings.push(
          problem(
            `ADC picks: nothing — it fails: ${e.message}`,
            `repair or replace ${e.where ?? "the credential file"} (e.g. \`warrant auth application-default login\`, or a new key ` +
              "from `warrant iam service-accounts keys create`), or remove it so ADC moves on",
          ),
        );
    } else throw e;
  }
  return {
    section: { title: "Application Default Credentials (Google's libraries, warrant/client)", findings },
    ...(adc ? { adc } : {}),
  };
}

/** The metadata server: whether it answers, as whom, with which scopes. */
async function metadataSection(
  env: Env,
  available: string | true,
  adc?: ComputeCredential,
): Promise<Section> {
  const findings: Finding[] = [];
  const penv = env as NodeJS.ProcessEnv;
  const configured = env.GCE_METADATA_HOST || env.GCE_METADATA_IP;
  const url = metadataBaseUrl(penv);
  if (available !== true) {
    if (configured)
      findings.push(
        problem(
          `GCE_METADATA_HOST/GCE_METADATA_IP name ${url}, but no metadata server answers there (${available})`,
          "the instance's agent may be stopped: restart `warrant serve` (or `warrant agent`) and re-run " +
            '`eval "$(warrant env --instance NAME)"`, or unset GCE_METADATA_HOST GCE_METADATA_IP GCE_METADATA_ROOT',
        ),
      );
    else findings.push(info(`no metadata server at ${url} (${available}): this shell is not an instance`));
    return { title: "Metadata server", findings };
  }
  const c =
    adc ?? new ComputeCredential({ metadataUrl: url, retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 } });
  try {
    const [email, project, scopes] = await Promise.all([c.getEmail(), c.getProjectId(), c.getScopes()]);
    findings.push(ok(`${url} answers as ${email} (project ${project})`));
    findings.push(info(`scopes: ${scopes.join(" ") || "(none)"}`));
  } catch (e) {
    findings.push(
      problem(
        `${url} answers, but not as an instance with a service account: ${(e as Error).message}`,
        "attach a service account to the instance (`warrant compute instances set-service-account`)",
      ),
    );
  }
  if (configured && env.GCE_METADATA_ROOT === undefined)
    findings.push(
      problem(
        "GCE_METADATA_HOST is set but GCE_METADATA_ROOT is not: gcloud reads only GCE_METADATA_ROOT and will not find this metadata server",
        `export GCE_METADATA_ROOT=${url.replace(/^http:\/\//, "")}`,
      ),
    );
  return { title: "Metadata server", findings };
}

/** The identity's scopes and its roles on the default project. */
async function identitySection(rt: Runtime, session: Session, token: string | undefined): Promise<Section> {
  const findings: Finding[] = [];
  let endpoint: string;
  try {
    endpoint = session.endpoint();
  } catch {
    return { title: "Identity on the default project", findings: [info("skipped: no Warrant endpoint")] };
  }
  if (!token)
    return { title: "Identity on the default project", findings: [info("skipped: no working credential")] };
  const t = await tokenInfo(rt, endpoint, token);
  if (!t?.email) {
    findings.push(info("the server does not say whom the token belongs to"));
    return { title: "Identity on the default project", findings };
  }
  findings.push(info(`identity: ${t.email}`));
  findings.push(info(`token scopes: ${t.scope ?? "(none)"}`));
  const project = session.projectSource()?.value;
  if (!project) {
    findings.push(info("no default project: roles not checked"));
    return { title: "Identity on the default project", findings };
  }
  try {
    const res = await rt.fetch(`${endpoint}/v1/projects/${encodeURIComponent(project)}:getIamPolicy`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ options: { requestedPolicyVersion: 3 } }),
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { error?: { status?: string } };
      findings.push(
        info(
          `roles on projects/${project}: cannot read its IAM policy as ${t.email} (${res.status} ${body.error?.status ?? ""}`.trimEnd() +
            `); an admin sees them with \`warrant projects get-iam-policy ${project}\``,
        ),
      );
      // What the identity may do there, which needs no permission to ask.
      const held = await heldPermissions(rt, endpoint, token, project);
      if (held)
        findings.push(
          info(
            `permissions on projects/${project} (of ${COMMON_PERMISSIONS.length} common ones): ${held.join(", ") || "none"}`,
          ),
        );
    } else {
      const policy = (await res.json()) as { bindings?: { role: string; members?: string[] }[] };
      const members = new Set([`user:${t.email}`, `serviceAccount:${t.email}`]);
      const roles = (policy.bindings ?? [])
        .filter((b) => (b.members ?? []).some((m) => members.has(m)))
        .map((b) => b.role);
      if (roles.length) findings.push(ok(`roles on projects/${project}: ${[...new Set(roles)].join(", ")}`));
      else
        findings.push(
          problem(
            `${t.email} has no role of its own on projects/${project} (groups and inherited roles aside)`,
            `as an admin: \`warrant projects add-iam-policy-binding ${project} --member=${
              t.email.endsWith(".gserviceaccount.com") ? "serviceAccount" : "user"
            }:${t.email} --role=ROLE\``,
          ),
        );
    }
  } catch (e) {
    findings.push(info(`roles not checked: ${(e as Error).message}`));
  }
  if (t.date) {
    const skew = Math.round((Date.now() - Date.parse(t.date)) / 1000);
    if (Number.isNaN(skew)) findings.push(info("clock: the server sent no readable Date"));
    else if (Math.abs(skew) > MAX_SKEW_SECONDS)
      findings.push(
        problem(
          `clock: this machine is ${Math.abs(skew)} s ${skew > 0 ? "ahead of" : "behind"} the server ${endpoint}; signed assertions and token expiry are checked against the server's clock`,
          "synchronise the clock (`timedatectl set-ntp true`, or `chronyc makestep`)",
        ),
      );
    else findings.push(ok(`clock: within ${Math.max(1, Math.abs(skew))} s of the server's`));
  }
  return { title: "Identity on the default project", findings };
}

/** Permissions worth knowing about on a project; `testIamPermissions` says which the caller holds. */
const COMMON_PERMISSIONS = [
  "resourcemanager.projects.get",
  "resourcemanager.projects.getIamPolicy",
  "iam.serviceAccounts.list",
  "iam.serviceAccounts.getAccessToken",
  "compute.instances.list",
  "storage.buckets.list",
  "storage.buckets.create",
  "storage.objects.list",
  "storage.objects.get",
  "storage.objects.create",
];

async function heldPermissions(
  rt: Runtime,
  endpoint: string,
  token: string,
  project: string,
): Promise<string[] | undefined> {
  try {
    const res = await rt.fetch(`${endpoint}/v1/projects/${encodeURIComponent(project)}:testIamPermissions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ permissions: COMMON_PERMISSIONS }),
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { permissions?: string[] };
    return body.permissions ?? [];
  } catch {
    return undefined;
  }
}

/** Proxy and CA variables: consistent with each other and pointing at files that exist. */
function proxySection(env: Env, caHint?: { caFile?: string; caBundleFile?: string }): Section {
  const findings: Finding[] = [];
  const proxies = PROXY_VARS.filter((k) => env[k]);
  const cas = CA_VARS.filter(([k]) => env[k]);
  const fixProxy = caHint?.caFile
    ? `eval "$(warrant env --proxy)" (exports NODE_EXTRA_CA_CERTS=${caHint.caFile} and the bundle ${caHint.caBundleFile} for the others)`
    : 'eval "$(warrant env --proxy)" (exports the CA variables with the proxy), or unset the proxy variables';
  for (const [k] of cas) {
    const st = fileState(env[k]!);
    if (st !== "ok")
      findings.push(
        problem(
          `${k}=${env[k]} ${st === "missing" ? "does not exist" : `is ${st}`}: TLS connections from its readers fail`,
          `unset ${k}, or point it at a PEM file (\`warrant env --proxy\` prints the right ones)`,
        ),
      );
  }
  const https = env.HTTPS_PROXY ?? env.https_proxy;
  if (env.HTTPS_PROXY && env.https_proxy && env.HTTPS_PROXY !== env.https_proxy)
    findings.push(
      problem(
        `HTTPS_PROXY=${env.HTTPS_PROXY} and https_proxy=${env.https_proxy} differ: which one a client uses depends on the client`,
        "export both to the same URL (or unset one)",
      ),
    );
  if (proxies.length === 0) {
    findings.push(
      info(`no proxy variable set${cas.length ? `; CA variables: ${cas.map(([k]) => k).join(", ")}` : ""}`),
    );
    return { title: "Proxy and CA", findings };
  }
  findings.push(info(`proxy: ${proxies.map((k) => `${k}=${env[k]}`).join(", ")}`));
  if (cas.length === 0)
    findings.push(
      problem(
        `${proxies.join("/")} is set but no CA variable is (${CA_VARS.map(([k]) => k).join(", ")}): clients will refuse the interception proxy's certificates ("self-signed certificate in certificate chain", CERTIFICATE_VERIFY_FAILED)`,
        fixProxy,
      ),
    );
  else {
    const missing = CA_VARS.filter(([k]) => !env[k]);
    if (https && missing.length)
      findings.push(
        problem(
          `the proxy is set and ${cas.map(([k]) => k).join(", ")} too, but not ${missing
            .map(([k, who]) => `${k} (${who})`)
            .join(", ")}: those clients will refuse the proxy's certificates`,
          fixProxy,
        ),
      );
    else findings.push(ok(`CA variables for every runtime: ${cas.map(([k]) => k).join(", ")}`));
  }
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? "").split(",").map((s) => s.trim());
  if (!noProxy.includes("127.0.0.1") && !noProxy.includes("localhost"))
    findings.push(
      problem(
        "NO_PROXY does not list 127.0.0.1/localhost: requests to Warrant's endpoint and metadata servers go through the proxy",
        "export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost",
      ),
    );
  return { title: "Proxy and CA", findings };
}

/** gcloud's view: the same questions through the CLOUDSDK_* variables it reads. */
async function gcloudSection(rt: Runtime, session: Session): Promise<Section> {
  const env = rt.env;
  const findings: Finding[] = [];
  const configDir = env.CLOUDSDK_CONFIG || join(env.HOME || "~", ".config", "gcloud");
  findings.push(
    info(`configuration directory: ${configDir}${env.CLOUDSDK_CONFIG ? " (CLOUDSDK_CONFIG)" : ""}`),
  );
  if (env.CLOUDSDK_CONFIG && !existsSync(env.CLOUDSDK_CONFIG))
    findings.push(
      problem(
        `CLOUDSDK_CONFIG=${env.CLOUDSDK_CONFIG} does not exist: gcloud starts from an empty configuration there`,
        'create it (`mkdir -p "$CLOUDSDK_CONFIG"`) or unset CLOUDSDK_CONFIG',
      ),
    );
  // gcloud's credential order: an access-token file, a credential-file override, the active
  // account's stored credential, else (on an instance) the metadata server at GCE_METADATA_ROOT.
  const tokenFile = env.CLOUDSDK_AUTH_ACCESS_TOKEN_FILE;
  const override = env.CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE;
  if (tokenFile) {
    const st = fileState(tokenFile);
    if (st !== "ok")
      findings.push(
        problem(
          `CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=${tokenFile} ${st === "missing" ? "does not exist" : `is ${st}`}: every gcloud command fails`,
          'run `eval "$(warrant env --gcloud)"` again (it writes a fresh token), or unset CLOUDSDK_AUTH_ACCESS_TOKEN_FILE',
        ),
      );
    else {
      let live: boolean | undefined;
      try {
        const t = await tokenInfo(rt, session.endpoint(), readFileSync(tokenFile, "utf8").trim());
        live = t !== undefined;
      } catch {
        live = undefined;
      }
      if (live === false)
        findings.push(
          problem(
            `gcloud uses the access token in ${tokenFile} (CLOUDSDK_AUTH_ACCESS_TOKEN_FILE), which the server no longer accepts (expired or revoked)`,
            'run `eval "$(warrant env --gcloud)"` again: it writes a fresh token',
          ),
        );
      else
        findings.push(ok(`gcloud uses: the access token in ${tokenFile} (CLOUDSDK_AUTH_ACCESS_TOKEN_FILE)`));
    }
  } else if (override) {
    const st = fileState(override);
    if (st !== "ok")
      findings.push(
        problem(
          `CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE=${override} ${st === "missing" ? "does not exist" : `is ${st}`}`,
          "unset it or point it at a key file",
        ),
      );
    else
      findings.push(
        ok(
          `gcloud uses: ${override} (CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE), ${describeCredentialFile(override)}`,
        ),
      );
  } else if (env.CLOUDSDK_CORE_ACCOUNT) {
    findings.push(
      info(`gcloud uses: the stored credential of ${env.CLOUDSDK_CORE_ACCOUNT} (CLOUDSDK_CORE_ACCOUNT)`),
    );
  } else if (env.GCE_METADATA_ROOT) {
    const root = env.GCE_METADATA_ROOT;
    const available = await metadataServerAvailable({ GCE_METADATA_HOST: root } as NodeJS.ProcessEnv);
    if (available === true)
      findings.push(ok(`gcloud uses: the metadata server at ${root} (GCE_METADATA_ROOT)`));
    else
      findings.push(
        problem(
          `GCE_METADATA_ROOT=${root} but no metadata server answers there (${available})`,
          're-run `eval "$(warrant env --instance NAME)"` with the server running, or unset GCE_METADATA_ROOT',
        ),
      );
  } else
    findings.push(
      info(
        "gcloud uses: its active account from `gcloud auth login`, if any (no CLOUDSDK_AUTH_* variable set)",
      ),
    );

  const overrides = Object.keys(env)
    .filter((k) => k.startsWith("CLOUDSDK_API_ENDPOINT_OVERRIDES_") && env[k])
    .sort();
  let endpoint: string | undefined;
  try {
    endpoint = session.endpoint();
  } catch {
    endpoint = undefined;
  }
  if (overrides.length === 0) {
    if (tokenFile || env.GCE_METADATA_ROOT)
      findings.push(
        problem(
          "no CLOUDSDK_API_ENDPOINT_OVERRIDES_* variable is set: gcloud sends its API calls to Google, not to Warrant",
          'eval "$(warrant env --gcloud)"',
        ),
      );
  } else {
    const elsewhere = endpoint
      ? overrides.filter((k) => !env[k]!.replace(/\/+$/, "").startsWith(endpoint.replace(/\/+$/, "")))
      : [];
    if (elsewhere.length)
      findings.push(
        problem(
          `${elsewhere.map((k) => `${k}=${env[k]}`).join(", ")} point${elsewhere.length === 1 ? "s" : ""} elsewhere than the endpoint ${endpoint} (stale?)`,
          'eval "$(warrant env --gcloud)" to point gcloud at the running server',
        ),
      );
    else
      findings.push(
        ok(
          `API endpoint overrides: ${overrides.map((k) => k.replace("CLOUDSDK_API_ENDPOINT_OVERRIDES_", "")).join(", ")}${endpoint ? ` → ${endpoint}` : ""}`,
        ),
      );
  }
  if (env.CLOUDSDK_CORE_PROJECT) {
    const p = session.projectSource();
    findings.push(info(`project: ${env.CLOUDSDK_CORE_PROJECT} (CLOUDSDK_CORE_PROJECT)`));
    if (p && p.value !== env.CLOUDSDK_CORE_PROJECT && p.from !== "CLOUDSDK_CORE_PROJECT")
      findings.push(
        problem(
          `gcloud's project ${env.CLOUDSDK_CORE_PROJECT} differs from warrant's ${p.value} (${p.from})`,
          `export CLOUDSDK_CORE_PROJECT=${p.value} (or the other way round)`,
        ),
      );
  }
  const proxyParts = ["CLOUDSDK_PROXY_TYPE", "CLOUDSDK_PROXY_ADDRESS", "CLOUDSDK_PROXY_PORT"];
  const setParts = proxyParts.filter((k) => env[k]);
  if (setParts.length && setParts.length < proxyParts.length)
    findings.push(
      problem(
        `${setParts.join(", ")} set without ${proxyParts.filter((k) => !env[k]).join(", ")}: gcloud ignores an incomplete proxy`,
        "set all three, or unset them and rely on HTTPS_PROXY",
      ),
    );
  if ((env.HTTPS_PROXY || env.https_proxy || setParts.length) && !env.CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE)
    findings.push(
      problem(
        "a proxy is set for gcloud but CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE is not: gcloud will refuse the proxy's certificate",
        'eval "$(warrant env --proxy)" (exports CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE with the CA bundle)',
      ),
    );
  return { title: "gcloud (CLOUDSDK_*)", findings };
}

export async function runDoctor(rt: Runtime, session: Session): Promise<Section[]> {
  const cli = await cliSection(rt, session);
  const mds = await metadataServerAvailable(rt.env as NodeJS.ProcessEnv);
  const adc = await adcSection(rt.env, mds);
  let caHint: { caFile?: string; caBundleFile?: string } | undefined;
  try {
    const si = session.serverInfo();
    if (si?.caFile)
      caHint = { caFile: si.caFile, ...(si.caBundleFile ? { caBundleFile: si.caBundleFile } : {}) };
  } catch {
    caHint = undefined;
  }
  return [
    cli.section,
    adc.section,
    await metadataSection(rt.env, mds, adc.adc),
    await identitySection(rt, session, cli.token),
    proxySection(rt.env, caHint),
    await gcloudSection(rt, session),
  ];
}

const MARK = { ok: "ok     ", info: "       ", problem: "PROBLEM" } as const;

export function renderDoctor(sections: Section[]): string {
  let out = "";
  for (const s of sections) {
    out += `${s.title}\n`;
    for (const f of s.findings) {
      out += `  ${MARK[f.level]} ${f.text}\n`;
      if (f.fix) out += `          fix: ${f.fix}\n`;
    }
    out += "\n";
  }
  const problems = sections.flatMap((s) => s.findings).filter((f) => f.level === "problem");
  out += problems.length
    ? `${problems.length} problem${problems.length === 1 ? "" : "s"} found.\n`
    : "No problems found.\n";
  return out;
}
