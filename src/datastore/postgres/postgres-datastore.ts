/**
 * The scale-out datastore: PostgreSQL through a `pg` connection pool. Same table shape as SQLite
 * (one `documents` table, keys compared byte-wise with COLLATE "C"), same guarantees:
 *
 * - Writes run in transactions that hold a transaction-scoped advisory lock on the store, so every
 *   read-modify-write is serialized across all servers sharing the database (no lost update), and
 *   each statement after the lock sees everything committed before it (READ COMMITTED).
 * - Within one process transactions queue before taking a pooled connection, so waiting writers
 *   never starve the reads of connections.
 * - Migrations are forward-only and applied by one server at a time, under a session advisory lock.
 */
import pg from "pg";
import {
  type Datastore,
  type DocumentStore,
  type Documents,
  type Entry,
  type IndexedKind,
  type Kind,
  type ListOptions,
  StoreUnavailable,
  UniqueViolation,
  uniqueValueOf,
} from "../datastore.js";

export const PG_SCHEMA_VERSION = 2;

/** Forward-only: version N is reached by applying migration N to version N-1. Never edit a shipped one. */
export const PG_MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE documents (
      kind   text NOT NULL,
      key    text COLLATE "C" NOT NULL,
      parent text COLLATE "C",
      value  text NOT NULL,
      updated_at bigint NOT NULL,
      PRIMARY KEY (kind, key)
    );
    CREATE INDEX documents_by_parent ON documents (kind, parent, key);
  `,
  // A unique secondary value per document (UNIQUE_INDEXES), e.g. a service account's unique id.
  2: `
    ALTER TABLE documents ADD COLUMN unique_value text;
    UPDATE documents SET unique_value = value::json->>'uniqueId' WHERE kind = 'service-account';
    CREATE UNIQUE INDEX documents_by_unique_value ON documents (kind, unique_value) WHERE unique_value IS NOT NULL;
  `,
};

/** Advisory-lock namespaces (the second key is the schema's hash, so stores in one database don't contend). */
const MIGRATION_LOCK = 0x5741_5201;
const WRITE_LOCK = 0x5741_5202;
const SERVER_LOCK = 0x5741_5203;

/** Something that runs a query: the pool (committed reads) or a transaction's client. */
type Queryable = Pick<pg.PoolClient, "query">;

/** Errors a PostgreSQL server or connection gives, turned into sentences an operator can act on. */
export class PostgresUnavailable extends StoreUnavailable {}

export function explainPgError(err: unknown, where: string): Error {
  const e = err as { code?: string; message?: string };
  const detail = e?.message ?? String(err);
  switch (e?.code) {
    case "ECONNREFUSED":
    case "ENOTFOUND":
    case "EHOSTUNREACH":
    case "ETIMEDOUT":
    case "ECONNRESET":
      return new PostgresUnavailable(`cannot reach PostgreSQL at ${where}: ${detail}`, { cause: err });
    case "3D000":
      return new PostgresUnavailable(`PostgreSQL at ${where}: ${detail} (create it, or fix the URL)`, {
        cause: err,
      });
    case "28P01":
    case "28000":
      return new PostgresUnavailable(`PostgreSQL at ${where} refused the login: ${detail}`, { cause: err });
    case "57P01": // admin_shutdown
    case "57P02": // crash_shutdown
    case "57P03": // cannot_connect_now
    case "55000": // e.g. the database is not currently accepting connections
      return new PostgresUnavailable(`PostgreSQL at ${where} is not accepting connections: ${detail}`, {
        cause: err,
      });
  }
  if (e?.code === undefined && /Connection terminated|connection is closed|not queryable/i.test(detail))
    return new PostgresUnavailable(`lost the connection to PostgreSQL at ${where}: ${detail}`, {
      cause: err,
    });
  if (e?.code === undefined && /timeout exceeded when trying to connect|connection timeout/i.test(detail))
    return new PostgresUnavailable(`cannot reach PostgreSQL at ${where}: ${detail}`, { cause: err });
  return err instanceof Error ? err : new Error(detail);
}

class PgDocuments implements DocumentStore {
  constructor(private readonly q: () => Queryable) {}

  async get<K extends Kind>(kind: K, key: string): Promise<Documents[K] | undefined> {
    const r = await this.q().query<{ value: string }>(
      "SELECT value FROM documents WHERE kind = $1 AND key = $2",
      [kind, key],
    );
    return r.rows[0] ? (JSON.parse(r.rows[0].value) as Documents[K]) : undefined;
  }

  async getUnique<K extends IndexedKind>(kind: K, value: string): Promise<Documents[K] | undefined> {
    const r = await this.q().query<{ value: string }>(
      "SELECT value FROM documents WHERE kind = $1 AND unique_value = $2",
      [kind, value],
    );
    return r.rows[0] ? (JSON.parse(r.rows[0].value) as Documents[K]) : undefined;
  }

  async list<K extends Kind>(kind: K, o: ListOptions = {}): Promise<Entry<Documents[K]>[]> {
    const args: (string | number)[] = [kind];
    const where = ["kind = $1"];
    const arg = (v: string | number) => {
      args.push(v);
      return `$${args.length}`;
    };
    if (o.parent !== undefined) where.push(`parent = ${arg(o.parent)}`);
    if (o.prefix !== undefined && o.prefix !== "")
      // Range scan instead of LIKE: keys may contain % and _.
      where.push(`key >= ${arg(o.prefix)} AND key < ${arg(`${o.prefix}\u{10FFFF}`)}`);
    if (o.from !== undefined) where.push(`key >= ${arg(o.from)}`);
    if (o.after !== undefined) where.push(`key > ${arg(o.after)}`);
    let sql = `SELECT key, value FROM documents WHERE ${where.join(" AND ")} ORDER BY key`;
    if (o.limit !== undefined) sql += ` LIMIT ${arg(o.limit)}`;
    const r = await this.q().query<{ key: string; value: string }>(sql, args);
    return r.rows.map((row) => ({ key: row.key, value: JSON.parse(row.value) as Documents[K] }));
  }

  async put<K extends Kind>(kind: K, key: string, value: Documents[K], parent?: string): Promise<void> {
    const unique = uniqueValueOf(kind, value);
    await uniquely(kind, unique, () =>
      this.q().query(
        `INSERT INTO documents (kind, key, parent, value, updated_at, unique_value) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kind, key) DO UPDATE SET parent = excluded.parent, value = excluded.value,
           updated_at = excluded.updated_at, unique_value = excluded.unique_value`,
        [kind, key, parent ?? null, JSON.stringify(value), Date.now(), unique],
      ),
    );
  }

  async insert<K extends Kind>(kind: K, key: string, value: Documents[K], parent?: string): Promise<boolean> {
    const unique = uniqueValueOf(kind, value);
    const r = await uniquely(kind, unique, () =>
      this.q().query(
        `INSERT INTO documents (kind, key, parent, value, updated_at, unique_value) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kind, key) DO NOTHING`,
        [kind, key, parent ?? null, JSON.stringify(value), Date.now(), unique],
      ),
    );
    return r.rowCount === 1;
  }

  async delete(kind: Kind, key: string): Promise<boolean> {
    const r = await this.q().query("DELETE FROM documents WHERE kind = $1 AND key = $2", [kind, key]);
    return r.rowCount === 1;
  }
}

async function uniquely<R>(kind: Kind, unique: string | null, write: () => Promise<R>): Promise<R> {
  try {
    return await write();
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (unique !== null && e.code === "23505" && e.constraint === "documents_by_unique_value")
      throw new UniqueViolation(kind, unique);
    throw err;
  }
}

/**
 * Applies the migrations after the store's version up to `target`, one server at a time (session
 * advisory lock), each step in a transaction with its version bump.
 */
export async function migratePostgres(client: pg.ClientBase, where: string, target = PG_SCHEMA_VERSION) {
  await client.query("SELECT pg_advisory_lock($1, hashtext(current_schema()))", [MIGRATION_LOCK]);
  try {
    const tables = await client.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_name IN ('documents', 'schema_version')`,
    );
    const names = new Set(tables.rows.map((r) => r.name));
    if (names.has("documents") && !names.has("schema_version"))
      throw new Error(
        `${where} has a "documents" table but no Warrant schema_version: it is not a Warrant datastore (point --datastore at an empty database or schema)`,
      );
    if (!names.has("schema_version")) {
      const schema = await client.query<{ s: string | null }>("SELECT current_schema() AS s");
      if (!schema.rows[0]?.s)
        throw new Error(
          `${where} has no schema to create tables in (check search_path and that the schema exists)`,
        );
      await client.query("CREATE TABLE schema_version (version integer NOT NULL)");
      await client.query("INSERT INTO schema_version (version) VALUES (0)");
    }
    const row = await client.query<{ version: number }>("SELECT version FROM schema_version");
    let version = row.rows[0]?.version ?? 0;
    if (version > PG_SCHEMA_VERSION)
      throw new Error(
        `${where} was written by a newer Warrant (schema ${version}, this build knows ${PG_SCHEMA_VERSION}); upgrade Warrant.`,
      );
    while (version < target) {
      const next = version + 1;
      await client.query("BEGIN");
      try {
        await client.query(PG_MIGRATIONS[next]!);
        await client.query("UPDATE schema_version SET version = $1", [next]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(`${where}: migration to schema ${next} failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      version = next;
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1, hashtext(current_schema()))", [MIGRATION_LOCK]);
  }
}

export interface PostgresOptions {
  /** Pool size (default 10). */
  max?: number;
  /** How long to wait for a connection (default 10 s). */
  connectionTimeoutMillis?: number;
  log?: (line: string) => void;
}

export class PostgresDatastore implements Datastore {
  readonly backend = "postgres";
  private readonly reads: PgDocuments;
  private queue: Promise<unknown> = Promise.resolve();
  /** Reads in flight: close() waits for them before it ends the pool. */
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;
  /** The session holding the one-server lock (claimServer). */
  private serverSession: pg.Client | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    /** The URL without its password, for messages. */
    readonly where: string,
    private readonly url: string,
    private readonly log: (line: string) => void,
  ) {
    this.reads = new PgDocuments(() => pool);
  }

  /** Connects, checks the server, applies pending migrations; rejects with a clear reason otherwise. */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresDatastore> {
    const where = redact(url);
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
      application_name: "warrant",
      idleTimeoutMillis: 30_000,
    });
    // An idle client's connection dropping (server restart) must not crash the process.
    pool.on("error", (err) => log(`datastore: PostgreSQL connection lost (${where}): ${err.message}`));
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw explainPgError(err, where);
    }
    try {
      await migratePostgres(client, where);
    } catch (err) {
      client.release();
      await pool.end().catch(() => undefined);
      throw explainPgError(err, where);
    }
    client.release();
    return new PostgresDatastore(pool, where, url, log);
  }

  /**
   * Holds a session advisory lock for as long as this store is open: each server caches IAM
   * policies in memory, so one server per database until those caches learn of other nodes' writes.
   * The lock goes with the session, so a killed server never blocks the next one.
   */
  async claimServer(): Promise<void> {
    const session = new pg.Client({ connectionString: this.url, application_name: "warrant serve" });
    session.on("error", (err) => {
      if (this.closed) return;
      this.log(
        `datastore: lost the PostgreSQL session holding the one-server lock (${this.where}): ${err.message}; claiming it again`,
      );
      this.serverSession = undefined;
      void this.reclaim();
    });
    try {
      await session.connect();
      const got = await session.query<{ ok: boolean }>(
        "SELECT pg_try_advisory_lock($1, hashtext(current_schema())) AS ok",
        [SERVER_LOCK],
      );
      if (!got.rows[0]?.ok) {
        const holder = await session.query<{ addr: string | null; since: Date | null }>(
          `SELECT host(a.client_addr) AS addr, a.backend_start AS since
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1
              AND l.objid = hashtext(current_schema())::oid AND l.objsubid = 2`,
          [SERVER_LOCK],
        );
        const h = holder.rows[0];
        throw new Error(
          `another \`warrant serve\` already uses this datastore${
            h ? ` (connected from ${h.addr ?? "a local socket"} since ${h.since?.toISOString()})` : ""
          }: one server per database for now, as each caches IAM policies in memory (docs/datastore.md#limits)`,
        );
      }
    } catch (err) {
      await session.end().catch(() => undefined);
      throw explainPgError(err, this.where);
    }
    this.serverSession = session;
  }

  /** After a lost session: claims the lock again every 5 s until it holds it or the store closes. */
  private async reclaim(): Promise<void> {
    while (!this.closed && !this.serverSession) {
      await new Promise((r) => setTimeout(r, 5_000).unref());
      if (this.closed) return;
      try {
        await this.claimServer();
        this.log(`datastore: holds the one-server lock of ${this.where} again`);
      } catch (err) {
        const message = (err as Error).message;
        this.log(`datastore: could not claim the one-server lock of ${this.where} again: ${message}`);
        if (/another `warrant serve`/.test(message)) return;
      }
    }
  }

  private track<T>(read: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error("datastore is closed"));
    const guarded = read().catch((err) => {
      throw explainPgError(err, this.where);
    });
    this.inflight.add(guarded);
    const done = () => this.inflight.delete(guarded);
    guarded.then(done, done);
    return guarded;
  }

  get<K extends Kind>(kind: K, key: string) {
    return this.track(() => this.reads.get(kind, key));
  }
  getUnique<K extends IndexedKind>(kind: K, value: string) {
    return this.track(() => this.reads.getUnique(kind, value));
  }
  list<K extends Kind>(kind: K, options?: ListOptions) {
    return this.track(() => this.reads.list(kind, options));
  }
  put<K extends Kind>(kind: K, key: string, value: Documents[K], parent?: string) {
    return this.transaction((tx) => tx.put(kind, key, value, parent));
  }
  insert<K extends Kind>(kind: K, key: string, value: Documents[K], parent?: string) {
    return this.transaction((tx) => tx.insert(kind, key, value, parent));
  }
  delete(kind: Kind, key: string) {
    return this.transaction((tx) => tx.delete(kind, key));
  }

  transaction<T>(fn: (tx: DocumentStore) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error("datastore is closed"));
    const run = async (): Promise<T> => {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw explainPgError(err, this.where);
      }
      let broken = false;
      try {
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", [WRITE_LOCK]);
        const result = await fn(new PgDocuments(() => client));
        await client.query("COMMIT");
        return result;
      } catch (err) {
        try {
          await client.query("ROLLBACK");
        } catch {
          broken = true;
        }
        throw err instanceof UniqueViolation ? err : explainPgError(err, this.where);
      } finally {
        client.release(broken);
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
    await Promise.allSettled([...this.inflight]);
    await this.pool.end();
    if (this.serverSession) {
      await this.serverSession
        .query("SELECT pg_advisory_unlock($1, hashtext(current_schema()))", [SERVER_LOCK])
        .catch(() => undefined);
      await this.serverSession.end().catch(() => undefined);
    }
  }
}

/** A URL fit for messages and logs: no password. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparseable URL)";
  }
}
