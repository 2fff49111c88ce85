/** Drives the authorization endpoint over plain HTTP, as a browser without script would. */
import { createHash, randomBytes } from "node:crypto";
import type { Harness } from "./harness.js";

export const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";

export function pkcePair() {
  const verifier = randomBytes(48).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** A minimal cookie jar: name → value, from Set-Cookie headers. */
export class Jar {
  readonly cookies = new Map<string, string>();
  take(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair!.indexOf("=");
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (/Max-Age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

export interface AuthParams {
  client_id: string;
  redirect_uri: string;
  state?: string;
  scope?: string;
  code_challenge?: string;
  code_challenge_method?: string;
  response_type?: string;
  access_type?: string;
  prompt?: string;
}

export function authorizeQuery(p: AuthParams): string {
  const q = new URLSearchParams({ response_type: "code", scope: `openid ${CLOUD_PLATFORM}`, ...p });
  for (const [k, v] of [...q]) if (v === "") q.delete(k);
  return q.toString();
}

export async function getPage(h: Harness, query: string, jar = new Jar(), path = "/o/oauth2/auth") {
  const res = await fetch(`${h.url}${path}?${query}`, {
    redirect: "manual",
    headers: jar.cookies.size ? { cookie: jar.header() } : {},
  });
  jar.take(res);
  return { res, html: await res.text(), jar };
}

export const hidden = (html: string, name: string) =>
  new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, "&");

export async function submit(h: Harness, jar: Jar, fields: Record<string, string>, path = "/o/oauth2/auth") {
  const res = await fetch(`${h.url}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
    body: new URLSearchParams(fields),
  });
  jar.take(res);
  return { res, html: await res.text() };
}

/** GET the page, then POST email+password through its form; returns the redirect (or page). */
export async function signIn(h: Harness, query: string, email: string, password: string, jar = new Jar()) {
  const page = await getPage(h, query, jar);
  if (page.res.status !== 200) throw new Error(`sign-in page: ${page.res.status} ${page.html}`);
  const csrf = hidden(page.html, "csrf")!;
  const request = hidden(page.html, "request")!;
  const r = await submit(h, jar, { csrf, request, action: "password", email, password });
  return { ...r, jar, location: r.res.headers.get("location") ?? undefined };
}

export async function exchange(h: Harness, fields: Record<string, string>) {
  const res = await fetch(`${h.url}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", ...fields }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: tests read the JSON field by field
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

export async function createUserWithPassword(h: Harness, email: string, password: string) {
  const c = await h.call("POST", "/warrant/v1/users", { body: { email } });
  if (c.status !== 200 && c.status !== 409) throw new Error(c.text);
  const r = await h.call("POST", `/warrant/v1/users/${email}:setPassword`, { body: { password } });
  if (r.status !== 200) throw new Error(r.text);
}

export const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
