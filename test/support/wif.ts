/** Workload identity federation fixtures: a pool and OIDC provider on a test issuer, and the STS call. */
import type { Harness, Reply } from "./harness.js";
import type { Issuer } from "./oidc-issuer.js";

export const PROJECT = "demo-project";
export const wipBase = (project = PROJECT) =>
  `/v1/projects/${project}/locations/global/workloadIdentityPools`;

export interface Federation {
  projectNumber: string;
  /** `projects/NUMBER/locations/global/workloadIdentityPools/POOL`. */
  pool: string;
  /** The provider's resource name. */
  provider: string;
  /** The STS audience: `//iam.googleapis.com/` + the provider's name. */
  audience: string;
}

export async function projectNumber(h: Harness, project = PROJECT): Promise<string> {
  const r = await h.call("GET", `/v1/projects/${project}`);
  if (r.status !== 200) throw new Error(r.text);
  return r.body.projectNumber;
}

/** Creates pool `poolId` and provider `providerId` (OIDC on `issuer`, mapping sub, repository, groups). */
export async function createFederation(
  h: Harness,
  issuer: Issuer,
  opts: {
    poolId?: string;
    providerId?: string;
    attributeCondition?: string;
    inlineJwks?: boolean;
    allowedAudiences?: string[];
    attributeMapping?: Record<string, string>;
  } = {},
): Promise<Federation> {
  const poolId = opts.poolId ?? "ci-pool";
  const providerId = opts.providerId ?? "ci-oidc";
  const number = await projectNumber(h);
  const pool = await h.call("POST", `${wipBase()}?workloadIdentityPoolId=${poolId}`, {
    body: { displayName: "CI", disabled: false },
  });
  if (pool.status !== 200 && pool.status !== 409) throw new Error(pool.text);
  const prov = await h.call(
    "POST",
    `${wipBase()}/${poolId}/providers?workloadIdentityPoolProviderId=${providerId}`,
    {
      body: {
        disabled: false,
        attributeMapping: opts.attributeMapping ?? {
          "google.subject": "assertion.sub",
          "google.groups": "assertion.groups",
          "attribute.repository": "assertion.repository",
        },
        ...(opts.attributeCondition ? { attributeCondition: opts.attributeCondition } : {}),
        oidc: {
          issuerUri: issuer.url,
          ...(opts.allowedAudiences ? { allowedAudiences: opts.allowedAudiences } : {}),
          ...(opts.inlineJwks ? { jwksJson: `${JSON.stringify(issuer.jwks())}\n` } : {}),
        },
      },
    },
  );
  if (prov.status !== 200) throw new Error(prov.text);
  const poolName = `projects/${number}/locations/global/workloadIdentityPools/${poolId}`;
  const provider = `${poolName}/providers/${providerId}`;
  return { projectNumber: number, pool: poolName, provider, audience: `//iam.googleapis.com/${provider}` };
}

/** Posts an RFC 8693 exchange to Warrant's STS, form-encoded as the clients do. */
export async function exchange(h: Harness, fields: Record<string, string>): Promise<Reply> {
  const res = await fetch(`${h.url}/v1/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      scope: "https://www.googleapis.com/auth/cloud-platform",
      ...fields,
    }),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body, text };
}

/** Binds `member` to `role` on bucket `bucket` (read-modify-write of the bucket's policy). */
export async function bindOnBucket(h: Harness, bucket: string, role: string, member: string) {
  const p = await h.call("GET", `/storage/v1/b/${bucket}/iam`);
  if (p.status !== 200) throw new Error(p.text);
  const bindings = [...(p.body.bindings ?? []), { role, members: [member] }];
  const r = await h.call("PUT", `/storage/v1/b/${bucket}/iam`, { body: { bindings, etag: p.body.etag } });
  if (r.status !== 200) throw new Error(r.text);
}

export async function createBucket(h: Harness, name: string) {
  const r = await h.call("POST", `/storage/v1/b?project=${PROJECT}`, { body: { name } });
  if (r.status !== 200) throw new Error(r.text);
  const o = await h.call("POST", `/upload/storage/v1/b/${name}/o?uploadType=media&name=hello.txt`, {
    body: "hello",
    headers: { "content-type": "text/plain" },
  });
  if (o.status !== 200) throw new Error(o.text);
}

/**
 * The STS refusals in audit.log, once at least `atLeast` are there: the audit sink appends
 * asynchronously, so a test polls (up to 5 s) rather than reading right after the responses.
 */
export async function refusedExchanges(h: Harness, atLeast: number): Promise<Record<string, unknown>[]> {
  const { readFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const deadline = Date.now() + 5000;
  for (;;) {
    const entries = readFileSync(join(h.stateDir, "audit.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.kind === "token" && e.grant === "token-exchange" && e.outcome === "refused");
    if (entries.length >= atLeast || Date.now() > deadline) return entries;
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

/**
 * The two ways the compat tests' federated workload reaches Cloud Storage: directly, through a
 * principalSet binding of the repository `org/app` on bucket `allowed`; and by impersonating a new
 * service account `accountId`, which `impersonator` may act as (roles/iam.workloadIdentityUser)
 * and which may read bucket `viaAccount`. Both buckets are created, each holding `hello.txt`.
 * Returns the account's e-mail.
 */
export async function grantFederatedAccess(
  h: Harness,
  fed: Federation,
  opts: { allowed: string; viaAccount: string; accountId: string; impersonator: string },
): Promise<string> {
  await createBucket(h, opts.allowed);
  await createBucket(h, opts.viaAccount);
  await bindOnBucket(
    h,
    opts.allowed,
    "roles/storage.objectViewer",
    `principalSet://iam.googleapis.com/${fed.pool}/attribute.repository/org/app`,
  );
  const email = `${opts.accountId}@${PROJECT}.iam.gserviceaccount.com`;
  const c = await h.call("POST", `/v1/projects/${PROJECT}/serviceAccounts`, {
    body: { accountId: opts.accountId },
  });
  if (c.status !== 200) throw new Error(c.text);
  const set = await h.call("POST", `/v1/projects/${PROJECT}/serviceAccounts/${email}:setIamPolicy`, {
    body: {
      policy: { bindings: [{ role: "roles/iam.workloadIdentityUser", members: [opts.impersonator] }] },
    },
  });
  if (set.status !== 200) throw new Error(set.text);
  await bindOnBucket(h, opts.viaAccount, "roles/storage.objectViewer", `serviceAccount:${email}`);
  return email;
}
