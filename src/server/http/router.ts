/**
 * Routes in Google's REST grammar: `/v1/projects/{project}/serviceAccounts/{account}:disable`.
 * A `{param}` matches one path segment up to a `/` or `:`; values are percent-decoded. A final
 * `{param=**}` matches the rest of the path, slashes and colons included (the console's routes).
 */
import type { Handler } from "./context.js";
import { declaredAuthz, type RouteAuthz } from "./route-authz.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** `required`: a valid credential or 401. `optional`: anonymous callers get the `allUsers` principal. `none`: no credential is read. */
export type AuthMode = "required" | "optional" | "none";

export interface Route {
  method: Method;
  path: string;
  auth: AuthMode;
  handler: Handler;
  /** What the route checks, from the table in route-authz.ts; the adapter holds requests to it. */
  authz: RouteAuthz;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
}

export type Match = { route: Route; params: Record<string, string> } | { allowed: Method[] } | null;

/** Recent matches remembered (a fleet repeats a few paths); bounded, and only for short paths. */
const MATCH_CACHE_ENTRIES = 4096;
const MATCH_CACHE_MAX_PATH = 256;

export class Router {
  private readonly routes: CompiledRoute[] = [];
  private readonly recent = new Map<string, Match>();

  /** Registers a route; throws if route-authz.ts declares no authorization for it. */
  add(method: Method, path: string, handler: Handler, auth: AuthMode = "required"): this {
    const authz = declaredAuthz(method, path, auth);
    const names: string[] = [];
    const pattern = path
      .split(/(\{[a-zA-Z]+(?:=\*\*)?\})/)
      .map((part, i, parts) => {
        const m = /^\{([a-zA-Z]+)(=\*\*)?\}$/.exec(part);
        if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        if (m[2] && parts.slice(i + 1).some((p) => p !== ""))
          throw new Error(`route ${method} ${path}: a {${m[1]}=**} must end the path`);
        names.push(m[1]!);
        return m[2] ? "(.*)" : "([^/:]+)";
      })
      .join("");
    this.routes.push({ method, path, auth, handler, authz, regex: new RegExp(`^${pattern}$`), names });
    this.recent.clear();
    return this;
  }

  /** Every registered route, in registration order. */
  all(): readonly Route[] {
    return this.routes;
  }

  /** The route for a request, with its parameters (a fresh object the caller may keep), or why none. */
  match(method: string, pathname: string): Match {
    if (pathname.length > MATCH_CACHE_MAX_PATH) return this.scan(method, pathname);
    const key = `${method} ${pathname}`;
    let found = this.recent.get(key);
    if (found === undefined) {
      found = this.scan(method, pathname);
      if (this.recent.size >= MATCH_CACHE_ENTRIES) this.recent.clear();
      this.recent.set(key, found);
    }
    return found !== null && "route" in found ? { route: found.route, params: { ...found.params } } : found;
  }

  /** Every route in registration order: the first whose pattern and method fit. */
  private scan(method: string, pathname: string): Match {
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
