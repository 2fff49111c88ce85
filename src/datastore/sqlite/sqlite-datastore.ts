/**
 * The embedded datastore: one SQLite file in WAL mode. better-sqlite3 is synchronous, so the async
 * contract is met by serializing transactions through a queue on a dedicated write connection
 * (BEGIN IMMEDIATE … COMMIT spanning the awaited callback), while plain reads use a second
 * connection that only ever sees committed data.
 */
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import {
  type Datastore,
  type DocumentStore,
  type Documents,
  type Entry,
  type IndexedKind,
  type Kind,
  type ListOptions,
  type Row,
  type TextEntry,
  UNIQUE_INDEXES,
  UniqueViolation,
  uniqueValueOf,
} from "../datastore.js";

export const SCHEMA_VERSION = 2;

/** Forward-only: version N is reached by applying migration N to version N-1. Never edit a shipped one. */
export const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE documents (
      kind   TEXT NOT NULL,
      key    TEXT NOT NULL,
      parent TEXT,
      value  TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (kind, key)
    ) WITHOUT ROWID;
    CREATE INDEX documents_by_parent ON documents (kind, parent, key);
  `,
  // A unique secondary value per document (UNIQUE_INDEXES), e.g. a service account's unique id.
  2: `
    ALTER TABLE documents ADD COLUMN unique_value TEXT;
    UPDATE documents SET unique_value = json_extract(value, '$.uniqueId') WHERE kind = 'service-account';
    CREATE UNIQUE INDEX documents_by_unique_value ON documents (kind, unique_value) WHERE unique_value IS NOT NULL;
  `,
};

/** Applies the migrations after the database's version up to `target` in one transaction. */
export function migrateSqlite(db: Db, file: string, target = SCHEMA_VERSION): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  const row = db.prepare<[], { version: number }>("SELECT version FROM schema_version").get();
  let version = row?.version ?? 0;
  if (version > SCHEMA_VERSION)
    throw new Error(
      `${file} was written by a newer Warrant (schema ${version}, this build knows ${SCHEMA_VERSION}); upgrade Warrant.`,
    );
  const apply = db.transaction(() => {
    while (version < target) {
      version++;
      db.exec(MIGRATIONS[version]!);
    }
    db.exec("DELETE FROM schema_version");
    db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(version);
  });
  apply();
}

function hasUniqueColumn(db: Db): boolean {
  return db
    .prepare<[], { name: string }>("PRAGMA table_info(documents)")
    .all()
    .some((c) => c.name === "unique_value");
}

type Db = Database.Database;

function statements(db: Db) {
  return {
    getUnique: db.prepare<[string, string], { value: string }>(
      "SELECT value FROM documents WHERE kind = ? AND unique_value = ?",
    ),
    put: db.prepare(
      `INSERT INTO documents (kind, key, parent, value, updated_at, unique_value) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (kind, key) DO UPDATE SET parent = excluded.parent, value = excluded.value,
         updated_at = excluded.updated_at, unique_value = excluded.unique_value`,
    ),
    insert: db.prepare(
      "INSERT INTO documents (kind, key, parent, value, updated_at, unique_value) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO NOTHING",
    ),
    delete: db.prepare("DELETE FROM documents WHERE kind = ? AND key = ?"),
  };
}

/**
 * The tightest of a listing's lower bounds on the key (the prefix and `from` inclusive, `after`
 * exclusive), compared as SQLite compares keys (UTF-8 bytes). SQLite seeks the index with one
 * lower bound and filters by the others: given a prefix and a page token it started at the prefix
 * and read every key up to the page, so a walk through a bucket or a project's instances read
 * quadratically many rows.
 */
function lowerBound(o: ListOptions): { key: string; inclusive: boolean } | undefined {
  let best: { key: string; inclusive: boolean } | undefined;
  const consider = (key: string | undefined, inclusive: boolean) => {
    if (key === undefined) return;
    const c = best ? Buffer.compare(Buffer.from(key), Buffer.from(best.key)) : 1;
    if (c > 0 || (c === 0 && !inclusive)) best = { key, inclusive };
  };
  // An empty prefix or `from` bounds nothing (every key is >= "").
  consider(o.prefix || undefined, true);
  consider(o.from || undefined, true);
  consider(o.after, false);
  return best;
}

/** Documents over one SQLite connection (also used read-only by offline CLI commands). */
export class SqliteDocuments implements DocumentStore {
  /** Prepared once per distinct query shape (there are a dozen at most). */
  private readonly listStatements = new Map<string, Database.Statement<(string | number)[], TextEntry>>();
  private readonly stmts: ReturnType<typeof statements> | undefined;
  private readonly getStatement: Database.Statement<[string, string], { value: string }>;
  constructor(private readonly db: Db) {
    this.getStatement = db.prepare("SELECT value FROM documents WHERE kind = ? AND key = ?");
    // A read-only view of a database from before schema 2 has no unique_value column: it scans.
    this.stmts = hasUniqueColumn(db) ? statements(db) : undefined;
  }

  private get s(): ReturnType<typeof statements> {
    if (!this.stmts)
      throw new Error("the datastore's schema is older than this build; start `warrant serve` to migrate it");
    return this.stmts;
  }

  async get<K extends Kind>(kind: K, key: string): Promise<Documents[K] | undefined> {
    const row = this.getStatement.get(kind, key);
    return row ? (JSON.parse(row.value) as Documents[K]) : undefined;
  }

  async getUnique<K extends IndexedKind>(kind: K, value: string): Promise<Documents[K] | undefined> {
    if (!this.stmts) {
      const index = UNIQUE_INDEXES[kind];
      return (await this.list(kind)).find((e) => index(e.value) === value)?.value;
    }
    const row = this.stmts.getUnique.get(kind, value);
    return row ? (JSON.parse(row.value) as Documents[K]) : undefined;
  }

  async list<K extends Kind>(kind: K, o: ListOptions = {}): Promise<Entry<Documents[K]>[]> {
    return (await this.listText(kind, o)).map((r) => ({
      key: r.key,
      value: JSON.parse(r.text) as Documents[K],
    }));
  }

  async listText(kind: Kind, o: ListOptions = {}): Promise<TextEntry[]> {
    const where = ["kind = ?"];
    const args: (string | number)[] = [kind];
    if (o.parent !== undefined) {
      where.push("parent = ?");
      args.push(o.parent);
    }
    const low = lowerBound(o);
    if (low) {
      where.push(low.inclusive ? "key >= ?" : "key > ?");
      args.push(low.key);
    }
    if (o.prefix !== undefined && o.prefix !== "") {
      // Range scan instead of LIKE: keys may contain % and _.
      where.push("key < ?");
      args.push(`${o.prefix}\u{10FFFF}`);
    }
    // Under a parent, the parent index gives the rows in key order already. Without statistics the
    // planner prefers the primary key (kind, key) to skip a sort, and then filters every document
    // of the kind by parent: a page of one project's accounts read all 100,000 accounts.
    const from = o.parent !== undefined ? "documents INDEXED BY documents_by_parent" : "documents";
    let sql = `SELECT key, value AS text FROM ${from} WHERE ${where.join(" AND ")} ORDER BY key`;
    if (o.limit !== undefined) {
      sql += " LIMIT ?";
      args.push(o.limit);
    }
    let stmt = this.listStatements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<(string | number)[], TextEntry>(sql);
      this.listStatements.set(sql, stmt);
    }
    return stmt.all(...args);
  }

  async put<K extends Kind>(kind: K, key: string, value: Documents[K], parent?: string): Promise<void> {
    const unique = uniqueValueOf(kind, value);
    uniquely(kind, unique, () =>
      this.s.put.run(kind, key, parent ?? null, JSON.stringify(value), Date.now(), unique),
    );
  }

  async putMany<K extends Kind>(kind: K, rows: readonly Row<K>[]): Promise<void> {
    // Prepared statements run in-process without a round trip: one per row costs no more.
    for (const row of rows) await this.put(kind, row.key, row.value, row.parent ?? undefined);
  }

  async insert<K extends Kind>(kind: K, key: string, value: Documents[K], parent?: string): Promise<boolean> {
    const unique = uniqueValueOf(kind, value);
    return (
      uniquely(kind, unique, () =>
        this.s.insert.run(kind, key, parent ?? null, JSON.stringify(value), Date.now(), unique),
      ).changes === 1
    );
  }

  async delete(kind: Kind, key: string): Promise<boolean> {
    return this.s.delete.run(kind, key).changes === 1;
  }
}

export class SqliteDatastore implements Datastore {
  readonly backend = "sqlite";
  private readonly writer: Db;
  private readonly reader: Db;
  private readonly writes: SqliteDocuments;
  private readonly reads: SqliteDocuments;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(readonly file: string) {
    const fresh = file !== ":memory:" && !existsSync(file);
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.writer = new Database(file);
    this.writer.pragma("journal_mode = WAL");
    this.writer.pragma("synchronous = NORMAL");
    this.writer.pragma("busy_timeout = 5000");
    this.writer.pragma("foreign_keys = ON");
    if (fresh) chmodSync(file, 0o600);
    migrateSqlite(this.writer, file);
    this.reader = file === ":memory:" ? this.writer : new Database(file, { readonly: true });
    this.reader.pragma("busy_timeout = 5000");
    this.writes = new SqliteDocuments(this.writer);
    this.reads = new SqliteDocuments(this.reader);
  }

  get<K extends Kind>(kind: K, key: string) {
    return this.reads.get(kind, key);
  }
  async dump<K extends Kind>(kind: K, after: string | undefined, limit: number): Promise<Row<K>[]> {
    const rows = this.reader
      .prepare<(string | number)[], { key: string; parent: string | null; value: string }>(
        `SELECT key, parent, value FROM documents WHERE kind = ? ${after === undefined ? "" : "AND key > ?"} ORDER BY key LIMIT ?`,
      )
      .all(...(after === undefined ? [kind, limit] : [kind, after, limit]));
    return rows.map((row) => ({
      key: row.key,
      parent: row.parent,
      value: JSON.parse(row.value) as Documents[K],
    }));
  }
  getUnique<K extends IndexedKind>(kind: K, value: string) {
    return this.reads.getUnique(kind, value);
  }
  list<K extends Kind>(kind: K, options?: ListOptions) {
    return this.reads.list(kind, options);
  }
  listText(kind: Kind, options?: ListOptions) {
    return this.reads.listText(kind, options);
  }
  put<K extends Kind>(kind: K, key: string, value: Documents[K], parent?: string) {
    return this.transaction((tx) => tx.put(kind, key, value, parent));
  }
  putMany<K extends Kind>(kind: K, rows: readonly Row<K>[]) {
    return this.transaction((tx) => tx.putMany(kind, rows));
  }
  insert<K extends Kind>(kind: K, key: string, value: Documents[K], parent?: string) {
    return this.transaction((tx) => tx.insert(kind, key, value, parent));
  }
  delete(kind: Kind, key: string) {
    return this.transaction((tx) => tx.delete(kind, key));
  }

  transaction<T>(fn: (tx: DocumentStore) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error("datastore is closed"));
    const run = async () => {
      this.writer.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(this.writes);
        this.writer.exec("COMMIT");
        return result;
      } catch (err) {
        if (this.writer.inTransaction) this.writer.exec("ROLLBACK");
        throw err;
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    if (this.reader !== this.writer) this.reader.close();
    this.writer.close();
  }
}

/** Runs a write, turning a duplicate unique secondary value into `UniqueViolation`. */
function uniquely<R>(kind: Kind, unique: string | null, write: () => R): R {
  try {
    return write();
  } catch (err) {
    if (unique !== null && (err as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE")
      throw new UniqueViolation(kind, unique);
    throw err;
  }
}
