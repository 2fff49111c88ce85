/**
 * The datastore seam. Warrant's state is a set of JSON documents, each identified by a kind and a
 * key and optionally filed under a parent key (for listing). The interface is async and
 * transaction-shaped so that SQLite (embedded, default) and PostgreSQL (scale-out) implement the
 * same contract; nothing backend-specific crosses it. Each kind has one record type (`Documents`),
 * so reads come back typed; domain-shaped access lives in `repositories.ts`.
 */
import type { AgentRecord, EnrollmentRecord } from "../domain/compute/agent.js";
import type { Instance, Operation } from "../domain/compute/instance.js";
import type { StoredConsoleLogin, StoredConsoleSession } from "../domain/console-session.js";
import type { StoredDenyPolicy } from "../domain/iam/deny.js";
import type { Group } from "../domain/iam/groups.js";
import type { Policy } from "../domain/iam/policy.js";
import type { Role } from "../domain/iam/roles.js";
import type { WorkloadIdentityPool, WorkloadIdentityPoolProvider } from "../domain/iam/workload-identity.js";
import type { Installation } from "../domain/installation.js";
import type {
  AuthorizationCodeRecord,
  PendingSsoSignIn,
  SignInFailures,
  SignInSession,
} from "../domain/oauth/authorization.js";
import type { OAuthClient, RefreshTokenRecord } from "../domain/oauth/client.js";
import type { Project } from "../domain/project.js";
import type { DeletedServiceAccount, ServiceAccount } from "../domain/service-account.js";
import type { ServiceAccountKey } from "../domain/service-account-key.js";
import type { Bucket } from "../domain/storage/bucket.js";
import type { StoredObject } from "../domain/storage/object.js";
import type { UploadSession } from "../domain/storage/upload-session.js";
import type { StoredSigningKey } from "../domain/tokens/signing-key.js";
import type { User } from "../domain/user.js";
import type { UserPassword } from "../domain/user-password.js";

/**
 * Every kind of document and the record type stored under it. This is the one place that lists
 * kinds: add a line here (and, if it needs a lookup by a second unique value, one in
 * `UNIQUE_INDEXES`) and every backend stores it.
 */
export interface Documents {
  meta: MetaDocuments[keyof MetaDocuments];
  project: Project;
  "service-account": ServiceAccount;
  "deleted-service-account": DeletedServiceAccount;
  "service-account-key": ServiceAccountKey;
  instance: Instance;
  policy: Policy;
  "custom-role": Role;
  operation: Operation;
  "oauth-client": OAuthClient;
  "refresh-token": RefreshTokenRecord;
  "signing-key": StoredSigningKey;
  agent: AgentRecord;
  bucket: Bucket;
  object: StoredObject;
  "object-version": StoredObject;
  "upload-session": UploadSession;
  enrollment: EnrollmentRecord;
  user: User;
  "workload-identity-pool": WorkloadIdentityPool;
  "workload-identity-pool-provider": WorkloadIdentityPoolProvider;
  group: Group;
  "deny-policy": StoredDenyPolicy;
  "user-password": UserPassword;
  "authorization-code": AuthorizationCodeRecord;
  "signin-session": SignInSession;
  "signin-failures": SignInFailures;
  "sso-signin": PendingSsoSignIn;
  /** The web console's sessions and its sign-ins in progress (src/server/console, docs/console.md). */
  "console-session": StoredConsoleSession;
  "console-login": StoredConsoleLogin;
}

/** The installation-wide singletons stored under kind `meta`, by key. */
export interface MetaDocuments {
  installation: Installation;
  /** Set once legacy IAM members have been bound to unique ids. */
  "members-bound-to-unique-ids": boolean;
  /** In-process agent addresses, instance id → address. */
  "agent-addresses": Record<string, string>;
}

export type Kind = keyof Documents;

/** Every kind, at run time (the compiler checks the list is complete). */
const KIND_SET = {
  meta: true,
  project: true,
  "service-account": true,
  "deleted-service-account": true,
  "service-account-key": true,
  instance: true,
  policy: true,
  "custom-role": true,
  operation: true,
  "oauth-client": true,
  "refresh-token": true,
  "signing-key": true,
  agent: true,
  bucket: true,
  object: true,
  "object-version": true,
  "upload-session": true,
  enrollment: true,
  user: true,
  group: true,
  "deny-policy": true,
  "workload-identity-pool": true,
  "workload-identity-pool-provider": true,
  "user-password": true,
  "authorization-code": true,
  "signin-session": true,
  "signin-failures": true,
  "sso-signin": true,
  "console-session": true,
  "console-login": true,
} satisfies Record<Kind, true>;
export const KINDS = Object.keys(KIND_SET) as Kind[];

/** A document with its parent, as `dump` reads it (moving an installation between stores). */
export interface Row<K extends Kind = Kind> {
  key: string;
  parent: string | null;
  value: Documents[K];
}

/**
 * Kinds that can also be fetched by a second value, unique within the kind (an index, not a scan).
 * Backends store the value beside the document and refuse a write that would duplicate it
 * (`UniqueViolation`).
 */
export const UNIQUE_INDEXES = {
  "service-account": (sa: ServiceAccount) => sa.uniqueId,
} satisfies { [K in Kind]?: (value: Documents[K]) => string | undefined };

export type IndexedKind = keyof typeof UNIQUE_INDEXES;

/** The unique secondary value a document is indexed under, if its kind has one. */
export function uniqueValueOf<K extends Kind>(kind: K, value: Documents[K]): string | null {
  const index = (UNIQUE_INDEXES as { [k: string]: ((v: Documents[K]) => string | undefined) | undefined })[
    kind
  ];
  return index?.(value) ?? null;
}

/**
 * The store cannot be reached (a networked backend down, or refusing connections): the server's
 * condition, not a bug — requests get 503 with Retry-After. Its message is for the log only.
 */
export class StoreUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailable";
  }
}

/** A write would give a second document of its kind the same unique secondary value. */
export class UniqueViolation extends Error {
  constructor(
    readonly kind: Kind,
    readonly value: string,
  ) {
    super(`another ${kind} document already has the unique value ${JSON.stringify(value)}`);
    this.name = "UniqueViolation";
  }
}

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

export interface TextEntry {
  key: string;
  /** The document's stored JSON text. */
  text: string;
}

export interface Entry<T> {
  key: string;
  value: T;
}

export interface DocumentStore {
  get<K extends Kind>(kind: K, key: string): Promise<Documents[K] | undefined>;
  /** The document of `kind` whose unique secondary value (see `UNIQUE_INDEXES`) is `value`. */
  getUnique<K extends IndexedKind>(kind: K, value: string): Promise<Documents[K] | undefined>;
  list<K extends Kind>(kind: K, options?: ListOptions): Promise<Entry<Documents[K]>[]>;
  /**
   * `list`, with each document as the JSON text it is stored as, unparsed: for readers that only
   * re-serialize documents (list pages keep their renderings keyed by this text).
   */
  listText(kind: Kind, options?: ListOptions): Promise<TextEntry[]>;
  /** Creates or replaces. */
  put<K extends Kind>(kind: K, key: string, value: Documents[K], parent?: string): Promise<void>;
  /**
   * `put` of each row in turn, for bulk loads (copying an installation, a generated fleet):
   * PostgreSQL writes them in a few statements instead of a round trip per document.
   */
  putMany<K extends Kind>(kind: K, rows: readonly Row<K>[]): Promise<void>;
  /** Creates only; returns false (and changes nothing) when the key exists. */
  insert<K extends Kind>(kind: K, key: string, value: Documents[K], parent?: string): Promise<boolean>;
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
  /**
   * For stores several servers share: calls `listener` after every committed transaction of any
   * process with the documents it wrote, or with `null` when changes may have been missed (the
   * feed's connection was lost and came back): then everything cached may be stale. Returns the
   * unsubscribe function. Stores only one process uses (SQLite) have none.
   */
  watch?(listener: ChangeListener): () => void;
  /** Committed documents of `kind` with their parents, in key order after `after`, at most `limit`. */
  dump<K extends Kind>(kind: K, after: string | undefined, limit: number): Promise<Row<K>[]>;
  /** Resolves once the change feed `watch` started is listening. */
  feedReady?(): Promise<void>;
  close(): Promise<void>;
}

/** One document a committed transaction wrote or deleted. */
export interface StoreChange {
  kind: Kind;
  key: string;
}

export type ChangeListener = (changes: readonly StoreChange[] | null) => void;
