/**
 * A read-only view of a state directory's datastore, for commands that answer offline
 * (`warrant iam explain`). It opens `warrant.db` with a read-only SQLite connection, so it never
 * writes, never migrates, and works beside a running `warrant serve` (WAL lets a reader in while
 * the server writes; it sees committed data only).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type {
  DocumentStore,
  Documents,
  Entry,
  IndexedKind,
  Kind,
  ListOptions,
  TextEntry,
} from "../datastore/datastore.js";
import { SqliteDocuments } from "../datastore/sqlite/sqlite-datastore.js";
import { CliError } from "./errors.js";

export const DATASTORE_FILE = "warrant.db";

export class ReadOnlyStore implements DocumentStore {
  private readonly db: Database.Database;
  /** The server's own read path over a read-only connection: same queries, same ordering. */
  private readonly docs: SqliteDocuments;

  constructor(readonly file: string) {
    this.db = new Database(file, { readonly: true, fileMustExist: true });
    this.db.pragma("busy_timeout = 5000");
    this.docs = new SqliteDocuments(this.db);
  }

  get<K extends Kind>(kind: K, key: string): Promise<Documents[K] | undefined> {
    return this.docs.get(kind, key);
  }

  getUnique<K extends IndexedKind>(kind: K, value: string): Promise<Documents[K] | undefined> {
    return this.docs.getUnique(kind, value);
  }

  list<K extends Kind>(kind: K, o: ListOptions = {}): Promise<Entry<Documents[K]>[]> {
    return this.docs.list(kind, o);
  }

  listText(kind: Kind, o: ListOptions = {}): Promise<TextEntry[]> {
    return this.docs.listText(kind, o);
  }

  put(): Promise<void> {
    return Promise.reject(new Error("the offline datastore view is read-only"));
  }
  putMany(): Promise<void> {
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
