/**
 * Compute Engine's own errors carry no canonical `status`: its 403 is
 * `{"error":{"code":403,"message":"Required 'compute.instances.list' permission for 'projects/P'",
 * "errors":[{"message":…,"domain":"global","reason":"forbidden"}]}}`, and gcloud prints it as
 * `HTTPError 403: Required …`. Errors raised in front of the API (credentials, OAuth scopes) keep
 * their `status`, as Google's front end sends one.
 */
import { ApiError } from "../../../domain/errors.js";
import type { Handler } from "../../http/context.js";

export class ComputeError extends ApiError {
  static from(err: ApiError): ComputeError {
    const out = new ComputeError(err.code, err.status, err.reason, err.message, err.extra);
    out.explanation = err.explanation;
    out.headers = err.headers;
    return out;
  }

  override toJSON(): ReturnType<ApiError["toJSON"]> {
    const { status: _dropped, ...error } = super.toJSON().error;
    // The renderer reads the body as an open record; only the base type insists on `status`.
    return { error } as unknown as ReturnType<ApiError["toJSON"]>;
  }
}

/** Errors the front end raises, not Compute: they keep Google's `status`. */
function fromFrontEnd(err: ApiError): boolean {
  return err.code === 401 || err.reason === "insufficientPermissions";
}

/** The handler, with the errors it throws shaped as Compute Engine's. */
export function computeErrors(handler: Handler): Handler {
  return async (ctx) => {
    try {
      return await handler(ctx);
    } catch (err) {
      if (err instanceof ApiError && !(err instanceof ComputeError) && !fromFrontEnd(err))
        throw ComputeError.from(err);
      throw err;
    }
  };
}
