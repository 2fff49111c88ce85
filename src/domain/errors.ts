/**
 * Errors in Google's API shape. Each class is named after the canonical status it maps to, so a
 * handler throws the protocol's own vocabulary and the HTTP adapter renders
 * `{"error":{"code","message","status","errors":[{"domain","reason","message"}]}}`.
 */
export type CanonicalStatus =
  | "INVALID_ARGUMENT"
  | "FAILED_PRECONDITION"
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "ABORTED"
  | "RESOURCE_EXHAUSTED"
  | "INTERNAL"
  | "UNAVAILABLE";

export interface ErrorDetail {
  domain: string;
  reason: string;
  message: string;
  location?: string;
  locationType?: string;
}

export class ApiError extends Error {
  readonly code: number;
  readonly status: CanonicalStatus;
  readonly reason: string;
  readonly extra: Partial<ErrorDetail>;
  /** Set on authorization failures: the full explanation, shown on request (`?explain=true`). */
  explanation?: unknown;
  headers: Record<string, string> = {};

  constructor(
    code: number,
    status: CanonicalStatus,
    reason: string,
    message: string,
    extra: Partial<ErrorDetail> = {},
  ) {
    super(message);
    this.name = status;
    this.code = code;
    this.status = status;
    this.reason = reason;
    this.extra = extra;
  }

  toJSON() {
    return {
      error: {
        code: this.code,
        message: this.message,
        errors: [
          {
            message: this.extra.message ?? this.message,
            domain: "global",
            reason: this.reason,
            ...omit(this.extra, "message"),
          },
        ],
        status: this.status,
      },
    };
  }
}

function omit<T extends object>(o: T, key: keyof T): Partial<T> {
  const { [key]: _dropped, ...rest } = o;
  return rest as Partial<T>;
}

export class InvalidArgument extends ApiError {
  constructor(message: string, reason = "badRequest") {
    super(400, "INVALID_ARGUMENT", reason, message);
  }
}
export class FailedPrecondition extends ApiError {
  constructor(message: string, reason = "failedPrecondition") {
    super(400, "FAILED_PRECONDITION", reason, message);
  }
}
export class Unauthenticated extends ApiError {
  static missing() {
    return new Unauthenticated(
      "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
      "required",
      { message: "Login Required.", location: "Authorization", locationType: "header" },
    );
  }
  static invalid(why: string) {
    return new Unauthenticated(
      `Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project. (${why})`,
      "authError",
      { message: "Invalid Credentials", location: "Authorization", locationType: "header" },
    );
  }
  private constructor(message: string, reason: string, extra: Partial<ErrorDetail>) {
    super(401, "UNAUTHENTICATED", reason, message, extra);
    this.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"';
  }
}
export class PermissionDenied extends ApiError {
  constructor(message: string, reason = "forbidden") {
    super(403, "PERMISSION_DENIED", reason, message);
  }
}
export class NotFound extends ApiError {
  constructor(message: string) {
    super(404, "NOT_FOUND", "notFound", message);
  }
}
export class AlreadyExists extends ApiError {
  constructor(message: string) {
    super(409, "ALREADY_EXISTS", "alreadyExists", message);
  }
}
export class Aborted extends ApiError {
  constructor(message: string) {
    super(409, "ABORTED", "aborted", message);
  }
}
export class ResourceExhausted extends ApiError {
  constructor(message: string) {
    super(429, "RESOURCE_EXHAUSTED", "rateLimitExceeded", message);
  }
}
export class Internal extends ApiError {
  constructor(message = "Internal error encountered.") {
    super(500, "INTERNAL", "backendError", message);
  }
}
/**
 * 413: the request body is over the endpoint's limit. The answer closes its connection (node:http
 * ends the socket once it is written): the server stops reading the rest of the body, so a client
 * streaming an endless one is cut off, and a client told so never sends another request on it.
 */
export class PayloadTooLarge extends ApiError {
  constructor(message: string) {
    super(413, "INVALID_ARGUMENT", "requestTooLarge", message);
    this.headers.Connection = "close";
  }
}
/** 503: the service cannot answer now (starting, shutting down, at capacity); `Retry-After` says when to retry. */
export class Unavailable extends ApiError {
  constructor(message: string, retryAfterSeconds = 1) {
    super(503, "UNAVAILABLE", "backendError", message);
    this.headers["Retry-After"] = String(retryAfterSeconds);
  }
}

/** How long a client is told to wait after a disk-full answer. */
export const DISK_FULL_RETRY_AFTER_S = 30;

/** The filesystem (ENOSPC, EDQUOT: out of space or quota) or SQLite (SQLITE_FULL) ran out of room. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL";
}

/** The answer to a write that found no room: retryable, and nothing of it was kept. */
export function diskFull(): Unavailable {
  return new Unavailable(
    "The server's disk is full: nothing of this request was stored. Retry later; the server's administrator must free space.",
    DISK_FULL_RETRY_AFTER_S,
  );
}
