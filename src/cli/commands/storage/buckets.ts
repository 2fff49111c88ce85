import { CliError } from "../../errors.js";
import { gsUrl } from "../../gcs.js";
import { command, group } from "../../spec.js";
import { gs } from "./shared.js";

const bucketOf = (url: string) => {
  const { bucket, path } = gs(url);
  if (path) throw new CliError(`[${url}] names an object, not a bucket.`);
  return bucket;
};

const create = command({
  name: "create",
  summary: "create a bucket in the project",
  positionals: [{ name: "URL", help: "gs://BUCKET" }],
  flags: [
    { name: "location", type: "string", help: "Location (default US)." },
    { name: "default-storage-class", type: "string", help: "STANDARD, NEARLINE, COLDLINE or ARCHIVE." },
  ],
  examples: ["warrant storage buckets create gs://my-bucket --location=us-central1"],
  async run(ctx) {
    const name = bucketOf(ctx.arg("URL"));
    await ctx.session.api().request("POST", "/storage/v1/b", {
      query: { project: ctx.session.project() },
      body: {
        name,
        ...(ctx.str("location") ? { location: ctx.str("location") } : {}),
        ...(ctx.str("default-storage-class") ? { storageClass: ctx.str("default-storage-class") } : {}),
      },
    });
    ctx.status(`Creating ${gsUrl(name)}...done.`);
    return 0;
  },
});

const del = command({
  name: "delete",
  summary: "delete an empty bucket",
  positionals: [{ name: "URL", help: "gs://BUCKET" }],
  examples: ["warrant storage buckets delete gs://my-bucket"],
  async run(ctx) {
    const name = bucketOf(ctx.arg("URL"));
    await ctx.session.api().request("DELETE", `/storage/v1/b/${encodeURIComponent(name)}`);
    ctx.status(`Removed ${gsUrl(name)}.`);
    return 0;
  },
});

const list = command({
  name: "list",
  summary: "list the project's buckets",
  examples: ["warrant storage buckets list --format='value(name,location)'"],
  async run(ctx) {
    const items = await ctx.session
      .api()
      .listAll("/storage/v1/b", "items", { project: ctx.session.project() });
    ctx.out.list(items, "name,location,storageClass,timeCreated");
    return 0;
  },
});

export default group({
  name: "buckets",
  summary: "create, list and delete buckets",
  children: [create, list, del],
});
