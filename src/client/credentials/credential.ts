/**
 * What every credential type shares: a cached access token refreshed ahead of expiry, one request
 * for any number of concurrent callers, and `authorizedFetch`. Subclasses only know how to fetch a
 * fresh token (and an ID token) from their source.
 */
import { CredentialError } from "../errors.js";
import type { RetryPolicy } from "../http.js";

export interface AccessToken {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface CredentialOptions {
  /**
   * Refresh this long before expiry (default 5 minutes, as Google's libraries and the metadata
   * server's own cache), so no call ever goes out with a token about to lapse.
   */
  refreshMarginMs?: number;
  /** Clock, for tests of expiry. */
  now?: () => number;
  /** The `fetch` used for every request of this credential (default the global one). */
  fetch?: typeof fetch;
  /** Retries of token requests (default 4 attempts with jittered backoff; see http.ts). */
  retry?: RetryPolicy;
}

export const DEFAULT_REFRESH_MARGIN_MS = 5 * 60 * 1000;

export abstract class Credential {
  /** `compute`, `service_account`, `authorized_user` or `impersonated`. */
  abstract readonly type: string;
  private cached: AccessToken | undefined;
  private inflight: Promise<AccessToken> | undefined;
  /** Number of token requests sent to the source (what the benchmark counts). */
  fetches = 0;
  protected readonly margin: number;
  protected readonly now: () => number;
  /** The transport options every request of the credential carries. */
  protected readonly transport: { fetch?: typeof fetch; retry?: RetryPolicy };

  constructor(opts: CredentialOptions = {}) {
    this.margin = opts.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.now = opts.now ?? Date.now;
    this.transport = {
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
    };
  }

  /** Who this credential acts as, when known without a request (e.g. a key file's account). */
  abstract get principal(): string | undefined;

  /** Where the credential came from, for messages: a file path, a metadata server URL. */
  abstract get source(): string;

  protected abstract fetchAccessToken(): Promise<AccessToken>;

  /** An ID token for `audience`. */
  abstract getIdToken(audience: string): Promise<string>;

  /** A token valid for at least the refresh margin (or as long as its source grants). */
  async getAccessToken(): Promise<string> {
    const c = this.cached;
    if (c && c.expiresAt - this.marginFor(c) > this.now()) return c.token;
    return (await this.refresh()).token;
  }

  /**
   * A token whose remaining lifetime is shorter than the margin would be refreshed on every call;
   * such tokens (sources that hand out short-lived or nearly expired tokens) are used until half
   * their remaining life instead.
   */
  private marginFor(t: AccessToken & { lifetime?: number }) {
    const lifetime = t.lifetime ?? Number.POSITIVE_INFINITY;
    return lifetime <= this.margin ? lifetime / 2 : this.margin;
  }

  /** Fetches a new token now; concurrent callers share one request. */
  refresh(): Promise<AccessToken> {
    this.inflight ??= (async () => {
      try {
        this.fetches++;
        const t = await this.fetchAccessToken();
        if (!t.token) throw new CredentialError(`${this.source} returned no access token.`);
        this.cached = Object.assign(t, { lifetime: t.expiresAt - this.now() });
        return t;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  /** Forgets the cached token (the next call fetches a new one). */
  invalidate() {
    this.cached = undefined;
  }

  /**
   * `fetch` with `Authorization: Bearer`; on a 401 it refreshes the token once and retries once
   * (when the body can be sent again).
   */
  async authorizedFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const send = async (token: string) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${token}`);
      return (this.transport.fetch ?? fetch)(input, { ...init, headers });
    };
    const res = await send(await this.getAccessToken());
    const replayable = init.body === undefined || init.body === null || typeof init.body === "string";
    if (res.status !== 401 || !replayable) return res;
    await res.body?.cancel();
    this.invalidate();
    return send((await this.refresh()).token);
  }
}

/** `expires_in` seconds from a token response, validated. */
export function expiryFrom(expiresIn: unknown, now: number, where: string): number {
  const secs = typeof expiresIn === "string" ? Number(expiresIn) : expiresIn;
  if (typeof secs !== "number" || !Number.isFinite(secs) || secs <= 0)
    throw new CredentialError(`${where} returned a token without a valid expires_in.`, where);
  return now + secs * 1000;
}
