/**
 * The sign-in pages the authorization endpoint serves: server-rendered HTML that needs no script,
 * with labelled inputs, a visible focus ring and a layout that fits a phone. Every page is sent
 * with headers that keep it out of frames (clickjacking, RFC 6749 §10.13), out of caches, and keep
 * a code-carrying URL out of Referer headers (RFC 9700 §4.2).
 */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f1f1f;background:#f0f4f9}
main{max-width:28rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:1rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}
@media (max-width:32rem){main{margin:0;border-radius:0;min-height:100vh;padding:1.5rem}}
h1{font-size:1.5rem;margin:0 0 .5rem}
p{margin:.5rem 0}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input{width:100%;padding:.75rem;font:inherit;border:1px solid #747775;border-radius:.5rem}
button{display:block;width:100%;margin-top:1.25rem;padding:.75rem 1rem;font:inherit;font-weight:600;border:0;border-radius:1.5rem;background:#0b57d0;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#0b57d0;border:1px solid #747775}
:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
input:focus-visible{outline-offset:0}
.alert{padding:.75rem;border-radius:.5rem;background:#fce8e6;color:#8c1d18;border:1px solid #f2b8b5}
.code{font:1rem/1.4 ui-monospace,monospace;word-break:break-all;padding:.75rem;background:#f0f4f9;border-radius:.5rem;user-select:all}
.who{color:#444746}
hr{border:0;border-top:1px solid #c4c7c5;margin:1.5rem 0}
`;
const STYLE_HASH = createHash("sha256").update(CSS, "utf8").digest("base64");

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "text/html; charset=utf-8",
  "Cache-Control": "no-store",
  Pragma: "no-cache",
  "Referrer-Policy": "no-referrer",
  // No script at all; the one inline style by its hash. No form-action: a sign-in's answer is a
  // redirect to the client's registered URI, which form-action would also govern.
  "Content-Security-Policy": `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; frame-ancestors 'none'`,
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
};

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

export function sendPage(
  res: ServerResponse,
  status: number,
  title: string,
  body: string,
  headers: Record<string, string | string[]> = {},
) {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} – Warrant</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
  res.writeHead(status, { ...PAGE_HEADERS, ...headers, "Content-Length": Buffer.byteLength(html) });
  res.end(res.req.method === "HEAD" ? undefined : html);
}

/** An error the browser's user must read: never a redirect (RFC 6749 §4.1.2.1). */
export function errorPage(res: ServerResponse, status: number, title: string, message: string) {
  sendPage(
    res,
    status,
    title,
    `<h1>${esc(title)}</h1>\n<p class="alert" role="alert">${esc(message)}</p>\n<p>Close this page and start the sign-in again from the application.</p>`,
  );
}

export interface SignInForm {
  action: string;
  csrf: string;
  /** The authorization request's query string, carried through the form and validated again. */
  request: string;
  clientName: string;
  email?: string;
  error?: string;
  /** The account this browser is signed in as, offered to continue with. */
  signedInAs?: string;
  /** Label of the upstream identity provider's button. */
  ssoLabel?: string;
}

export function signInBody(f: SignInForm): string {
  const hidden = `<input type="hidden" name="csrf" value="${esc(f.csrf)}">
<input type="hidden" name="request" value="${esc(f.request)}">`;
  const parts = [`<h1>Sign in</h1>`, `<p>to continue to <strong>${esc(f.clientName)}</strong></p>`];
  if (f.error) parts.push(`<p class="alert" role="alert" id="signin-error">${esc(f.error)}</p>`);
  if (f.signedInAs)
    parts.push(`<form method="post" action="${esc(f.action)}">
${hidden}
<p class="who">Signed in as <strong>${esc(f.signedInAs)}</strong></p>
<button type="submit" name="action" value="continue">Continue as ${esc(f.signedInAs)}</button>
</form>
<hr>`);
  parts.push(`<form method="post" action="${esc(f.action)}">
${hidden}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${esc(f.email ?? "")}"${f.error ? ' aria-describedby="signin-error"' : ""}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" name="action" value="password">Sign in</button>
</form>`);
  if (f.ssoLabel)
    parts.push(`<hr>
<form method="post" action="${esc(f.action)}">
${hidden}
<button type="submit" class="secondary" name="action" value="sso">Sign in with ${esc(f.ssoLabel)}</button>
</form>`);
  return parts.join("\n");
}

/** gcloud's `--no-launch-browser`: the code is shown to be pasted, not sent anywhere. */
export function codeBody(code: string, clientName: string): string {
  return `<h1>Copy this code</h1>
<p>Paste it into <strong>${esc(clientName)}</strong> at the prompt <em>enter the verification code provided in your browser</em>.</p>
<p class="code" id="code" aria-label="Verification code">${esc(code)}</p>
<p>It works once, within a minute. Do not share it.</p>`;
}
