#!/usr/bin/env node
/**
 * Builds the web console (console/src) into dist/console: one minified ES module and one stylesheet
 * with content hashes in their names (served with a year-long cache), their source maps, and
 * index.html naming them (served with no-cache). No inline script or style, so the console runs
 * under a CSP of `script-src 'self'; style-src 'self'`. Run by `npm run build` and `npm run prepare`.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "console");
const assets = join(out, "assets");

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const started = Date.now();
const result = await build({
  absWorkingDir: root,
  entryPoints: ["console/src/main.tsx"],
  bundle: true,
  minify: true,
  sourcemap: "linked",
  format: "esm",
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  jsx: "automatic",
  outdir: assets,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  define: { "process.env.NODE_ENV": '"production"' },
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const script = outputs.find((f) => f.endsWith(".js"));
const style = outputs.find((f) => f.endsWith(".css"));
if (!script || !style)
  throw new Error(`console build produced no script or stylesheet: ${outputs.join(", ")}`);

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Warrant console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/assets/${style}">
<script type="module" src="/console/assets/${script}"></script>
</head>
<body>
<div id="root"></div>
<noscript>The Warrant console needs JavaScript. The same actions are available through the warrant CLI and gcloud.</noscript>
</body>
</html>
`;
writeFileSync(join(out, "index.html"), html);
writeFileSync(
  join(out, "manifest.json"),
  `${JSON.stringify({ script, style, builtAt: new Date().toISOString() }, null, 2)}\n`,
);
process.stderr.write(
  `console: built ${script} and ${style} into dist/console in ${Date.now() - started} ms\n`,
);
