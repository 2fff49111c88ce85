/**
 * What the STS exchange and the bearer authenticator need about workload identity federation,
 * kept off the datastore's hot path:
 *  - whether a pool is active (cached at most `poolTtlMs`, so a disabled or deleted pool stops its
 *    tokens within that bound);
 *  - each OIDC provider's verification keys: its inline `jwksJson`, or the JWKS named by its
 *    issuer's discovery document. Fetched keys are cached per provider *and* its etag (never
 *    shared between providers, even of the same issuer), and refetched at most every
 *    `refetchMs` when a token names an unknown kid.
 */
import type { Repositories } from "../../datastore/repositories.js";
import {
  type JsonWebKeySet,
  parseJwks,
  type WorkloadIdentityPoolProvider,
} from "../../domain/iam/workload-identity.js";

export const MAX_DISCOVERY_BYTES = 256 * 1024;

export class ProviderKeysUnavailable extends Error {
  override name = "ProviderKeysUnavailable";
}

/**
 * GETs a JSON document from an identity provider: no redirects, a timeout, at most
 * MAX_DISCOVERY_BYTES read (an issuer cannot make this server buffer without bound). Failures are
 * ProviderKeysUnavailable with a message naming the URL. Also used by the upstream SSO sign-in.
 */
export async function fetchJsonBounded(
  url: string,
  timeoutMs = 5000,
  init: RequestInit = {},
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      redirect: "error",
      signal: AbortSignal.timeout(timeoutMs),
      ...init,
      headers: { accept: "application/json", ...(init.headers as Record<string, string> | undefined) },
    });
  } catch (err) {
    throw new ProviderKeysUnavailable(`could not fetch ${url}: ${(err as Error).message}`);
  }
  // A token endpoint's error answer is JSON with a 4xx, which the caller reads; otherwise only 200.
  const postError = init.method === "POST" && res.status >= 400 && res.status < 500;
  if (res.status !== 200 && !postError) throw new ProviderKeysUnavailable(`${url} answered ${res.status}`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += (chunk as Uint8Array).byteLength;
      if (size > MAX_DISCOVERY_BYTES) {
        await res.body?.cancel().catch(() => {});
        throw new ProviderKeysUnavailable(`${url} is larger than ${MAX_DISCOVERY_BYTES} bytes`);
      }
      chunks.push(Buffer.from(chunk as Uint8Array));
    }
  } catch (err) {
    if (err instanceof ProviderKeysUnavailable) throw err;
    throw new ProviderKeysUnavailable(`could not read ${url}: ${(err as Error).message}`);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    throw new ProviderKeysUnavailable(`${url} is not JSON`);
  }
}

interface CachedKeys {
  keys: JsonWebKeySet;
  fetchedAt: number;
}

export class WorkloadIdentityDirectory {
  private readonly pools = new Map<string, { active: boolean; uid?: string; at: number }>();
  private readonly keys = new Map<string, CachedKeys>();
  /** A failed fetch is remembered briefly: STS requests must not turn into a flood of outbound fetches. */
  private readonly failures = new Map<string, { error: ProviderKeysUnavailable; at: number }>();

  constructor(
    private readonly repos: Repositories,
    private readonly opts: {
      poolTtlMs?: number;
      keysTtlMs?: number;
      refetchMs?: number;
      failureTtlMs?: number;
      fetchTimeoutMs?: number;
    } = {},
  ) {}

  /** Whether the pool exists, is neither disabled nor deleted, and has unique id `uid`. */
  async poolAccepts(name: string, uid: string | undefined): Promise<boolean> {
    const now = Date.now();
    const hit = this.pools.get(name);
    let entry = hit && now - hit.at < (this.opts.poolTtlMs ?? 5000) ? hit : undefined;
    if (!entry) {
      const pool = await this.repos.workloadIdentityPools.get(name);
      entry = {
        active: !!pool && pool.state === "ACTIVE" && !pool.disabled,
        ...(pool ? { uid: pool.uid } : {}),
        at: now,
      };
      if (this.pools.size > 10_000) this.pools.clear();
      this.pools.set(name, entry);
    }
    return entry.active && entry.uid === uid;
  }

  /** Drops the cached state of a pool this process (or, through the change feed, another node) changed. */
  poolChanged(name: string) {
    this.pools.delete(name);
  }

  /** Changes may have been missed: every pool's state is read again. */
  forgetAllPools() {
    this.pools.clear();
  }

  /** The provider's keys; `refresh` asks for a refetch (a token named an unknown kid). */
  async keysFor(p: WorkloadIdentityPoolProvider, refresh = false): Promise<JsonWebKeySet> {
    if (p.oidc.jwksJson !== undefined) {
      const jwks = parseJwks(p.oidc.jwksJson);
      if (typeof jwks === "string") throw new ProviderKeysUnavailable(jwks);
      return jwks;
    }
    const cacheKey = `${p.name}#${p.etag}`;
    const now = Date.now();
    const hit = this.keys.get(cacheKey);
    const fresh = hit && now - hit.fetchedAt < (this.opts.keysTtlMs ?? 300_000);
    const mayRefetch = !hit || now - hit.fetchedAt >= (this.opts.refetchMs ?? 30_000);
    if (hit && fresh && !(refresh && mayRefetch)) return hit.keys;
    const failed = this.failures.get(cacheKey);
    if (failed && now - failed.at < (this.opts.failureTtlMs ?? 10_000)) {
      if (hit) return hit.keys;
      throw failed.error;
    }
    let keys: JsonWebKeySet;
    try {
      keys = await this.fetchKeys(p.oidc.issuerUri);
    } catch (err) {
      if (!(err instanceof ProviderKeysUnavailable)) throw err;
      if (this.failures.size > 10_000) this.failures.clear();
      this.failures.set(cacheKey, { error: err, at: now });
      // A stale key set is better than none while the issuer is unreachable.
      if (hit) return hit.keys;
      throw err;
    }
    this.failures.delete(cacheKey);
    // One entry per provider: an older etag's keys go.
    for (const k of this.keys.keys()) if (k.startsWith(`${p.name}#`)) this.keys.delete(k);
    this.keys.set(cacheKey, { keys, fetchedAt: now });
    return keys;
  }

  private fetchJson(url: string): Promise<unknown> {
    return fetchJsonBounded(url, this.opts.fetchTimeoutMs ?? 5000);
  }

  private async fetchKeys(issuer: string): Promise<JsonWebKeySet> {
    const discovery = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    const doc = (await this.fetchJson(discovery)) as { issuer?: unknown; jwks_uri?: unknown } | null;
    if (doc?.issuer !== issuer)
      throw new ProviderKeysUnavailable(`the discovery document at ${discovery} names another issuer`);
    const jwksUri = doc.jwks_uri;
    if (typeof jwksUri !== "string") throw new ProviderKeysUnavailable(`${discovery} has no jwks_uri`);
    let parsed: URL;
    try {
      parsed = new URL(jwksUri);
    } catch {
      throw new ProviderKeysUnavailable(`${discovery} has an invalid jwks_uri`);
    }
    // An https issuer's keys come over https too.
    if (parsed.protocol !== new URL(issuer).protocol && parsed.protocol !== "https:")
      throw new ProviderKeysUnavailable(`${discovery}: jwks_uri must use ${new URL(issuer).protocol}`);
    const jwks = parseJwks(JSON.stringify(await this.fetchJson(jwksUri)), true);
    if (typeof jwks === "string") throw new ProviderKeysUnavailable(jwks.replace("oidc.jwksJson", jwksUri));
    return jwks;
  }
}
