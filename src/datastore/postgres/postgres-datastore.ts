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
 * - A change feed: each write transaction NOTIFYs the documents it changed on commit, and `watch`
 *   LISTENs, so every server sharing the store can drop what it cached (server/cluster-sync.ts).
 */
import pg from "pg";
import {
  type ChangeListener,
  type Datastore,
  type DocumentStore,
  type Documents,
  type Entry,
  type IndexedKind,
  type Kind,
  type ListOptions,
  type Row,
  type StoreChange,
  StoreUnavailable,
  type TextEntry,
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

/**
 * The change feed's NOTIFY payload limit is 8000 bytes; a transaction that wrote more than fits
 * sends "*" (everything may have changed) instead of its list.
 */
const MAX_NOTIFY_PAYLOAD = 7_500;
/** How long the change feed waits before connecting again after losing its session. */
const FEED_RETRY_MS = 1_000;

/**
 * `putMany` sends at most this much JSON (UTF-16 code units) or this many rows per statement:
 * thousands of rows per round trip, without building one huge message of large documents.
 */
const PUT_MANY_CHARS = 4 * 1024 * 1024;
const PUT_MANY_ROWS = 5_000;

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

/** The query of `listText`. */
function listQuery(kind: Kind, o: ListOptions): { sql: string; args: (string | number)[] } {
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
  let sql = `SELECT key, value AS text FROM documents WHERE ${where.join(" AND ")} ORDER BY key`;
  if (o.limit !== undefined) sql += ` LIMIT ${arg(o.limit)}`;
  return { sql, args };
}

class PgDocuments implements DocumentStore {
  constructor(
    private readonly q: () => Queryable,
    /** Told of each document a transaction writes or deletes (the change feed). */
    private readonly changed: (kind: Kind, key: string) => void = () => {},
  ) {}

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
    return (await this.listText(kind, o)).map((r) => ({
      key: r.key,
      value: JSON.parse(r.text) as Documents[K],
    }));
  }

  async listText(kind: Kind, o: ListOptions = {}): Promise<TextEntry[]> {
    const { sql, args } = listQuery(kind, o);
    return (await this.q().query<TextEntry>(sql, args)).rows;
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
    this.changed(kind, key);
  }

  async putMany<K extends Kind>(kind: K, rows: readonly Row<K>[]): Promise<void> {
    // One statement cannot update a row twice: a key's last row stands for all of its rows, as
    // after puts in turn.
    const last = new Map<string, Row<K>>();
    for (const row of rows) {
      last.delete(row.key);
      last.set(row.key, row);
    }
    let batch: { key: string; parent: string | null; text: string; unique: string | null }[] = [];
    let chars = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const written = batch;
      batch = [];
      chars = 0;
      await uniquely(kind, written.find((r) => r.unique !== null)?.unique ?? null, () =>
        this.q().query(
          `INSERT INTO documents (kind, key, parent, value, updated_at, unique_value)
           SELECT $1::text, r.key, r.parent, r.value, $2::bigint, r.unique_value
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS r(key, parent, value, unique_value)
           ON CONFLICT (kind, key) DO UPDATE SET parent = excluded.parent, value = excluded.value,
             updated_at = excluded.updated_at, unique_value = excluded.unique_value`,
          [
            kind,
            Date.now(),
            written.map((r) => r.key),
            written.map((r) => r.parent),
            written.map((r) => r.text),
            written.map((r) => r.unique),
          ],
        ),
      );
      for (const r of written) this.changed(kind, r.key);
    };
    for (const row of last.values()) {
      const text = JSON.stringify(row.value);
      batch.push({ key: row.key, parent: row.parent, text, unique: uniqueValueOf(kind, row.value) });
      chars += text.length;
      if (chars >= PUT_MANY_CHARS || batch.length >= PUT_MANY_ROWS) await flush();
    }
    await flush();
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
    if (r.rowCount === 1) this.changed(kind, key);
    return r.rowCount === 1;
  }

  async delete(kind: Kind, key: string): Promise<boolean> {
    const r = await this.q().query("DELETE FROM documents WHERE kind = $1 AND key = $2", [kind, key]);
    if (r.rowCount === 1) this.changed(kind, key);
    return r.rowCount === 1;
  }
}

/**
 * Runs a write, turning a duplicate unique secondary value into `UniqueViolation` (naming the value
 * PostgreSQL reports, else `unique`: a write of many rows has many).
 */
async function uniquely<R>(kind: Kind, unique: string | null, write: () => Promise<R>): Promise<R> {
  try {
    return await write();
  } catch (err) {
    const e = err as { code?: string; constraint?: string; detail?: string };
    if (unique !== null && e.code === "23505" && e.constraint === "documents_by_unique_value")
      throw new UniqueViolation(
        kind,
        /^Key \(kind, unique_value\)=\(.*?, (.*)\) already exists/.exec(e.detail ?? "")?.[1] ?? unique,
      );
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
  /** The change feed: listeners, and the session that LISTENs while there are any. */
  private readonly listeners = new Set<ChangeListener>();
  private feedSession: pg.Client | undefined;
  private feedStarting: Promise<void> | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    /** The URL without its password, for messages. */
    readonly where: string,
    private readonly url: string,
    private readonly log: (line: string) => void,
    /** The NOTIFY channel of this store (one per schema, so installations sharing a database don't mix). */
    readonly channel: string,
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
    // Every list is a key-ordered index range with a LIMIT, and the planner cannot see that a kind
    // and its keys are correlated (all of a bucket's objects start with its name): it underestimates
    // the rows of a range (8 for 10,000 objects without statistics, 10 for 999 with them) and picks a
    // bitmap scan, which loses the index order, reads the whole range and sorts it for one page (6 ms
    // a page of a 10,000-object bucket instead of 0.1 ms). Without bitmap scans it walks the index
    // in order and stops at the LIMIT. Set per session (queued before the session's first query), so
    // a `?options=` of the URL still applies.
    pool.on("connect", (client) => {
      client.query("SET enable_bitmapscan = off").catch(() => undefined);
    });
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw explainPgError(err, where);
    }
    let channel: string;
    try {
      await migratePostgres(client, where);
      const h = await client.query<{ h: number }>("SELECT hashtext(current_schema()) AS h");
      channel = `warrant_changes_${String(h.rows[0]?.h ?? 0).replace("-", "n")}`;
    } catch (err) {
      client.release();
      await pool.end().catch(() => undefined);
      throw explainPgError(err, where);
    }
    client.release();
    return new PostgresDatastore(pool, where, url, log, channel);
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
  listText(kind: Kind, options?: ListOptions) {
    return this.track(() => this.reads.listText(kind, options));
  }
  /** The plan PostgreSQL chooses for a `list` on this store's sessions, as `EXPLAIN` prints it. */
  explainList(kind: Kind, options: ListOptions = {}): Promise<string> {
    return this.track(async () => {
      const { sql, args } = listQuery(kind, options);
      const r = await this.pool.query<{ "QUERY PLAN": string }>(`EXPLAIN ${sql}`, args);
      return r.rows.map((row) => row["QUERY PLAN"]).join("\n");
    });
  }
  dump<K extends Kind>(kind: K, after: string | undefined, limit: number): Promise<Row<K>[]> {
    return this.track(async () => {
      const r = await this.pool.query<{ key: string; parent: string | null; value: string }>(
        `SELECT key, parent, value FROM documents WHERE kind = $1 ${after === undefined ? "" : "AND key > $3"}
          ORDER BY key LIMIT $2`,
        after === undefined ? [kind, limit] : [kind, limit, after],
      );
      return r.rows.map((row) => ({
        key: row.key,
        parent: row.parent,
        value: JSON.parse(row.value) as Documents[K],
      }));
    });
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
    const run = async (): Promise<T> => {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw explainPgError(err, this.where);
      }
      let broken = false;
      const changes = new Map<string, StoreChange>();
      try {
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", [WRITE_LOCK]);
        const result = await fn(
          new PgDocuments(
            () => client,
            (kind, key) => changes.set(`${kind}\u0000${key}`, { kind, key }),
          ),
        );
        // Delivered to every listening session when (and only if) the transaction commits.
        if (changes.size) {
          let payload = JSON.stringify([...changes.values()].map((c) => [c.kind, c.key]));
          if (Buffer.byteLength(payload) > MAX_NOTIFY_PAYLOAD) payload = "*";
          await client.query("SELECT pg_notify($1, $2)", [this.channel, payload]);
        }
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

  /**
   * The change feed: a dedicated session LISTENs on the store's channel; each committed write
   * transaction (of any process) NOTIFYs the documents it changed. When that session is lost, it
   * connects again every second and then tells listeners `null` (changes may have been missed).
   */
  watch(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    if (!this.feedSession && !this.feedStarting) this.feedStarting = this.listen(false);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Resolves once the feed's session is listening (tests, and a node that must not miss a change). */
  async feedReady(): Promise<void> {
    while (!this.closed && !this.feedSession) {
      await (this.feedStarting ?? new Promise((r) => setTimeout(r, 50)));
    }
  }

  private emit(changes: readonly StoreChange[] | null) {
    for (const l of this.listeners) {
      try {
        l(changes);
      } catch (err) {
        this.log(`datastore: a change-feed listener failed: ${(err as Error).message}`);
      }
    }
  }

  private async listen(reconnecting: boolean): Promise<void> {
    while (!this.closed) {
      const session = new pg.Client({ connectionString: this.url, application_name: "warrant change feed" });
      let lost = false;
      const onLost = (err?: Error) => {
        if (lost) return;
        lost = true;
        // Before it was established, the connecting loop below sees the failure and retries.
        if (this.feedSession !== session) return;
        this.feedSession = undefined;
        session.end().catch(() => undefined);
        if (this.closed) return;
        this.log(
          `datastore: lost the change-feed session of ${this.where}${err ? `: ${err.message}` : ""}; listening again`,
        );
        if (!this.feedStarting) this.feedStarting = this.listen(true);
      };
      session.on("error", onLost);
      session.on("end", () => onLost());
      session.on("notification", (n) => {
        if (n.channel !== this.channel) return;
        if (!n.payload || n.payload === "*") return this.emit(null);
        try {
          const pairs = JSON.parse(n.payload) as [Kind, string][];
          this.emit(pairs.map(([kind, key]) => ({ kind, key })));
        } catch {
          this.emit(null);
        }
      });
      try {
        await session.connect();
        await session.query(`LISTEN ${this.channel}`);
        if (this.closed || lost) {
          await session.end().catch(() => undefined);
          continue;
        }
        this.feedSession = session;
        this.feedStarting = undefined;
        // Whatever committed while no session listened is unknown: everything may have changed.
        if (reconnecting) {
          this.log(`datastore: listening for changes on ${this.where} again`);
          this.emit(null);
        }
        return;
      } catch (err) {
        lost = true;
        await session.end().catch(() => undefined);
        if (this.closed) break;
        this.log(
          `datastore: cannot listen for changes on ${this.where}: ${explainPgError(err, this.where).message}`,
        );
        reconnecting = true;
        await new Promise((r) => setTimeout(r, FEED_RETRY_MS).unref());
      }
    }
    this.feedStarting = undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    const feed = this.feedSession;
    this.feedSession = undefined;
    await feed?.end().catch(() => undefined);
    await this.queue;
    await Promise.allSettled([...this.inflight]);
    await this.pool.end();
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
