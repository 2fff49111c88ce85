import { gsUrl } from "../../gcs.js";
import { command } from "../../spec.js";
import { gs } from "./shared.js";

interface ObjectItem {
  name: string;
  size?: string;
  updated?: string;
}

export default command({
  name: "ls",
  summary: "list buckets, or the objects and prefixes under a gs:// URL",
  description:
    "Without a URL, lists the project's buckets. With gs://BUCKET[/PREFIX], lists the objects directly under " +
    "the prefix and the 'directories' (prefixes ending in /) below it; -r lists every object under it. Like " +
    "`gcloud storage ls`, it works on an instance with no login (Application Default Credentials).",
  positionals: [{ name: "URL", help: "gs://BUCKET or gs://BUCKET/PREFIX", optional: true }],
  flags: [
    { name: "long", short: "l", type: "boolean", help: "Also print each object's size and update time." },
    { name: "recursive", short: "r", type: "boolean", help: "List every object under the prefix." },
  ],
  examples: [
    "warrant storage ls",
    "warrant storage ls gs://my-bucket/logs/",
    "warrant storage ls -l -r gs://my-bucket",
  ],
  async run(ctx) {
    const api = ctx.session.api();
    const url = ctx.optArg("URL");
    if (!url) {
      const buckets = await api.listAll<{ name: string }>("/storage/v1/b", "items", {
        project: ctx.session.project(),
      });
      for (const b of buckets) ctx.rt.stdout.write(`${gsUrl(b.name)}\n`);
      return 0;
    }
    const { bucket, path } = gs(url);
    const long = ctx.bool("long");
    const query = { prefix: path || undefined, delimiter: ctx.bool("recursive") ? undefined : "/" };
    let pageToken: string | undefined;
    let total = 0;
    let bytes = 0;
    do {
      const page = await api.request<{ items?: ObjectItem[]; prefixes?: string[]; nextPageToken?: string }>(
        "GET",
        `/storage/v1/b/${encodeURIComponent(bucket)}/o`,
        { query: { ...query, pageToken } },
      );
      for (const p of page.prefixes ?? [])
        ctx.rt.stdout.write(`${long ? "                                 " : ""}${gsUrl(bucket, p)}\n`);
      for (const o of page.items ?? []) {
        total++;
        bytes += Number(o.size ?? 0);
        ctx.rt.stdout.write(
          long
            ? `${(o.size ?? "0").padStart(12)}  ${o.updated ?? ""}  ${gsUrl(bucket, o.name)}\n`
            : `${gsUrl(bucket, o.name)}\n`,
        );
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    if (long) ctx.rt.stdout.write(`TOTAL: ${total} objects, ${bytes} bytes\n`);
    return 0;
  },
});
