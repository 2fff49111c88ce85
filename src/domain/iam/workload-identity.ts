/**
 * Workload Identity Federation: pools, OIDC providers, attribute mapping and conditions (CEL), in
 * IAM v1's REST shapes. Pure: validation, rendering and the evaluation of a verified subject
 * token's claims into a federated principal. Verifying the token itself is `tokens/subject-token.ts`.
 */
import { isCelError, isCelList, isCelMap, parse, run } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { MAX_FEDERATED_SUBJECT_BYTES } from "./members.js";
import type { FederatedPrincipal } from "./principal.js";

/** Pool and provider ids: 4–32 of `[a-z0-9-]`; the `gcp-` prefix is reserved. */
const ID = /^[a-z0-9-]{4,32}$/;
export const SOFT_DELETE_DAYS = 30;
const MAX_AUDIENCES = 10;
const MAX_MAPPING_EXPR = 2048;
const MAX_CONDITION = 4096;
const MAX_CUSTOM_ATTRIBUTES = 50;
const ATTRIBUTE_KEY = /^(google\.subject|google\.groups|attribute\.[a-z0-9_]{1,100})$/;
/** All mapped values of one identity together: they travel inside its access token. */
export const MAX_MAPPED_BYTES = 4096;

export interface WorkloadIdentityPool {
  /** `projects/NUMBER/locations/global/workloadIdentityPools/ID`. */
  name: string;
  projectId: string;
  projectNumber: string;
  poolId: string;
  /** Fixed at creation: tokens carry it, so a re-created pool of the same id never honours them. */
  uid: string;
  displayName?: string;
  description?: string;
  disabled: boolean;
  state: "ACTIVE" | "DELETED";
  expireTime?: string;
  sessionDuration?: string;
}

export interface OidcConfig {
  issuerUri: string;
  allowedAudiences?: string[];
  jwksJson?: string;
}

export interface WorkloadIdentityPoolProvider {
  /** `projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/ID`. */
  name: string;
  providerId: string;
  displayName?: string;
  description?: string;
  disabled: boolean;
  state: "ACTIVE" | "DELETED";
  expireTime?: string;
  attributeMapping: Record<string, string>;
  attributeCondition?: string;
  oidc: OidcConfig;
  /** Changes on every update: caches of the provider's keys are keyed by it. */
  etag: string;
}

export function idProblem(what: "pool" | "provider", id: unknown): string | null {
  if (typeof id !== "string" || !ID.test(id))
    return `Invalid ${what} id ${JSON.stringify(id)}: it must be 4 to 32 lowercase letters, digits or hyphens.`;
  if (id.startsWith("gcp-")) return `Invalid ${what} id '${id}': the prefix gcp- is reserved.`;
  return null;
}

export const poolName = (projectNumber: string, poolId: string) =>
  `projects/${projectNumber}/locations/global/workloadIdentityPools/${poolId}`;

const optionalText = (v: unknown, field: string, max: number): string | null => {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") return `${field} must be a string.`;
  if (v.length > max) return `${field} must be at most ${max} characters.`;
  return null;
};

/** `"3600s"` within 2 min–12 h, Google's bounds for a pool's sessionDuration. */
function durationProblem(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const m = typeof v === "string" ? /^(\d+)s$/.exec(v) : null;
  if (!m) return `sessionDuration must be a duration like "3600s".`;
  const s = Number(m[1]);
  if (s < 120 || s > 43200) return "sessionDuration must be between 120s and 43200s.";
  return null;
}

/** The writable fields of a pool, validated; `fields` limits which are read (an update mask). */
export function poolFields(
  input: Record<string, unknown>,
  fields: readonly string[] = ["displayName", "description", "disabled", "sessionDuration"],
): Partial<WorkloadIdentityPool> | string {
  const out: Partial<WorkloadIdentityPool> = {};
  for (const f of fields) {
    const v = input[f];
    if (f === "displayName" || f === "description") {
      const p = optionalText(v, f, f === "displayName" ? 32 : 256);
      if (p) return p;
      if (typeof v === "string") out[f] = v;
      else out[f] = undefined;
    } else if (f === "disabled") {
      if (v !== undefined && v !== null && typeof v !== "boolean") return "disabled must be a boolean.";
      out.disabled = v === true;
    } else if (f === "sessionDuration") {
      const p = durationProblem(v);
      if (p) return p;
      out.sessionDuration = typeof v === "string" ? v : undefined;
    } else return `Field '${f}' cannot be updated.`;
  }
  return out;
}

export const PROVIDER_FIELDS = [
  "displayName",
  "description",
  "disabled",
  "attributeMapping",
  "attributeCondition",
  "oidc",
  "oidc.issuerUri",
  "oidc.allowedAudiences",
  "oidc.jwksJson",
] as const;

/** Whether the issuer may be fetched over plain HTTP: loopback only (tests, a local issuer). */
function isLoopbackHost(host: string) {
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function celProblem(expr: string, what: string): string | null {
  try {
    parse(expr);
    return null;
  } catch (err) {
    return `${what} is not valid CEL: ${(err as Error).message}`;
  }
}

/**
 * Checks a JWKS document: `{"keys":[{kty RSA|EC, kid, …}]}`. Given inline (`lenient` false) every key
 * must be usable; fetched from an issuer (`lenient`), keys of other types are skipped.
 */
export function parseJwks(text: string, lenient = false): JsonWebKeySet | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return "oidc.jwksJson is not valid JSON.";
  }
  let keys = (doc as { keys?: unknown })?.keys;
  const usable = (k: unknown) =>
    k !== null && typeof k === "object" && ["RSA", "EC"].includes((k as { kty?: unknown }).kty as string);
  if (lenient && Array.isArray(keys)) keys = keys.filter(usable);
  if (!Array.isArray(keys) || keys.length === 0)
    return 'oidc.jwksJson must be {"keys": [...]} with at least one RSA or EC key.';
  for (const k of keys) {
    if (k === null || typeof k !== "object") return "oidc.jwksJson: each key must be an object.";
    const { kty, kid } = k as Record<string, unknown>;
    if (kty !== "RSA" && kty !== "EC") return "oidc.jwksJson: each key's kty must be RSA or EC.";
    if (typeof kid !== "string" || kid === "") return "oidc.jwksJson: each key needs a kid.";
    if ("d" in k) return "oidc.jwksJson must hold public keys only.";
  }
  return { keys: keys as JsonWebKey[] };
}

export interface JsonWebKeySet {
  keys: (JsonWebKey & { kid?: string })[];
}

/** Validates the provider fields named by `fields` and merges them over `base`. */
export function mergeProvider(
  base: Omit<WorkloadIdentityPoolProvider, "etag" | "name" | "providerId" | "state">,
  input: Record<string, unknown>,
  fields: readonly string[],
): Omit<WorkloadIdentityPoolProvider, "etag" | "name" | "providerId" | "state"> | string {
  const out = { ...base, oidc: { ...base.oidc } };
  const oidcIn = input.oidc;
  if (oidcIn !== undefined && oidcIn !== null && (typeof oidcIn !== "object" || Array.isArray(oidcIn)))
    return "oidc must be an object.";
  const oidc = (oidcIn ?? {}) as Record<string, unknown>;
  if (input.saml !== undefined || input.aws !== undefined || input.x509 !== undefined)
    return "Only OIDC providers are supported.";
  for (const f of fields) {
    switch (f) {
      case "displayName":
      case "description": {
        const v = input[f];
        const p = optionalText(v, f, f === "displayName" ? 32 : 256);
        if (p) return p;
        out[f] = typeof v === "string" ? v : undefined;
        break;
      }
      case "disabled":
        if (input.disabled !== undefined && input.disabled !== null && typeof input.disabled !== "boolean")
          return "disabled must be a boolean.";
        out.disabled = input.disabled === true;
        break;
      case "attributeMapping": {
        const m = input.attributeMapping;
        if (m === null || typeof m !== "object" || Array.isArray(m))
          return "attributeMapping must be a map of attribute to CEL expression.";
        out.attributeMapping = m as Record<string, string>;
        break;
      }
      case "attributeCondition": {
        const c = input.attributeCondition;
        if (c !== undefined && c !== null && typeof c !== "string")
          return "attributeCondition must be a string.";
        out.attributeCondition = typeof c === "string" && c.trim() !== "" ? c : undefined;
        break;
      }
      case "oidc":
        for (const g of ["issuerUri", "allowedAudiences", "jwksJson"] as const)
          if (g in oidc) (out.oidc as unknown as Record<string, unknown>)[g] = oidc[g];
        break;
      case "oidc.issuerUri":
      case "oidc.allowedAudiences":
      case "oidc.jwksJson": {
        const g = f.slice(5) as "issuerUri" | "allowedAudiences" | "jwksJson";
        (out.oidc as unknown as Record<string, unknown>)[g] = oidc[g];
        break;
      }
      default:
        return `Field '${f}' cannot be updated.`;
    }
  }
  return checkProvider(out);
}

function checkProvider<
  T extends Omit<WorkloadIdentityPoolProvider, "etag" | "name" | "providerId" | "state">,
>(p: T): T | string {
  const mapping = p.attributeMapping;
  const keys = Object.keys(mapping);
  if (!keys.includes("google.subject"))
    return 'attributeMapping must map google.subject (for example {"google.subject": "assertion.sub"}).';
  if (keys.filter((k) => k.startsWith("attribute.")).length > MAX_CUSTOM_ATTRIBUTES)
    return `attributeMapping: at most ${MAX_CUSTOM_ATTRIBUTES} custom attributes.`;
  for (const [k, v] of Object.entries(mapping)) {
    if (!ATTRIBUTE_KEY.test(k))
      return `attributeMapping: invalid attribute '${k}': use google.subject, google.groups or attribute.NAME (NAME: up to 100 of [a-z0-9_]).`;
    if (typeof v !== "string" || v.trim() === "") return `attributeMapping['${k}'] must be a CEL expression.`;
    if (v.length > MAX_MAPPING_EXPR)
      return `attributeMapping['${k}'] is longer than ${MAX_MAPPING_EXPR} characters.`;
    const e = celProblem(v, `attributeMapping['${k}']`);
    if (e) return e;
  }
  if (p.attributeCondition !== undefined) {
    if (p.attributeCondition.length > MAX_CONDITION)
      return `attributeCondition is longer than ${MAX_CONDITION} characters.`;
    const e = celProblem(p.attributeCondition, "attributeCondition");
    if (e) return e;
  }
  const o = p.oidc as unknown as Record<string, unknown>;
  if (typeof o.issuerUri !== "string" || o.issuerUri === "") return "oidc.issuerUri is required.";
  let url: URL;
  try {
    url = new URL(o.issuerUri);
  } catch {
    return `oidc.issuerUri '${o.issuerUri}' is not a URL.`;
  }
  if (
    url.protocol !== "https:" &&
    !(url.protocol === "http:" && isLoopbackHost(url.host.replace(/:\d+$/, "")))
  )
    return "oidc.issuerUri must be an https URL (plain http only on a loopback address).";
  if (o.allowedAudiences === null) delete o.allowedAudiences;
  if (o.allowedAudiences !== undefined) {
    const a = o.allowedAudiences;
    if (!Array.isArray(a) || a.some((x) => typeof x !== "string" || x === "" || x.length > 256))
      return "oidc.allowedAudiences must be a list of non-empty strings of at most 256 characters.";
    if (a.length > MAX_AUDIENCES) return `oidc.allowedAudiences: at most ${MAX_AUDIENCES} audiences.`;
    if (a.length === 0) delete o.allowedAudiences;
  }
  if (o.jwksJson === null || o.jwksJson === "") delete o.jwksJson;
  if (o.jwksJson !== undefined) {
    if (typeof o.jwksJson !== "string") return "oidc.jwksJson must be a string holding a JWKS document.";
    const jwks = parseJwks(o.jwksJson);
    if (typeof jwks === "string") return jwks;
  }
  for (const k of Object.keys(o))
    if (!["issuerUri", "allowedAudiences", "jwksJson"].includes(k)) return `oidc.${k} is not supported.`;
  return p;
}

const withOptional = <T extends object>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

export function renderPool(p: WorkloadIdentityPool) {
  return withOptional({
    name: p.name,
    displayName: p.displayName,
    description: p.description,
    state: p.state,
    disabled: p.disabled,
    expireTime: p.expireTime,
    sessionDuration: p.sessionDuration,
    mode: "FEDERATION_ONLY",
  });
}

export function renderProvider(p: WorkloadIdentityPoolProvider) {
  return withOptional({
    name: p.name,
    displayName: p.displayName,
    description: p.description,
    state: p.state,
    disabled: p.disabled,
    expireTime: p.expireTime,
    attributeMapping: p.attributeMapping,
    attributeCondition: p.attributeCondition,
    oidc: withOptional(p.oidc),
  });
}

/** Whether the subject token's `aud` is one the provider accepts (spec: allowedAudiences, else its own name). */
export function providerAudienceMatcher(
  provider: Pick<WorkloadIdentityPoolProvider, "name" | "oidc">,
  projectId: string,
  projectNumber: string,
): (aud: string) => boolean {
  const allowed = provider.oidc.allowedAudiences;
  if (allowed?.length) return (aud) => allowed.includes(aud);
  const byNumber = provider.name;
  const byId = byNumber.replace(/^projects\/\d+\//, `projects/${projectId}/`);
  const accepted = new Set(
    [byNumber, byId].flatMap((n) => [`//iam.googleapis.com/${n}`, `https://iam.googleapis.com/${n}`]),
  );
  void projectNumber;
  return (aud) => accepted.has(aud);
}

/** Why a subject token's claims do not make an identity of the pool; `reason` is safe to show the caller. */
export class MappingRefused extends Error {
  override name = "MappingRefused";
}

type Cel = unknown;

function toCel(v: unknown): Cel {
  if (Array.isArray(v)) return v.map(toCel);
  if (v !== null && typeof v === "object")
    return new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toCel(x)]));
  return v;
}

function fromCel(v: unknown): unknown {
  if (isCelList(v)) return [...(v as Iterable<unknown>)].map(fromCel);
  if (isCelMap(v)) return "[map]";
  if (typeof v === "bigint") return v.toString();
  return v;
}

function evaluate(expr: string, bindings: Record<string, unknown>): unknown {
  const r = run(expr, bindings as Record<string, never>, { funcs: strings });
  if (isCelError(r)) throw new MappingRefused(r.message);
  return fromCel(r);
}

const asText = (v: unknown): string | null =>
  typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : null;

/**
 * Applies the provider's attribute mapping and condition to verified claims: the federated
 * principal, or MappingRefused naming the problem (missing or oversized subject, a mapping or
 * the condition that fails to evaluate, a condition that is false).
 */
export function mapIdentity(
  provider: Pick<WorkloadIdentityPoolProvider, "attributeMapping" | "attributeCondition">,
  pool: string,
  claims: Record<string, unknown>,
): FederatedPrincipal {
  const assertion = toCel(claims);
  let subject: string | undefined;
  let groups: string[] = [];
  const attributes: Record<string, string | string[]> = {};
  for (const [key, expr] of Object.entries(provider.attributeMapping)) {
    let value: unknown;
    try {
      value = evaluate(expr, { assertion });
    } catch (err) {
      if (key === "google.subject")
        throw new MappingRefused(`the mapping of google.subject (${expr}) failed: ${(err as Error).message}`);
      continue; // an attribute whose claim is absent is simply not set
    }
    if (value === null || value === undefined) continue;
    if (key === "google.subject") {
      const s = asText(value);
      if (s === null) throw new MappingRefused(`google.subject (${expr}) must map to a string`);
      subject = s;
    } else if (key === "google.groups") {
      const list = Array.isArray(value) ? value : [value];
      groups = list.map(asText).filter((g): g is string => g !== null);
    } else {
      const name = key.slice("attribute.".length);
      if (Array.isArray(value)) attributes[name] = value.map(asText).filter((g): g is string => g !== null);
      else {
        const s = asText(value);
        if (s !== null) attributes[name] = s;
      }
    }
  }
  if (subject === undefined || subject === "")
    throw new MappingRefused("the subject token has no value for the mapped google.subject");
  if (Buffer.byteLength(subject) > MAX_FEDERATED_SUBJECT_BYTES)
    throw new MappingRefused(
      `the mapped google.subject is ${Buffer.byteLength(subject)} bytes, over the limit of ${MAX_FEDERATED_SUBJECT_BYTES}`,
    );
  if (Buffer.byteLength(JSON.stringify({ groups, attributes })) > MAX_MAPPED_BYTES)
    throw new MappingRefused(`the mapped attributes exceed ${MAX_MAPPED_BYTES} bytes`);
  if (provider.attributeCondition !== undefined) {
    const google = new Map<string, unknown>([
      ["subject", subject],
      ["groups", groups],
    ]);
    let ok: unknown;
    try {
      ok = evaluate(provider.attributeCondition, { assertion, google, attribute: toCel(attributes) });
    } catch (err) {
      throw new MappingRefused(`the attribute condition could not be evaluated: ${(err as Error).message}`);
    }
    if (typeof ok !== "boolean") throw new MappingRefused("the attribute condition did not return a boolean");
    if (!ok)
      throw new MappingRefused(
        `the attribute condition (${provider.attributeCondition}) is false for this token`,
      );
  }
  return { kind: "federated", pool, subject, poolGroups: groups, attributes, groups: [] };
}
