/**
 * The embedded datastore: one SQLite file in WAL mode. better-sqlite3 is synchronous, so the async
 * contract is met by serializing transactions through a queue on a dedicated write connection
 * (BEGIN IMMEDIATE … COMMIT spanning the awaited callback), while plain reads use a second
 * connection that only ever sees committed data.
 */
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Datastore, DocumentStore, Entry, Kind, ListOptions } from "../datastore.js";

const SCHEMA_VERSION = 1;

const MIGRATIONS: Record<number, string> = {
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
};

type Db = Database.Database;

function statements(db: Db) {
  return {
    get: db.prepare<[string, string], { value: string }>(
      "SELECT value FROM documents WHERE kind = ? AND key = ?",
    ),
    put: db.prepare(
      `INSERT INTO documents (kind, key, parent, value, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (kind, key) DO UPDATE SET parent = excluded.parent, value = excluded.value, updated_at = excluded.updated_at`,
    ),
    insert: db.prepare(
      "INSERT INTO documents (kind, key, parent, value, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    delete: db.prepare("DELETE FROM documents WHERE kind = ? AND key = ?"),
  };
}

/** Documents over one SQLite connection (also used read-only by offline CLI commands). */
export class SqliteDocuments implements DocumentStore {
  private readonly stmts: ReturnType<typeof statements>;
  /** Prepared once per distinct query shape (there are at most 2^5 of them). */
  private readonly listStatements = new Map<
    string,
    Database.Statement<(string | number)[], { key: string; value: string }>
  >();
  constructor(private readonly db: Db) {
    this.stmts = statements(db);
  }

  async get<T>(kind: Kind, key: string): Promise<T | undefined> {
    const row = this.stmts.get.get(kind, key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async list<T>(kind: Kind, o: ListOptions = {}): Promise<Entry<T>[]> {
    const where = ["kind = ?"];
    const args: (string | number)[] = [kind];
    if (o.parent !== undefined) {
      where.push("parent = ?");
      args.push(o.parent);
    }
    if (o.prefix !== undefined && o.prefix !== "") {
      // Range scan instead of LIKE: keys may contain % and _.
      where.push("key >= ? AND key < ?");
      args.push(o.prefix, `${o.prefix}\u{10FFFF}`);
    }
    if (o.from !== undefined) {
      where.push("key >= ?");
      args.push(o.from);
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
    let stmt = this.listStatements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<(string | number)[], { key: string; value: string }>(sql);
      this.listStatements.set(sql, stmt);
    }
    const rows = stmt.all(...args);
    return rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) as T }));
  }

  async put<T>(kind: Kind, key: string, value: T, parent?: string): Promise<void> {
    this.stmts.put.run(kind, key, parent ?? null, JSON.stringify(value), Date.now());
  }

  async insert<T>(kind: Kind, key: string, value: T, parent?: string): Promise<boolean> {
    return this.stmts.insert.run(kind, key, parent ?? null, JSON.stringify(value), Date.now()).changes === 1;
  }

  async delete(kind: Kind, key: string): Promise<boolean> {
    return this.stmts.delete.run(kind, key).changes === 1;
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
    this.migrate();
    this.reader = file === ":memory:" ? this.writer : new Database(file, { readonly: true });
    this.reader.pragma("busy_timeout = 5000");
    this.writes = new SqliteDocuments(this.writer);
    this.reads = new SqliteDocuments(this.reader);
  }

  private migrate(): void {
    this.writer.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const row = this.writer.prepare<[], { version: number }>("SELECT version FROM schema_version").get();
    let version = row?.version ?? 0;
    if (version > SCHEMA_VERSION)
      throw new Error(
        `${this.file} was written by a newer Warrant (schema ${version}, this build knows ${SCHEMA_VERSION}); upgrade Warrant.`,
      );
    const apply = this.writer.transaction(() => {
      while (version < SCHEMA_VERSION) {
        version++;
        this.writer.exec(MIGRATIONS[version]!);
      }
      this.writer.exec("DELETE FROM schema_version");
      this.writer.prepare("INSERT INTO schema_version (version) VALUES (?)").run(version);
    });
    apply();
  }

  get<T>(kind: Kind, key: string) {
    return this.reads.get<T>(kind, key);
  }
  list<T>(kind: Kind, options?: ListOptions) {
    return this.reads.list<T>(kind, options);
  }
  put<T>(kind: Kind, key: string, value: T, parent?: string) {
    return this.transaction((tx) => tx.put(kind, key, value, parent));
  }
  insert<T>(kind: Kind, key: string, value: T, parent?: string) {
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
