/**
 * The console's one way to Warrant's public API. Every call goes to `/console/api/<public path>`,
 * which the console's back end forwards with the signed-in user's own token: the console can do
 * only what the user could do with gcloud. State-changing calls carry the custom header the back
 * end requires (a cross-site page cannot send it without a CORS preflight, which is never granted).
 *
 * Google's error bodies become an `ApiError` carrying the status, the reason, the request id
 * (`google.rpc.RequestInfo`) and, for a 403, Warrant's explanation of the denial.
 */

/** The header the console's back end requires on its API (src/server/console). */
export const CONSOLE_HEADER = "X-Warrant-Console";

/** Warrant's explanation of an IAM denial (the `explanation` of a 403 body). */
export interface DenialExplanation {
  principal?: string;
  permission?: string;
  resource?: string;
  allowed?: boolean;
  reason?: string;
  grantedBy?: unknown;
  deniedBy?: unknown;
  bindingsConsidered?: number;
  rolesThatGrantPermission?: string[];
  conditionalBindingsSkipped?: unknown;
}

export class ApiError extends Error {
  /** HTTP status (0 when the request did not reach the server). */
  readonly code: number;
  /** Google's canonical status, e.g. `PERMISSION_DENIED`, `ABORTED`. */
  readonly status: string;
  /** The first error's reason, e.g. `forbidden`, `conflict`, `insufficientPermissions`. */
  readonly reason: string;
  readonly requestId: string | undefined;
  readonly explanation: DenialExplanation | undefined;
  /** The path of the public API that answered. */
  readonly path: string;

  constructor(init: {
    code: number;
    status: string;
    reason: string;
    message: string;
    requestId?: string | undefined;
    explanation?: DenialExplanation | undefined;
    path: string;
  }) {
    super(init.message);
    this.name = "ApiError";
    this.code = init.code;
    this.status = init.status;
    this.reason = init.reason;
    this.requestId = init.requestId;
    this.explanation = init.explanation;
    this.path = init.path;
  }

  /** The console's session is gone (never signed in, expired, signed out elsewhere). */
  get signInRequired(): boolean {
    return this.code === 401;
  }

  /** Someone else changed the resource since it was read (etag mismatch). */
  get conflict(): boolean {
    return this.code === 409 || this.status === "ABORTED" || this.code === 412;
  }
}

interface GoogleErrorBody {
  error?: {
    code?: number;
    message?: string;
    status?: string;
    errors?: { reason?: string; message?: string }[];
    details?: { "@type"?: string; requestId?: string }[];
    explanation?: DenialExplanation;
  };
}

/** Turns a failed response's body into an ApiError (exported for the tests of the view). */
export function errorFrom(status: number, body: unknown, path: string, headerRequestId?: string | null) {
  const e = (body as GoogleErrorBody | undefined)?.error;
  const requestId =
    e?.details?.find((d) => d["@type"]?.endsWith("google.rpc.RequestInfo"))?.requestId ??
    headerRequestId ??
    undefined;
  return new ApiError({
    code: e?.code ?? status,
    status: e?.status ?? (status === 401 ? "UNAUTHENTICATED" : "UNKNOWN"),
    reason: e?.errors?.[0]?.reason ?? "",
    message: e?.message ?? `The server answered ${status}.`,
    requestId,
    explanation: e?.explanation,
    path,
  });
}

/** Listeners told when a call finds the session gone, so the layout can offer to sign in again. */
const signedOutListeners = new Set<() => void>();
export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export interface CallOptions {
  /** JSON body (serialized) or raw bytes (sent as they are, with `headers` naming their type). */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Query parameters, appended to the path. */
  query?: Record<string, string | number | boolean | undefined>;
}

/** The URL of a public API path through the console's back end, e.g. `apiUrl("/v1/projects")`. */
export function apiUrl(path: string, query?: CallOptions["query"]): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, String(v));
  const qs = q.toString();
  return `/console/api${path}${qs ? (path.includes("?") ? "&" : "?") + qs : ""}`;
}

/** Sends a request through the console's back end and returns the raw response when it succeeded. */
export async function callRaw(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {
    [CONSOLE_HEADER]: "1",
    Accept: "application/json",
    ...opts.headers,
  };
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    if (
      typeof opts.body === "string" ||
      opts.body instanceof Blob ||
      opts.body instanceof ArrayBuffer ||
      ArrayBuffer.isView(opts.body)
    )
      body = opts.body as BodyInit;
    else {
      body = JSON.stringify(opts.body);
      headers["Content-Type"] ??= "application/json";
    }
  }
  let res: Response;
  try {
    res = await fetch(apiUrl(path, opts.query), {
      method,
      headers,
      credentials: "same-origin",
      ...(body !== undefined ? { body } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError({
      code: 0,
      status: "UNAVAILABLE",
      reason: "network",
      message: `Warrant could not be reached: ${(err as Error).message}`,
      path,
    });
  }
  if (res.ok) return res;
  let parsed: unknown;
  try {
    parsed = await res.json();
  } catch {
    parsed = undefined;
  }
  const err = errorFrom(res.status, parsed, path, res.headers.get("X-Request-Id"));
  if (err.signInRequired) for (const l of signedOutListeners) l();
  throw err;
}

/** Calls the public API and returns its JSON answer (`{}` for an empty body). */
export async function call<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const res = await callRaw(method, path, opts);
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** Pages through a Google list method, collecting `field` from each page. */
export async function listAll<T>(
  path: string,
  field: string,
  query: CallOptions["query"] = {},
): Promise<T[]> {
  const out: T[] = [];
  let pageToken: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await call<Record<string, unknown>>("GET", path, { query: { ...query, pageToken } });
    out.push(...((page[field] as T[] | undefined) ?? []));
    pageToken = page.nextPageToken as string | undefined;
    if (!pageToken) break;
  }
  return out;
}

/** The signed-in user, from the console's back end; null when there is no session. */
export interface SessionInfo {
  email: string;
  principal: string;
  expiresAt: string;
}

export async function currentSession(): Promise<SessionInfo | null> {
  const res = await fetch("/console/auth/session", {
    headers: { [CONSOLE_HEADER]: "1", Accept: "application/json" },
    credentials: "same-origin",
  });
  if (!res.ok) throw errorFrom(res.status, await res.json().catch(() => undefined), "/console/auth/session");
  const body = (await res.json()) as SessionInfo & { signedIn: boolean };
  return body.signedIn ? body : null;
}

/** Ends the session on the server; the caller then navigates to the signed-out page. */
export async function signOut(): Promise<void> {
  await fetch("/console/auth/logout", {
    method: "POST",
    headers: { [CONSOLE_HEADER]: "1" },
    credentials: "same-origin",
  });
}

/** Where the browser goes to sign in, coming back to `next` (a console path) afterwards. */
export function signInUrl(next: string = location.pathname + location.search): string {
  return `/console/auth/login?next=${encodeURIComponent(next)}`;
}
