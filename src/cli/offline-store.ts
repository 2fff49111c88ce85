/**
 * A read-only view of a state directory's datastore, for commands that answer offline
 * (`warrant iam explain`). It opens `warrant.db` with a read-only SQLite connection, so it never
 * writes, never migrates, and works beside a running `warrant serve` (WAL lets a reader in while
 * the server writes; it sees committed data only).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { DocumentStore, Entry, Kind, ListOptions } from "../datastore/datastore.js";
import { CliError } from "./errors.js";

export const DATASTORE_FILE = "warrant.db";
const LIST_OPTIONS = new Set(["parent", "prefix", "after", "limit"]);

export class ReadOnlyStore implements DocumentStore {
  private readonly db: Database.Database;

  constructor(readonly file: string) {
    this.db = new Database(file, { readonly: true, fileMustExist: true });
    this.db.pragma("busy_timeout = 5000");
  }

  async get<T>(kind: Kind, key: string): Promise<T | undefined> {
    const row = this.db
      .prepare<[string, string], { value: string }>("SELECT value FROM documents WHERE kind = ? AND key = ?")
      .get(kind, key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async list<T>(kind: Kind, o: ListOptions = {}): Promise<Entry<T>[]> {
    // Fail loudly rather than ignore a list option added to the interface after this view was written.
    const unknown = Object.keys(o).filter((k) => !LIST_OPTIONS.has(k));
    if (unknown.length) throw new Error(`ReadOnlyStore.list: unsupported option ${unknown.join(", ")}`);
    const where = ["kind = ?"];
    const args: (string | number)[] = [kind];
    if (o.parent !== undefined) {
      where.push("parent = ?");
      args.push(o.parent);
    }
    if (o.prefix) {
      where.push("key >= ? AND key < ?");
      args.push(o.prefix, `${o.prefix}\uffff`);
    }
    if (o.after !== undefined) {
      where.push("key > ?");
      args.push(o.after);
    }
    let sql = `SELECT key, value FROM documents WHERE ${where.join(" AND ")} ORDER BY key`;
    if (o.limit !== undefined) {
      sql += " LIMIT ?";
      args.push(o.limit);
    }
    const rows = this.db.prepare<(string | number)[], { key: string; value: string }>(sql).all(...args);
    return rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) as T }));
  }

  put(): Promise<void> {
    return Promise.reject(new Error("the offline datastore view is read-only"));
  }
  insert(): Promise<boolean> {
    return Promise.reject(new Error("the offline datastore view is read-only"));
  }
  delete(): Promise<boolean> {
    return Promise.reject(new Error("the offline datastore view is read-only"));
  }

  close(): void {
    this.db.close();
  }
}

/** Opens `<stateDir>/warrant.db` read-only, or explains why it cannot (exit code `exitCode`). */
export async function openReadOnlyStore(stateDir: string, exitCode = 1): Promise<ReadOnlyStore> {
  const file = join(stateDir, DATASTORE_FILE);
  if (!existsSync(file))
    throw new CliError(
      `No Warrant datastore at ${file}.`,
      "Pass --state-dir (or set WARRANT_STATE_DIR) to the directory `warrant serve` uses; " +
        "a first `warrant serve` creates it.",
      exitCode,
    );
  let store: ReadOnlyStore;
  try {
    store = new ReadOnlyStore(file);
  } catch (e) {
    throw new CliError(`Cannot open the datastore ${file}: ${(e as Error).message}`, undefined, exitCode);
  }
  try {
    await store.list("meta", { limit: 1 });
  } catch (e) {
    store.close();
    throw new CliError(`${file} is not a Warrant datastore: ${(e as Error).message}`, undefined, exitCode);
  }
  return store;
}
