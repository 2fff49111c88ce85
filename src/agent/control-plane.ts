/** The agent's client of the control plane's agent API (see server/api/agent/agents.ts). */
import type { InstanceView } from "../domain/metadata/view.js";

export class ControlPlaneError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ControlPlaneError";
  }
}

export interface MintedToken {
  access_token: string;
  expires_at: number;
  scopes: string[];
}

/** What enrollment and renewal answer: the credential and when it stops working. */
interface IssuedCredential {
  agentCredential?: string;
  expireTime?: string;
  instance?: string;
  error?: { message?: string };
}

const RENEW_PATH = "/warrant/v1/agent/credential:renew";

export class ControlPlane {
  /** When the current credential was obtained and when it expires (ms since the epoch). */
  private obtainedAt = Date.now();
  private expiresAt: number;
  /** Set once the control plane refuses the credential (expired or revoked): only re-enrollment helps. */
  refused?: string;

  /** Index into `baseUrls` of the node calls go to; moves on when that node stops answering. */
  private current: number;

  private constructor(
    /** The control plane's nodes (several serve one installation; docs/deployment.md). */
    private readonly baseUrls: readonly string[],
    private credential: string,
    expireTime: string | undefined,
    /** Called once, when the credential is first refused. */
    private readonly onRefused: (why: string) => void,
    private readonly log: (line: string) => void,
    current: number,
  ) {
    this.expiresAt = expireTime ? Date.parse(expireTime) : Number.NaN;
    this.current = current;
  }

  /** The node calls go to now. */
  get baseUrl(): string {
    return this.baseUrls[this.current]!;
  }

  /** The instance the credential is bound to (`projects/P/zones/Z/instances/N`), when enrolled here. */
  instance?: string;

  /** The agent id half of the credential (not secret): names this agent's record. */
  get agentId(): string {
    return this.credential.split(".", 1)[0]!;
  }

  get expireTime(): number {
    return this.expiresAt;
  }

  /** When to renew: half-way through the credential's life, as SPIRE agents do. */
  renewAt(): number {
    return this.obtainedAt + (this.expiresAt - this.obtainedAt) / 2;
  }

  static async enroll(
    baseUrl: string | readonly string[],
    enrollmentToken: string,
    onRefused: (why: string) => void = () => {},
    log: (line: string) => void = () => {},
  ): Promise<ControlPlane> {
    const urls = typeof baseUrl === "string" ? [baseUrl] : [...baseUrl];
    if (urls.length === 0) throw new Error("no control-plane URL");
    const { res, index } = await failover(urls, 0, log, (url) =>
      fetch(`${url}/warrant/v1/agents:enroll`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ enrollmentToken }),
      }),
    );
    const body = (await res.json().catch(() => ({}))) as IssuedCredential;
    if (!res.ok || !body.agentCredential || !body.expireTime)
      throw new ControlPlaneError(
        res.status,
        `enrollment refused by ${urls[index]}: ${body.error?.message ?? res.statusText}`,
      );
    const cp = new ControlPlane(urls, body.agentCredential, body.expireTime, onRefused, log, index);
    if (body.instance) cp.instance = body.instance;
    return cp;
  }

  /** Exchanges the credential for a new one (the old stops working); throws on failure. */
  async renew(): Promise<void> {
    const renewal = this.exchange();
    this.renewing = renewal;
    try {
      await renewal;
    } finally {
      if (this.renewing === renewal) this.renewing = undefined;
    }
  }

  /** The renewal in flight, if any: a call refused meanwhile waits for it before judging the 401. */
  private renewing?: Promise<void>;

  private async exchange(): Promise<void> {
    const obtainedAt = Date.now();
    const body = await this.call<IssuedCredential>("POST", RENEW_PATH, {});
    if (!body.agentCredential || !body.expireTime)
      throw new ControlPlaneError(502, "the control plane's renewal answer has no credential");
    this.credential = body.agentCredential;
    this.obtainedAt = obtainedAt;
    this.expiresAt = Date.parse(body.expireTime);
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const sent = this.credential;
    const res = await this.send(sent, method, path, body, signal);
    if (res.status === 401 && path !== RENEW_PATH) {
      // A renewal replaces the secret at once, so a call that raced one was sent with a secret the
      // control plane has just retired. That is not a refusal of the agent: wait for the renewal
      // and try once more with the new credential.
      await this.renewing?.catch(() => {});
      if (this.credential !== sent) {
        await res.body?.cancel();
        return this.judge<T>(await this.send(this.credential, method, path, body, signal));
      }
    }
    return this.judge<T>(res);
  }

  private async send(credential: string, method: string, path: string, body?: unknown, signal?: AbortSignal) {
    const { res, index } = await failover(
      this.baseUrls,
      this.current,
      this.log,
      (url) =>
        fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `WarrantAgent ${credential}`,
            ...(body ? { "content-type": "application/json" } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
          ...(signal ? { signal } : {}),
        }),
      signal,
    );
    this.current = index;
    return res;
  }

  private async judge<T>(res: Response): Promise<T> {
    const json = (await res.json().catch(() => ({}))) as T & { error?: { message?: string } };
    if (!res.ok) {
      const message = json.error?.message ?? res.statusText;
      if (res.status === 401 && this.refused === undefined) {
        this.refused = message;
        this.onRefused(message);
      }
      throw new ControlPlaneError(res.status, message);
    }
    return json;
  }

  view(sinceVersion?: number, timeoutSec = 60, signal?: AbortSignal) {
    const q =
      sinceVersion === undefined
        ? ""
        : `?waitForChange=true&sinceVersion=${sinceVersion}&timeoutSec=${timeoutSec}`;
    return this.call<{ version: number; view: InstanceView }>(
      "GET",
      `/warrant/v1/agent/view${q}`,
      undefined,
      signal,
    );
  }

  token(account: string, scopes: string[]) {
    return this.call<MintedToken>("POST", "/warrant/v1/agent/token", { account, scopes });
  }

  identity(account: string, audience: string, format: string, licenses: boolean) {
    return this.call<{ token: string }>("POST", "/warrant/v1/agent/identity", {
      account,
      audience,
      format,
      licenses,
    });
  }
}

/** Answers of a node that cannot serve now (down behind a proxy, draining, datastore unreachable). */
const NODE_UNAVAILABLE = new Set([502, 503, 504]);

/**
 * Sends `attempt` to the nodes in turn from `start`: a node that cannot be reached, or answers 502,
 * 503 or 504, is passed over for the next; the first other answer (or the last node's) is returned
 * with the index of the node that gave it. Requests are repeatable (a JSON body, no side effect a
 * second node would double: a renewal the dead node committed makes the next call refused, and the
 * agent says it must be re-enrolled).
 */
async function failover(
  urls: readonly string[],
  start: number,
  log: (line: string) => void,
  attempt: (url: string) => Promise<Response>,
  signal?: AbortSignal,
): Promise<{ res: Response; index: number }> {
  let lastError: unknown;
  for (let i = 0; i < urls.length; i++) {
    const index = (start + i) % urls.length;
    const last = i === urls.length - 1;
    try {
      const res = await attempt(urls[index]!);
      if (last || !NODE_UNAVAILABLE.has(res.status)) return { res, index };
      await res.body?.cancel();
      log(
        `agent: control plane ${urls[index]} answered ${res.status}; trying ${urls[(index + 1) % urls.length]}`,
      );
    } catch (err) {
      if (signal?.aborted || last) throw err;
      lastError = err;
      log(
        `agent: control plane ${urls[index]} unreachable (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}); trying ${urls[(index + 1) % urls.length]}`,
      );
    }
  }
  throw lastError;
}
