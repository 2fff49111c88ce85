import { stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { CliError } from "../../errors.js";
import { gsUrl, objectPath, parseGsUrl } from "../../gcs.js";
import { command } from "../../spec.js";
import { transfers } from "./shared.js";

async function isDirectory(p: string) {
  return (await stat(p).catch(() => null))?.isDirectory() === true;
}

export default command({
  name: "cp",
  summary: "copy a file to or from Cloud Storage, or between buckets",
  description:
    "Either side may be a local path or gs://BUCKET/OBJECT. A destination ending in / (or an existing local " +
    "directory) receives the source's base name. Large files upload in resumable 16 MiB chunks; downloads " +
    "are verified against the object's CRC32C and written atomically. A progress bar is shown on a terminal.",
  positionals: [
    { name: "SOURCE", help: "a local file or gs://BUCKET/OBJECT" },
    { name: "DESTINATION", help: "a local path or gs://BUCKET[/OBJECT]" },
  ],
  flags: [{ name: "content-type", type: "string", help: "Content type of an uploaded object." }],
  examples: [
    "warrant storage cp ./report.csv gs://my-bucket/reports/",
    "warrant storage cp gs://my-bucket/reports/report.csv .",
    "warrant storage cp gs://my-bucket/a.txt gs://other-bucket/a.txt",
  ],
  async run(ctx) {
    const src = ctx.arg("SOURCE");
    const dst = ctx.arg("DESTINATION");
    const from = parseGsUrl(src);
    const to = parseGsUrl(dst);
    const t = transfers(ctx);
    if (!from && !to)
      throw new CliError("One of SOURCE and DESTINATION must be a gs:// URL.", "Use cp(1) for local copies.");
    if (from && !from.path) throw new CliError(`[${src}] names a bucket, not an object.`);
    if (!from) {
      const local = resolve(ctx.rt.cwd, src);
      if (await isDirectory(local)) throw new CliError(`[${src}] is a directory; copy files one at a time.`);
      const name = !to!.path || to!.path.endsWith("/") ? `${to!.path}${basename(local)}` : to!.path;
      const o = await t.upload(local, to!.bucket, name, ctx.str("content-type"));
      ctx.status(`Copied ${src} to ${gsUrl(to!.bucket, String(o.name))} (${o.size} bytes).`);
      return 0;
    }
    if (!to) {
      let local = resolve(ctx.rt.cwd, dst);
      if (dst.endsWith("/") || (await isDirectory(local))) local = join(local, basename(from.path));
      const n = await t.download(from.bucket, from.path, local);
      ctx.status(`Copied ${src} to ${local} (${n} bytes).`);
      return 0;
    }
    const name = !to.path || to.path.endsWith("/") ? `${to.path}${basename(from.path)}` : to.path;
    await ctx.session
      .api()
      .request(
        "POST",
        `${objectPath(from.bucket, from.path)}/rewriteTo/b/${encodeURIComponent(to.bucket)}/o/${encodeURIComponent(name)}`,
        {
          body: {},
        },
      );
    ctx.status(`Copied ${src} to ${gsUrl(to.bucket, name)}.`);
    return 0;
  },
});
