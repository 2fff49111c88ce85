import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError, UsageError } from "../../errors.js";
import { command } from "../../spec.js";

function readKeySync(file: string, flag: string, cwd: string): Buffer {
  const path = resolve(cwd, file);
  if (!existsSync(path)) throw new UsageError(`argument ${flag}: no such file ${path}.`);
  return Buffer.from(readFileSync(path, "utf8").trim(), "utf8");
}

export default command({
  name: "reseal",
  summary: "re-seal the installation's private keys under a new master key",
  description:
    "Rotates the master key: every sealed private key of the datastore (the token-signing keys and the " +
    "system-managed service-account keys) is opened with the old key and sealed again under the new one, " +
    "in one transaction; if any key does not open under the old key, nothing changes. Stop every server " +
    "first, run this, then start every node with the new key (WARRANT_MASTER_KEY, or replace " +
    "<state-dir>/master.key). Keys are read from files holding 32 bytes as base64 or hex, never from flags.",
  flags: [
    {
      name: "datastore",
      type: "string",
      metavar: "URL",
      help: "A PostgreSQL datastore (postgres://…); without it, the SQLite file of --state-dir.",
    },
    {
      name: "old-key-file",
      type: "string",
      required: true,
      metavar: "FILE",
      help: "The current master key (e.g. <state-dir>/master.key).",
    },
    { name: "new-key-file", type: "string", required: true, metavar: "FILE", help: "The new master key." },
  ],
  examples: [
    "head -c 32 /dev/urandom | base64 > new.key",
    "warrant datastore reseal --datastore=postgres://warrant@db.internal/warrant --old-key-file=old.key --new-key-file=new.key",
  ],
  async run(ctx) {
    const { parseMasterKey, seal, unseal } = await import("../../../domain/tokens/sealed.js");
    const { openDatastore, isPostgresUrl, describeDatastore } = await import("../../../datastore/open.js");
    const { SqliteDatastore } = await import("../../../datastore/sqlite/sqlite-datastore.js");
    const { lockStateDir } = await import("../../../server/state-lock.js");
    const cwd = ctx.rt.cwd;
    const parse = (file: string, flag: string) => {
      try {
        return parseMasterKey(readKeySync(file, flag, cwd).toString("utf8"));
      } catch (err) {
        if (err instanceof UsageError) throw err;
        throw new UsageError(`argument ${flag}: ${(err as Error).message}`);
      }
    };
    const oldKey = parse(ctx.str("old-key-file")!, "--old-key-file");
    const newKey = parse(ctx.str("new-key-file")!, "--new-key-file");
    if (oldKey.equals(newKey)) throw new UsageError("The old and the new master key are the same.");
    const url = ctx.str("datastore") ?? ctx.rt.env.WARRANT_DATASTORE_URL;
    let lock: { release(): void } | undefined;
    let store: Awaited<ReturnType<typeof openDatastore>>;
    if (url) {
      if (!isPostgresUrl(url)) throw new UsageError("argument --datastore: expected a postgres:// URL.");
      try {
        store = await openDatastore(url, { log: () => {} });
      } catch (err) {
        throw new CliError(`Cannot open the datastore ${describeDatastore(url)}: ${(err as Error).message}`);
      }
    } else {
      const stateDir = ctx.session.stateDir();
      const file = join(stateDir, "warrant.db");
      if (!existsSync(file)) throw new CliError(`No Warrant datastore in ${stateDir} (no warrant.db).`);
      try {
        lock = lockStateDir(stateDir);
      } catch (err) {
        throw new CliError((err as Error).message, "Stop the server first.");
      }
      store = new SqliteDatastore(file);
    }
    try {
      const counts = await store.transaction(async (tx) => {
        let signing = 0;
        let accounts = 0;
        for (const { key, value } of await tx.list("signing-key")) {
          const pem = unseal(oldKey, value.sealedPrivateKey, value.kid);
          await tx.put("signing-key", key, { ...value, sealedPrivateKey: seal(newKey, pem, value.kid) });
          signing++;
        }
        for (const { key, value } of await tx.list("service-account-key")) {
          if (!value.sealedPrivateKey) continue;
          const pem = unseal(oldKey, value.sealedPrivateKey, value.keyId);
          await tx.put(
            "service-account-key",
            key,
            { ...value, sealedPrivateKey: seal(newKey, pem, value.keyId) },
            value.email,
          );
          accounts++;
        }
        return { signing, accounts };
      });
      ctx.rt.stdout.write(
        `Re-sealed ${counts.signing} signing key(s) and ${counts.accounts} system-managed service-account key(s) under the new master key.\n` +
          "Start every node with the new key (WARRANT_MASTER_KEY, or <state-dir>/master.key); the old key opens nothing any more.\n",
      );
      return 0;
    } catch (err) {
      if ((err as Error).name === "SealBroken")
        throw new CliError(
          `${(err as Error).message}. Nothing was changed.`,
          "Pass the key the servers run with as --old-key-file.",
        );
      throw err;
    } finally {
      await store.close();
      lock?.release();
    }
  },
});
