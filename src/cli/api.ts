import { ApiError, CliError } from "./errors.js";
import type { Writer } from "./io.js";

export const USER_AGENT = "warrant-cli/0.1.0";

export type Query = Record<string, string | number | undefined>;

/** Encodes one path segment; keeps "@" (service account emails) readable like Google's clients do. */
export function seg(s: string): string {
  return encodeURIComponent(s).replace(/%40/g, "@");
}

export function networkError(endpoint: string, e: unknown): CliError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (e as Error).message;
  return new CliError(
    `Could not reach the Warrant server at ${endpoint}: ${detail}`,
    "Is `warrant serve` running? Check --endpoint / WARRANT_ENDPOINT, or run " +
      '`eval "$(warrant env)"` in the directory where the server keeps its state.',
  );
}

export async function apiErrorFrom(res: Response, method: string, url: string): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let message = text.trim().slice(0, 500) || res.statusText || "request failed";
  let status: string | undefined;
  let reason: string | undefined;
  try {
    const body = JSON.parse(text) as {
      error?: { message?: string; status?: string; errors?: { reason?: string }[] } | string;
      error_description?: string;
    };
    if (body.error && typeof body.error === "object") {
      if (body.error.message) message = body.error.message;
      status = body.error.status;
      reason = body.error.errors?.[0]?.reason;
    } else if (typeof body.error === "string") {
      message = body.error_description ? `${body.error}: ${body.error_description}` : body.error;
      status = body.error;
    }
  } catch {
    // not JSON: keep the text
  }
  return new ApiError(res.status, message, status, reason, method, url);
}

export class ApiClient {
  constructor(
    readonly endpoint: string,
    private readonly token: () => Promise<string>,
    private readonly fetchImpl: typeof fetch,
    private readonly debug?: Writer,
  ) {}

  url(path: string, query?: Query): string {
    const u = new URL(this.endpoint + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    opts: { body?: unknown; query?: Query } = {},
  ): Promise<T> {
    const url = this.url(path, opts.query);
    const headers: Record<string, string> = {
      authorization: `Bearer ${await this.token()}`,
      accept: "application/json",
      "user-agent": USER_AGENT,
    };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      });
    } catch (e) {
      throw networkError(this.endpoint, e);
    }
    this.debug?.write(`DEBUG: ${method} ${url} -> ${res.status}\n`);
    if (!res.ok) throw await apiErrorFrom(res, method, url);
    const text = await res.text();
    if (text.trim() === "") return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`The server answered ${method} ${url} with invalid JSON.`);
    }
  }

  /** GETs every page of a list (`nextPageToken`/`pageToken`) and concatenates `itemsKey`. */
  async listAll<T>(path: string, itemsKey: string, query: Query = {}): Promise<T[]> {
    const out: T[] = [];
    let pageToken: string | undefined;
    const seen = new Set<string>();
    for (let page = 0; page < 10_000; page++) {
      const res = await this.request<Record<string, unknown>>("GET", path, {
        query: { ...query, pageToken },
      });
      const items = res[itemsKey];
      if (Array.isArray(items)) out.push(...(items as T[]));
      const next = res.nextPageToken;
      if (typeof next !== "string" || next === "" || seen.has(next)) break;
      seen.add(next);
      pageToken = next;
    }
    return out;
  }
}
