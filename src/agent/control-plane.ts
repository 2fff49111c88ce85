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

export class ControlPlane {
  constructor(
    private readonly baseUrl: string,
    private readonly credential: string,
  ) {}

  /** The instance the credential is bound to (`projects/P/zones/Z/instances/N`), when enrolled here. */
  instance?: string;

  static async enroll(baseUrl: string, enrollmentToken: string): Promise<ControlPlane> {
    const res = await fetch(`${baseUrl}/warrant/v1/agents:enroll`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ enrollmentToken }),
    });
    const body = (await res.json().catch(() => ({}))) as {
      agentCredential?: string;
      instance?: string;
      error?: { message?: string };
    };
    if (!res.ok || !body.agentCredential)
      throw new ControlPlaneError(
        res.status,
        `enrollment refused by ${baseUrl}: ${body.error?.message ?? res.statusText}`,
      );
    const cp = new ControlPlane(baseUrl, body.agentCredential);
    if (body.instance) cp.instance = body.instance;
    return cp;
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `WarrantAgent ${this.credential}`,
        ...(body ? { "content-type": "application/json" } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
    const json = (await res.json().catch(() => ({}))) as T & { error?: { message?: string } };
    if (!res.ok) throw new ControlPlaneError(res.status, json.error?.message ?? res.statusText);
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
