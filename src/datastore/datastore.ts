/**
 * The datastore seam. Warrant's state is a set of JSON documents, each identified by a kind and a
 * key and optionally filed under a parent key (for listing). The interface is async and
 * transaction-shaped so that SQLite (embedded, default) and PostgreSQL (scale-out) implement the
 * same contract; nothing backend-specific crosses it. Typed access lives in `repositories.ts`.
 */
export type Kind =
  | "meta"
  | "project"
  | "service-account"
  | "deleted-service-account"
  | "service-account-key"
  | "instance"
  | "policy"
  | "custom-role"
  | "operation"
  | "oauth-client"
  | "refresh-token"
  | "signing-key"
  | "agent"
  | "bucket"
  | "object"
  | "object-version"
  | "upload-session"
  | "enrollment"
  | "user"
  | "workload-identity-pool"
  | "workload-identity-pool-provider";

export interface ListOptions {
  /** Only documents filed under this parent key. */
  parent?: string;
  /** Only keys starting with this prefix. */
  prefix?: string;
  /** Only keys greater than or equal to this. */
  from?: string;
  /** Keyset pagination: only keys strictly greater than this. */
  after?: string;
  /** At most this many documents, in key order. */
  limit?: number;
}

export interface Entry<T> {
  key: string;
  value: T;
}

export interface DocumentStore {
  get<T>(kind: Kind, key: string): Promise<T | undefined>;
  list<T>(kind: Kind, options?: ListOptions): Promise<Entry<T>[]>;
  /** Creates or replaces. */
  put<T>(kind: Kind, key: string, value: T, parent?: string): Promise<void>;
  /** Creates only; returns false (and changes nothing) when the key exists. */
  insert<T>(kind: Kind, key: string, value: T, parent?: string): Promise<boolean>;
  /** Returns whether a document was deleted. */
  delete(kind: Kind, key: string): Promise<boolean>;
}

export interface Datastore extends DocumentStore {
  readonly backend: string;
  /**
   * Runs `fn` atomically and in isolation from other transactions: every write commits together
   * or not at all, and a read-modify-write inside it cannot lose a concurrent update.
   * Calls outside a transaction see only committed data.
   */
  transaction<T>(fn: (tx: DocumentStore) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
