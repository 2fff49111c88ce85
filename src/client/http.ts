/**
 * The one HTTP path of the client library: JSON requests with a timeout, bounded retries with
 * jittered exponential backoff on 429, 5xx and network errors (honouring `Retry-After`), and error
 * messages that say which URL answered what — without query strings, which may hold secrets.
 */
import { CredentialError, type ServerErrorDetail } from "./errors.js";

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** First backoff; doubles each retry, with full jitter. */
  baseDelayMs: number;
  /** No single wait exceeds this, `Retry-After` included. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 10_000 };
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface JsonRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** A form (sent as application/x-www-form-urlencoded) or a JSON value. */
  form?: Record<string, string>;
  json?: unknown;
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** Checks a successful response before its body is parsed (e.g. the metadata server's header). */
  accept?: (res: Response) => string | null;
  /** The transport (default the global `fetch`): a caller's wrapper may add headers or log. */
  fetch?: typeof fetch;
}

/** How a credential reaches its token source: an injected `fetch` and a retry policy. */
export interface Transport {
  fetch?: typeof fetch;
  retry?: RetryPolicy;
}

/** Like `requestJson`, for endpoints that answer plain text (the metadata server's leaves). */
export async function requestText(req: JsonRequest): Promise<string> {
  return (await request(req, "text")) as string;
}

export async function requestJson<T>(req: JsonRequest): Promise<T> {
  return (await request(req, "json")) as T;
}

/** A URL as it may appear in a message: no query, no credentials. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function retryAfterMs(res: Response): number | undefined {
  const v = res.headers.get("retry-after");
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

const retryable = (status: number) => status === 429 || status >= 500;

/** The error a Google-style server put in its body, if any: OAuth's or the API error envelope. */
function serverDetail(body: unknown): ServerErrorDetail | undefined {
  if (!body || typeof body !== "object") return undefined;
  const b = body as { error?: unknown; error_description?: unknown };
  if (typeof b.error_description === "string")
    return { message: `${String(b.error)}: ${b.error_description}`, status: String(b.error) };
  if (typeof b.error === "string") return { message: b.error, status: b.error };
  if (b.error && typeof b.error === "object") {
    const e = b.error as { message?: unknown; status?: unknown; errors?: unknown };
    if (typeof e.message === "string") {
      const first = Array.isArray(e.errors) ? (e.errors[0] as { reason?: unknown } | undefined) : undefined;
      return {
        message: e.message,
        ...(typeof e.status === "string" ? { status: e.status } : {}),
        ...(typeof first?.reason === "string" ? { reason: first.reason } : {}),
      };
    }
  }
  return undefined;
}

async function request(req: JsonRequest, as: "json" | "text"): Promise<unknown> {
  const policy = req.retry ?? DEFAULT_RETRY;
  const where = safeUrl(req.url);
  const headers: Record<string, string> = { accept: "application/json", ...req.headers };
  let body: string | undefined;
  if (req.form) {
    body = new URLSearchParams(req.form).toString();
    headers["content-type"] = "application/x-www-form-urlencoded";
  } else if (req.json !== undefined) {
    body = JSON.stringify(req.json);
    headers["content-type"] = "application/json";
  }
  let lastError: CredentialError | undefined;
  for (let attempt = 0; attempt < policy.attempts; attempt++) {
    let res: Response;
    try {
      res = await (req.fetch ?? fetch)(req.url, {
        method: req.method ?? (body !== undefined ? "POST" : "GET"),
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(req.timeoutMs ?? DEFAULT_TIMEOUT_MS),
        redirect: "error",
      });
    } catch (err) {
      const e = err as Error;
      const why =
        e.name === "TimeoutError"
          ? `no answer within ${req.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`
          : describeNetworkError(e);
      lastError = new CredentialError(`${where}: ${why}`, where);
      await sleep(backoff(policy, attempt));
      continue;
    }
    const text = await res.text().catch(() => "");
    let parsed: unknown;
    let parseFailed = false;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parseFailed = true;
    }
    if (!res.ok) {
      const server = serverDetail(parsed);
      const detail = server?.message ?? (parseFailed ? describeNonJson(res, text) : `HTTP ${res.status}`);
      lastError = new CredentialError(
        `${where} answered ${res.status}: ${detail}`,
        where,
        res.status,
        server,
      );
      if (!retryable(res.status) || attempt === policy.attempts - 1) throw lastError;
      await sleep(Math.min(policy.maxDelayMs, retryAfterMs(res) ?? backoff(policy, attempt)));
      continue;
    }
    const problem = req.accept?.(res);
    if (problem) throw new CredentialError(`${where}: ${problem}`, where, res.status);
    if (as === "text") return text;
    if (parseFailed || parsed === undefined)
      throw new CredentialError(
        `${where} answered ${res.status} with ${describeNonJson(res, text)}, not JSON.`,
        where,
        res.status,
      );
    return parsed;
  }
  throw lastError ?? new CredentialError(`${where}: no attempt was made`, where);
}

function backoff(policy: RetryPolicy, attempt: number) {
  return Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
}

function describeNetworkError(e: Error): string {
  const cause = e.cause as { code?: string; message?: string } | undefined;
  return cause?.code ? `cannot connect (${cause.code})` : `request failed (${cause?.message ?? e.message})`;
}

function describeNonJson(res: Response, text: string): string {
  const type = res.headers.get("content-type") ?? "no content type";
  const looksHtml = /^\s*</.test(text);
  return `${looksHtml ? "an HTML page" : "a non-JSON body"} (${type}, ${text.length} bytes)`;
}
