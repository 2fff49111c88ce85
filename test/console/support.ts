/** Users with passwords and sign-ins for the console's tests, through the public API and the sign-in pages. */
import type { Harness } from "../support/harness.js";

export const ADMIN = "admin@warrant.local";

/** Creates the user (if missing) and sets the password they sign in with. */
export async function userWithPassword(h: Harness, email: string, password: string): Promise<void> {
  if (email !== ADMIN) {
    const c = await h.call("POST", "/warrant/v1/users", { body: { email } });
    if (c.status !== 200 && c.status !== 409) throw new Error(`cannot create ${email}: ${c.text}`);
  }
  const r = await h.call("POST", `/warrant/v1/users/${encodeURIComponent(email)}:setPassword`, {
    body: { password },
  });
  if (r.status !== 200) throw new Error(`cannot set ${email}'s password: ${r.status} ${r.text}`);
}

/** Races a promise against a deadline, so a stuck browser step fails the test instead of hanging it. */
export function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]);
}

/** A cookie jar for HTTP-level sign-ins: name → value, from Set-Cookie headers. */
export class CookieJar {
  readonly cookies = new Map<string, string>();
  /** Every Set-Cookie header seen, as sent. */
  readonly raw: string[] = [];
  take(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      this.raw.push(c);
      const [pair] = c.split(";");
      const i = pair!.indexOf("=");
      const name = pair!.slice(0, i);
      if (/;\s*Max-Age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(i + 1));
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

async function get(url: string, jar: CookieJar): Promise<Response> {
  const res = await fetch(url, {
    redirect: "manual",
    headers: jar.cookies.size ? { cookie: jar.header() } : {},
  });
  jar.take(res);
  return res;
}

const field = (html: string, name: string) =>
  new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, "&");

/**
 * Signs in to the console as a browser without script would: /console/auth/login, the
 * authorization server's password form, the callback. Returns the callback's answer.
 */
export async function consoleSignIn(
  h: Harness,
  email: string,
  password: string,
  jar: CookieJar,
  hooks: { beforeCallback?: (callback: URL) => URL | undefined } = {},
): Promise<Response> {
  const login = await get(`${h.url}/console/auth/login?next=/console/iam`, jar);
  if (login.status !== 303) throw new Error(`login: ${login.status}`);
  const auth = await get(new URL(login.headers.get("location")!, h.url).href, jar);
  const html = await auth.text();
  if (auth.status !== 200) throw new Error(`authorization page: ${auth.status} ${html.slice(0, 300)}`);
  const action =
    /<form method="post" action="([^"]*)"/.exec(html)?.[1]?.replace(/&amp;/g, "&") ?? "/o/oauth2/auth";
  const posted = await fetch(new URL(action, h.url), {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
    body: new URLSearchParams({
      csrf: field(html, "csrf") ?? "",
      request: field(html, "request") ?? "",
      action: "password",
      email,
      password,
    }),
  });
  jar.take(posted);
  const to = posted.headers.get("location");
  if (!to) throw new Error(`password form: ${posted.status} ${(await posted.text()).slice(0, 300)}`);
  let callback = new URL(to, h.url);
  callback = hooks.beforeCallback?.(callback) ?? callback;
  return get(callback.href, jar);
}
