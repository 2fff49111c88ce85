/**
 * Loads the console's resumable-upload module (console/src/upload.ts, browser code built by esbuild,
 * not by tsc) into Node: bundled by the same esbuild the console's build uses, into a temp file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

export type UploadModule = typeof import("../../console/src/upload.js");

const SOURCE = new URL("../../../console/src/upload.ts", import.meta.url).pathname;

export async function loadUploadModule(): Promise<UploadModule> {
  const dir = mkdtempSync(join(tmpdir(), "warrant-console-upload-"));
  try {
    const out = join(dir, "upload.mjs");
    await build({
      entryPoints: [SOURCE],
      bundle: true,
      format: "esm",
      platform: "neutral",
      outfile: out,
      logLevel: "error",
    });
    return (await import(pathToFileURL(out).href)) as UploadModule;
  } finally {
    // The module is in memory once imported.
    setTimeout(() => rmSync(dir, { recursive: true, force: true }), 1000).unref();
  }
}
