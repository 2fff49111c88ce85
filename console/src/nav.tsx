/**
 * Client-side navigation under /console: the location as React state, `navigate()`, and `<Link>`
 * (a real anchor, so links open in new tabs and work from the keyboard). Every page's state that is
 * worth sharing (the project, the troubleshooter's question, the audit filters) lives in the URL.
 */
import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from "react";

export const BASE = "/console";
const CHANGE = "warrant:navigate";

function subscribe(cb: () => void) {
  window.addEventListener("popstate", cb);
  window.addEventListener(CHANGE, cb);
  return () => {
    window.removeEventListener("popstate", cb);
    window.removeEventListener(CHANGE, cb);
  };
}

const snapshot = () => location.pathname + location.search;

/** The current console path (without /console) and its query. */
export function useLocation(): { path: string; query: URLSearchParams; href: string } {
  const href = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(href, location.origin);
  const path = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) || "/" : url.pathname;
  return { path: path.replace(/\/+$/, "") || "/", query: url.searchParams, href };
}

/** Goes to a console URL (`/iam?project=x`, relative to /console) without reloading. */
export function navigate(to: string, opts: { replace?: boolean } = {}) {
  const target = to.startsWith(BASE) ? to : BASE + to;
  if (target === snapshot()) return;
  if (opts.replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  window.dispatchEvent(new Event(CHANGE));
}

/** Builds `/path?k=v` from a path and parameters, leaving out empty values. */
export function href(path: string, params: Record<string, string | undefined | null> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const qs = q.toString();
  return `${BASE}${path}${qs ? `?${qs}` : ""}`;
}

/** Replaces some query parameters of the current URL (e.g. filters), keeping the others. */
export function setQuery(
  params: Record<string, string | undefined | null>,
  opts: { replace?: boolean } = {},
) {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(params)) {
    if (v) url.searchParams.set(k, v);
    else url.searchParams.delete(k);
  }
  navigate(url.pathname + url.search, opts);
}

export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { href: to, onClick, ...rest } = props;
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    if (!to.startsWith(BASE)) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={click} {...rest} />;
}
