import { existsSync } from "node:fs";
import { cp } from "node:fs/promises";
import { join, resolve } from "node:path";
import { CliError, UsageError } from "../../errors.js";
import { command } from "../../spec.js";

/** Documents written per page read from the source (all in one transaction on the target). */
const PAGE = 500;
/** Documents of each kind compared field by field after the copy. */
const SPOT_CHECKS = 5;

export default command({
  name: "copy",
  summary: "copy an installation from a state directory's SQLite file into PostgreSQL",
  description:
    "Copies every document of the SQLite datastore in --from (a state directory; no server may be running " +
    "on it) into the empty datastore --to, in one transaction: the target gets all of it or nothing. Then " +
    "verifies the copy: the number of documents of every kind must match, and a sample of each kind must " +
    "read back identical. The signing keys stay sealed under the source's master key: every node serving " +
    "the copy needs that key (its master.key, or WARRANT_MASTER_KEY). With --blob-dir, object bytes are " +
    "copied there too (give that directory to `warrant serve --blob-dir`); otherwise they stay in " +
    "<from>/storage. The source is left as it was.",
  flags: [
    {
      name: "from",
      type: "string",
      required: true,
      metavar: "STATE_DIR",
      help: "The state directory whose warrant.db to copy.",
    },
    {
      name: "to",
      type: "string",
      required: true,
      metavar: "URL",
      help: "The target datastore, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE; it must hold no installation yet.",
    },
    {
      name: "blob-dir",
      type: "string",
      metavar: "DIR",
      help: "Also copy object bytes (<from>/storage/blobs) into DIR/blobs, for `warrant serve --blob-dir=DIR`.",
    },
  ],
  examples: [
    "warrant datastore copy --from=.warrant --to=postgres://warrant@db.internal:5432/warrant --blob-dir=/mnt/warrant-blobs",
  ],
  async run(ctx) {
    const { describeDatastore, isPostgresUrl, openDatastore } = await import("../../../datastore/open.js");
    const { SqliteDatastore } = await import("../../../datastore/sqlite/sqlite-datastore.js");
    const { KINDS } = await import("../../../datastore/datastore.js");
    const { lockStateDir } = await import("../../../server/state-lock.js");
    const from = resolve(ctx.rt.cwd ?? process.cwd(), ctx.str("from")!);
    const to = ctx.str("to")!;
    if (!isPostgresUrl(to)) throw new UsageError("argument --to: expected a postgres:// URL.");
    const file = join(from, "warrant.db");
    if (!existsSync(file))
      throw new CliError(
        `No Warrant datastore in ${from} (no warrant.db).`,
        "Pass the state directory of the installation to copy.",
      );
    // No server may change the source while it is copied.
    let lock: { release(): void };
    try {
      lock = lockStateDir(from);
    } catch (err) {
      throw new CliError(
        (err as Error).message,
        "Stop the server first: the copy must see a state that does not move.",
      );
    }
    const where = describeDatastore(to);
    const source = new SqliteDatastore(file);
    try {
      let target: Awaited<ReturnType<typeof openDatastore>>;
      try {
        target = await openDatastore(to, { log: () => {} });
      } catch (err) {
        throw new CliError(`Cannot open the datastore ${where}: ${(err as Error).message}`, "Check --to.");
      }
      try {
        if (!(await source.get("meta", "installation")))
          throw new CliError(
            `${file} holds no installation.`,
            "Pass the state directory of a server that has started.",
          );
        const counts = new Map<string, number>();
        await target.transaction(async (tx) => {
          for (const kind of KINDS)
            if ((await tx.list(kind, { limit: 1 })).length)
              throw new CliError(
                `The datastore ${where} is not empty (it holds ${kind} documents).`,
                "Copy into an empty database (or schema); nothing was written.",
              );
          for (const kind of KINDS) {
            let after: string | undefined;
            let n = 0;
            for (;;) {
              const rows = await source.dump(kind, after, PAGE);
              await tx.putMany(kind, rows);
              n += rows.length;
              if (rows.length < PAGE) break;
              after = rows[rows.length - 1]!.key;
            }
            counts.set(kind, n);
          }
        });
        // Verify: counts of every kind, and a sample of each read back from the target.
        const problems: string[] = [];
        let checked = 0;
        for (const kind of KINDS) {
          const expected = counts.get(kind) ?? 0;
          let got = 0;
          let after: string | undefined;
          for (;;) {
            const rows = await target.dump(kind, after, 5_000);
            got += rows.length;
            if (rows.length < 5_000) break;
            after = rows[rows.length - 1]!.key;
          }
          if (got !== expected) problems.push(`${kind}: ${expected} in the source, ${got} in the target`);
          const all = await source.dump(kind, undefined, Math.max(expected, 1));
          const sample = new Set([0, all.length - 1, Math.floor(all.length / 2)]);
          while (sample.size < Math.min(SPOT_CHECKS, all.length))
            sample.add(Math.floor(Math.random() * all.length));
          for (const i of sample) {
            const row = all[i];
            if (!row) continue;
            const copied = await target.get(kind, row.key);
            checked++;
            if (JSON.stringify(copied) !== JSON.stringify(row.value))
              problems.push(`${kind} ${JSON.stringify(row.key)} differs in the target`);
          }
        }
        if (problems.length)
          throw new CliError(
            `The copy in ${where} does not match the source:\n  ${problems.join("\n  ")}`,
            "Drop the target's tables and copy again.",
          );
        const total = [...counts.values()].reduce((a, b) => a + b, 0);
        const lines = [...counts].filter(([, n]) => n > 0).map(([k, n]) => `  ${k.padEnd(24)} ${n}`);
        ctx.rt.stdout.write(
          `Copied ${total} documents from ${file} to ${where}:\n${lines.join("\n")}\n` +
            `Verified: every kind's count matches, and ${checked} sampled documents read back identical.\n`,
        );
        const blobDir = ctx.str("blob-dir");
        const blobs = join(from, "storage", "blobs");
        if (blobDir && existsSync(blobs)) {
          const dest = resolve(ctx.rt.cwd ?? process.cwd(), blobDir, "blobs");
          await cp(blobs, dest, { recursive: true, force: false, errorOnExist: false });
          ctx.rt.stdout.write(`Copied object bytes to ${dest}.\n`);
        } else if (existsSync(blobs))
          ctx.rt.stdout.write(
            `Object bytes stay in ${join(from, "storage")}: serve with --blob-dir pointing at a copy of it.\n`,
          );
        const masterFile = join(from, "master.key");
        ctx.rt.stdout.write(
          `Signing keys are sealed under the source's master key: start every node with ${existsSync(masterFile) ? `the key in ${masterFile}` : "the same WARRANT_MASTER_KEY as the source"} (as WARRANT_MASTER_KEY, or as master.key in its state directory).\n`,
        );
        return 0;
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
      lock.release();
    }
  },
});
