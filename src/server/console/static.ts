/**
 * The console's built files (dist/console, made by scripts/build-console.mjs), read once at start
 * and served from memory with the console's security headers: hashed assets with a year-long
 * immutable cache, index.html with no-cache, and index.html for any other path under /console so
 * deep links (`/console/iam?project=p`) load the application.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** dist/console beside dist/src (this file is dist/src/server/console/static.js once built). */
export const CONSOLE_DIST = resolve(dirname(fileURLToPath(import.meta.url)), "../../../console");

/**
 * No inline script or style, nothing from another origin, not frameable; `data:` images only for
 * the empty favicon. `connect-src 'self'`: the console talks only to its own back end.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Sent with everything under /console. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": CONSOLE_CSP,
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

export interface StaticFile {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  etag: string;
  cacheControl: string;
}

export interface ConsoleFiles {
  index: StaticFile | undefined;
  /** By name under /console/assets/. */
  assets: Map<string, StaticFile>;
}

function file(path: string, cacheControl: string): StaticFile {
  const body = readFileSync(path);
  const type = TYPES[extname(path)] ?? "application/octet-stream";
  const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 1024;
  return {
    body,
    gzip: compressible ? gzipSync(body) : undefined,
    type,
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
    cacheControl,
  };
}

/** Reads the built console; with none built, `index` is undefined and /console says how to build it. */
export function loadConsoleFiles(dir = CONSOLE_DIST): ConsoleFiles {
  const assets = new Map<string, StaticFile>();
  if (!existsSync(join(dir, "index.html"))) return { index: undefined, assets };
  const assetDir = join(dir, "assets");
  if (existsSync(assetDir))
    for (const name of readdirSync(assetDir))
      assets.set(name, file(join(assetDir, name), "public, max-age=31536000, immutable"));
  return { index: file(join(dir, "index.html"), "no-cache"), assets };
}
