/**
 * Routes in Google's REST grammar: `/v1/projects/{project}/serviceAccounts/{account}:disable`.
 * A `{param}` matches one path segment up to a `/` or `:`; values are percent-decoded.
 */
import type { Handler } from "./context.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** `required`: a valid credential or 401. `optional`: anonymous callers get the `allUsers` principal. `none`: no credential is read. */
export type AuthMode = "required" | "optional" | "none";

export interface Route {
  method: Method;
  path: string;
  auth: AuthMode;
  handler: Handler;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
}

export type Match = { route: Route; params: Record<string, string> } | { allowed: Method[] } | null;

export class Router {
  private readonly routes: CompiledRoute[] = [];

  add(method: Method, path: string, handler: Handler, auth: AuthMode = "required"): this {
    const names: string[] = [];
    const pattern = path
      .split(/(\{[a-zA-Z]+\})/)
      .map((part) => {
        const m = /^\{([a-zA-Z]+)\}$/.exec(part);
        if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        names.push(m[1]!);
        return "([^/:]+)";
      })
      .join("");
    this.routes.push({ method, path, auth, handler, regex: new RegExp(`^${pattern}$`), names });
    return this;
  }

  match(method: string, pathname: string): Match {
    const allowed: Method[] = [];
    for (const r of this.routes) {
      const m = r.regex.exec(pathname);
      if (!m) continue;
      if (r.method !== method && !(method === "HEAD" && r.method === "GET")) {
        allowed.push(r.method);
        continue;
      }
      const params: Record<string, string> = {};
      for (const [i, name] of r.names.entries()) {
        try {
          params[name] = decodeURIComponent(m[i + 1]!);
        } catch {
          return null;
        }
      }
      return { route: r, params };
    }
    return allowed.length ? { allowed } : null;
  }
}
