/**
 * Typed access to Warrant's documents. Works on any DocumentStore: the datastore itself (committed
 * reads) or a transaction handle. Keys are chosen so that listing by parent is a range scan.
 */
import type { AgentRecord, EnrollmentRecord } from "../domain/compute/agent.js";
import type { Instance, Operation } from "../domain/compute/instance.js";
import type { StoredConsoleLogin, StoredConsoleSession } from "../domain/console-session.js";
import type { StoredDenyPolicy } from "../domain/iam/deny.js";
import type { Group } from "../domain/iam/groups.js";
import type { Policy } from "../domain/iam/policy.js";
import type { Role } from "../domain/iam/roles.js";
import type { WorkloadIdentityPool, WorkloadIdentityPoolProvider } from "../domain/iam/workload-identity.js";
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
import type { ListEntry } from "../domain/storage/listing.js";
import type { StoredObject } from "../domain/storage/object.js";
import type { UploadSession } from "../domain/storage/upload-session.js";
import type { StoredSigningKey } from "../domain/tokens/signing-key.js";
import type { User } from "../domain/user.js";
import type { UserPassword } from "../domain/user-password.js";
import type { DocumentStore, Documents, Entry, Kind, MetaDocuments, TextEntry } from "./datastore.js";

// Record types live in src/domain; re-exported here for existing importers.
export type { AgentRecord, EnrollmentRecord } from "../domain/compute/agent.js";
export type { OAuthClient, RefreshTokenRecord } from "../domain/oauth/client.js";
export type { UploadSession } from "../domain/storage/upload-session.js";

export interface ObjectScan {
  prefix: string;
  from?: string;
  after?: string;
  limit: number;
}

const objectKey = (bucket: string, name: string) => `${bucket}/${name}`;
/** Noncurrent generations sort right after their name (U+0001 is below every allowed name character). */
const versionKey = (bucket: string, name: string, generation: string) =>
  `${bucket}/${name}\u0001${generation.padStart(20, "0")}`;

/**
 * Deletes, a page at a time, the documents whose value `ended` says has ended (expired sessions,
 * sign-ins in progress, failure windows); returns how many. `page` lists by key after `after`.
 */
export async function sweepEnded<T>(
  page: (after: string | undefined, limit: number) => Promise<Entry<T>[]>,
  remove: (key: string) => Promise<boolean>,
  ended: (value: T) => boolean,
  pageSize = 500,
): Promise<number> {
  let n = 0;
  let after: string | undefined;
  for (;;) {
    const entries = await page(after, pageSize);
    for (const e of entries) if (ended(e.value) && (await remove(e.key))) n++;
    if (entries.length < pageSize) return n;
    after = entries[entries.length - 1]!.key;
  }
}

export interface PageRequest {
  pageSize: number;
  pageToken?: string;
}

export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

/** Page tokens are the last key served, base64url-wrapped so clients treat them as opaque. */
export function decodePageToken(token: string | undefined): string | undefined {
  if (!token) return undefined;
  return Buffer.from(token, "base64url").toString("utf8");
}
export const encodePageToken = (key: string) => Buffer.from(key, "utf8").toString("base64url");

/** One page of a kind in key order, optionally under a parent and a key prefix (keyset pagination). */
async function page<K extends Kind>(
  store: DocumentStore,
  kind: K,
  parent: string | undefined,
  req: PageRequest & { prefix?: string },
): Promise<Page<Documents[K]>> {
  const p = await pageText(store, kind, parent, req);
  return { ...p, items: p.items.map((e) => JSON.parse(e.text) as Documents[K]) };
}

/** `page`, with each document as its key and stored JSON text. */
async function pageText(
  store: DocumentStore,
  kind: Kind,
  parent: string | undefined,
  req: PageRequest & { prefix?: string },
): Promise<Page<TextEntry>> {
  const after = decodePageToken(req.pageToken);
  const rows = await store.listText(kind, {
    ...(parent !== undefined ? { parent } : {}),
    ...(req.prefix ? { prefix: req.prefix } : {}),
    ...(after !== undefined ? { after } : {}),
    limit: req.pageSize + 1,
  });
  const items = rows.slice(0, req.pageSize);
  const more = rows.length > req.pageSize;
  return {
    items,
    ...(more ? { nextPageToken: encodePageToken(items.at(-1)!.key) } : {}),
  };
}

export function repositories(s: DocumentStore) {
  return {
    meta: {
      /** The one narrowing of `meta`: each key has its own record type (`MetaDocuments`). */
      get: async <M extends keyof MetaDocuments>(key: M) =>
        (await s.get("meta", key)) as MetaDocuments[M] | undefined,
      put: <M extends keyof MetaDocuments>(key: M, value: MetaDocuments[M]) => s.put("meta", key, value),
    },
    projects: {
      get: (id: string) => s.get("project", id),
      list: (req: PageRequest) => page(s, "project", undefined, req),
      all: async () => (await s.list("project")).map((e) => e.value),
      insert: (p: Project) => s.insert("project", p.projectId, p),
      put: (p: Project) => s.put("project", p.projectId, p),
    },
    serviceAccounts: {
      get: (email: string) => s.get("service-account", email.toLowerCase()),
      /** By unique id (an index lookup), optionally only within one project. */
      async getByUniqueId(projectId: string | undefined, uniqueId: string) {
        const sa = await s.getUnique("service-account", uniqueId);
        return sa && (projectId === undefined || sa.projectId === projectId) ? sa : undefined;
      },
      list: (projectId: string, req: PageRequest) => page(s, "service-account", projectId, req),
      insert: (sa: ServiceAccount) => s.insert("service-account", sa.email, sa, sa.projectId),
      put: (sa: ServiceAccount) => s.put("service-account", sa.email, sa, sa.projectId),
      delete: (email: string) => s.delete("service-account", email),
    },
    /** Deleted service accounts, kept by unique id for undelete (filed under their project). */
    deletedServiceAccounts: {
      get: (uniqueId: string) => s.get("deleted-service-account", uniqueId),
      list: async (projectId: string) =>
        (await s.list("deleted-service-account", { parent: projectId })).map((r) => r.value),
      put: (d: DeletedServiceAccount) =>
        s.put("deleted-service-account", d.account.uniqueId, d, d.account.projectId),
      delete: (uniqueId: string) => s.delete("deleted-service-account", uniqueId),
    },
    serviceAccountKeys: {
      get: (keyId: string) => s.get("service-account-key", keyId),
      list: async (email: string) =>
        (await s.list("service-account-key", { parent: email.toLowerCase() })).map((r) => r.value),
      put: (k: ServiceAccountKey) => s.put("service-account-key", k.keyId, k, k.email),
      delete: (keyId: string) => s.delete("service-account-key", keyId),
    },
    instances: {
      key: (projectId: string, zone: string, name: string) => `${projectId}/${zone}/${name}`,
      get(projectId: string, zone: string, name: string) {
        return s.get("instance", this.key(projectId, zone, name));
      },
      /** All instances of a project, or of one zone of it. */
      async list(projectId: string, zone?: string) {
        const rows = await s.list("instance", {
          parent: projectId,
          ...(zone ? { prefix: `${projectId}/${zone}/` } : {}),
        });
        return rows.map((r) => r.value);
      },
      /**
       * One page of a project's instances (of one zone, or of all), in key order: only the page is
       * read. `pageToken` is the last key served; one outside the project (or zone) is refused.
       * The key prefix alone selects the project (project ids have no "/"): a range of the primary
       * key, which holds the documents, where a read through the parent index would look each row
       * up in the primary key again (SQLite: about a third of a 100-instance page's CPU).
       */
      page(projectId: string, zone: string | undefined, req: PageRequest) {
        const prefix = zone ? `${projectId}/${zone}/` : `${projectId}/`;
        const after = decodePageToken(req.pageToken);
        if (after !== undefined && !after.startsWith(prefix)) return undefined;
        return page(s, "instance", undefined, { ...req, prefix });
      },
      /** `page`, each instance as its key and stored JSON text (list pages render from it). */
      pageText(projectId: string, zone: string, req: PageRequest) {
        const prefix = `${projectId}/${zone}/`;
        const after = decodePageToken(req.pageToken);
        if (after !== undefined && !after.startsWith(prefix)) return undefined;
        return pageText(s, "instance", undefined, { ...req, prefix });
      },
      insert(i: Instance) {
        return s.insert("instance", this.key(i.projectId, i.zone, i.name), i, i.projectId);
      },
      put(i: Instance) {
        return s.put("instance", this.key(i.projectId, i.zone, i.name), i, i.projectId);
      },
      delete(i: Instance) {
        return s.delete("instance", this.key(i.projectId, i.zone, i.name));
      },
    },
    operations: {
      get: (projectId: string, name: string) => s.get("operation", `${projectId}/${name}`),
      put: (op: Operation) => s.put("operation", `${op.projectId}/${op.name}`, op, op.projectId),
    },
    policies: {
      get: (resource: string) => s.get("policy", resource),
      put: (resource: string, policy: Policy) => s.put("policy", resource, policy),
      delete: (resource: string) => s.delete("policy", resource),
    },
    customRoles: {
      get: (name: string) => s.get("custom-role", name),
      list: async (projectId: string) =>
        (await s.list("custom-role", { parent: projectId })).map((r) => r.value),
      all: async () => (await s.list("custom-role")).map((r) => r.value),
      put: (projectId: string, role: Role) => s.put("custom-role", role.name, role, projectId),
      insert: (projectId: string, role: Role) => s.insert("custom-role", role.name, role, projectId),
    },
    oauthClients: {
      get: (clientId: string) => s.get("oauth-client", clientId),
      put: (c: OAuthClient) => s.put("oauth-client", c.clientId, c, c.subject),
      /** The per-credential clients issued to a member (`user:EMAIL`). */
      ofSubject: async (subject: string) =>
        (await s.list("oauth-client", { parent: subject })).map((r) => r.value),
      delete: (clientId: string) => s.delete("oauth-client", clientId),
    },
    refreshTokens: {
      get: (sha256: string) => s.get("refresh-token", sha256),
      put: (r: RefreshTokenRecord) => s.put("refresh-token", r.tokenSha256, r, r.subject),
      ofSubject: async (subject: string) =>
        (await s.list("refresh-token", { parent: subject })).map((r) => r.value),
      delete: (sha256: string) => s.delete("refresh-token", sha256),
    },
    users: {
      get: (email: string) => s.get("user", email.toLowerCase()),
      list: (req: PageRequest) => page(s, "user", undefined, req),
      insert: (u: User) => s.insert("user", u.email, u),
      put: (u: User) => s.put("user", u.email, u),
      delete: (email: string) => s.delete("user", email.toLowerCase()),
    },
    /** Users' password hashes, apart from the user records the directory API returns. */
    userPasswords: {
      get: (email: string) => s.get("user-password", email.toLowerCase()),
      put: (p: UserPassword) => s.put("user-password", p.email, p),
      delete: (email: string) => s.delete("user-password", email.toLowerCase()),
    },
    authorizationCodes: {
      get: (sha256: string) => s.get("authorization-code", sha256),
      put: (c: AuthorizationCodeRecord) => s.put("authorization-code", c.codeSha256, c),
      delete: (sha256: string) => s.delete("authorization-code", sha256),
      page: (after: string | undefined, limit: number) =>
        s.list("authorization-code", { limit, ...(after ? { after } : {}) }),
    },
    consoleSessions: {
      get: (sha256: string) => s.get("console-session", sha256),
      put: (x: StoredConsoleSession) => s.put("console-session", x.sessionSha256, x, x.email),
      delete: (sha256: string) => s.delete("console-session", sha256),
      ofUser: async (email: string) =>
        (await s.list("console-session", { parent: email.toLowerCase() })).map((r) => r.value),
      page: (after: string | undefined, limit: number) =>
        s.list("console-session", { limit, ...(after ? { after } : {}) }),
    },
    consoleLogins: {
      get: (sha256: string) => s.get("console-login", sha256),
      put: (x: StoredConsoleLogin) => s.put("console-login", x.loginSha256, x),
      delete: (sha256: string) => s.delete("console-login", sha256),
      page: (after: string | undefined, limit: number) =>
        s.list("console-login", { limit, ...(after ? { after } : {}) }),
    },
    signInSessions: {
      get: (sha256: string) => s.get("signin-session", sha256),
      put: (x: SignInSession) => s.put("signin-session", x.sessionSha256, x, x.email),
      ofUser: async (email: string) =>
        (await s.list("signin-session", { parent: email.toLowerCase() })).map((r) => r.value),
      delete: (sha256: string) => s.delete("signin-session", sha256),
      page: (after: string | undefined, limit: number) =>
        s.list("signin-session", { limit, ...(after ? { after } : {}) }),
    },
    ssoSignIns: {
      get: (stateSha256: string) => s.get("sso-signin", stateSha256),
      put: (x: PendingSsoSignIn) => s.put("sso-signin", x.stateSha256, x),
      delete: (stateSha256: string) => s.delete("sso-signin", stateSha256),
      page: (after: string | undefined, limit: number) =>
        s.list("sso-signin", { limit, ...(after ? { after } : {}) }),
    },
    signInFailures: {
      get: (keySha256: string) => s.get("signin-failures", keySha256),
      put: (x: SignInFailures) => s.put("signin-failures", x.keySha256, x),
      delete: (keySha256: string) => s.delete("signin-failures", keySha256),
      page: (after: string | undefined, limit: number) =>
        s.list("signin-failures", { limit, ...(after ? { after } : {}) }),
    },
    groups: {
      get: (email: string) => s.get("group", email.toLowerCase()),
      all: async () => (await s.list("group")).map((r) => r.value),
      insert: (g: Group) => s.insert("group", g.email, g),
      put: (g: Group) => s.put("group", g.email, g),
      delete: (email: string) => s.delete("group", email.toLowerCase()),
    },
    /** Deny policies, keyed `ATTACHED_TO/POLICY_ID` and filed under the resource they are attached to. */
    denyPolicies: {
      get: (attachedTo: string, policyId: string) => s.get("deny-policy", `${attachedTo}/${policyId}`),
      list: async (attachedTo: string) =>
        (await s.list("deny-policy", { parent: attachedTo })).map((r) => r.value),
      insert: (d: StoredDenyPolicy) =>
        s.insert("deny-policy", `${d.attachedTo}/${d.policyId}`, d, d.attachedTo),
      put: (d: StoredDenyPolicy) => s.put("deny-policy", `${d.attachedTo}/${d.policyId}`, d, d.attachedTo),
      delete: (attachedTo: string, policyId: string) => s.delete("deny-policy", `${attachedTo}/${policyId}`),
    },
    buckets: {
      get: (name: string) => s.get("bucket", name),
      list: (projectId: string, req: PageRequest & { prefix?: string }) => page(s, "bucket", projectId, req),
      insert: (b: Bucket) => s.insert("bucket", b.name, b, b.projectId),
      put: (b: Bucket) => s.put("bucket", b.name, b, b.projectId),
      delete: (name: string) => s.delete("bucket", name),
    },
    objects: {
      get: (bucket: string, name: string) => s.get("object", objectKey(bucket, name)),
      put: (o: StoredObject) => s.put("object", objectKey(o.bucket, o.name), o, o.bucket),
      delete: (bucket: string, name: string) => s.delete("object", objectKey(bucket, name)),
      /** Live objects under a name prefix, in name order, keyed by name. */
      scan: async (bucket: string, q: ObjectScan): Promise<ListEntry<StoredObject>[]> => {
        const rows = await s.list("object", scanOptions(bucket, q));
        return rows.map((r) => ({ key: r.value.name, name: r.value.name, value: r.value }));
      },
      /** `scan`, each object as its stored entry (key and JSON text): the name is the key's (`bucket/name`). */
      scanText: async (bucket: string, q: ObjectScan): Promise<ListEntry<TextEntry>[]> => {
        const rows = await s.listText("object", scanOptions(bucket, q));
        return rows.map((r) => {
          const name = r.key.slice(bucket.length + 1);
          return { key: name, name, value: r };
        });
      },
      any: async (bucket: string) => (await s.list("object", { prefix: `${bucket}/`, limit: 1 })).length > 0,
      /** Every live object in key order, a page at a time (for maintenance sweeps). */
      async *all(): AsyncGenerator<StoredObject> {
        let after: string | undefined;
        for (;;) {
          const rows = await s.list("object", { limit: 500, ...(after ? { after } : {}) });
          for (const r of rows) yield r.value;
          if (rows.length < 500) return;
          after = rows.at(-1)!.key;
        }
      },
    },
    objectVersions: {
      get: (bucket: string, name: string, generation: string) =>
        s.get("object-version", versionKey(bucket, name, generation)),
      put: (o: StoredObject) =>
        s.put("object-version", versionKey(o.bucket, o.name, o.generation), o, o.bucket),
      delete: (o: StoredObject) => s.delete("object-version", versionKey(o.bucket, o.name, o.generation)),
      /** Noncurrent generations under a name prefix, keyed so they sort before the live generation. */
      scan: async (bucket: string, q: ObjectScan): Promise<ListEntry<StoredObject>[]> => {
        const rows = await s.list("object-version", scanOptions(bucket, q));
        return rows.map((r) => ({ key: r.key.slice(bucket.length + 1), name: r.value.name, value: r.value }));
      },
      any: async (bucket: string) =>
        (await s.list("object-version", { prefix: `${bucket}/`, limit: 1 })).length > 0,
      async *all(): AsyncGenerator<StoredObject> {
        let after: string | undefined;
        for (;;) {
          const rows = await s.list("object-version", {
            limit: 500,
            ...(after ? { after } : {}),
          });
          for (const r of rows) yield r.value;
          if (rows.length < 500) return;
          after = rows.at(-1)!.key;
        }
      },
    },
    uploads: {
      get: (idSha256: string) => s.get("upload-session", idSha256),
      put: (u: UploadSession) => s.put("upload-session", u.idSha256, u, u.bucket),
      delete: (idSha256: string) => s.delete("upload-session", idSha256),
      all: async () => (await s.list("upload-session")).map((r) => r.value),
    },
    agents: {
      get: (agentId: string) => s.get("agent", agentId),
      ofInstance: async (instanceId: string) =>
        (await s.list("agent", { parent: instanceId })).map((e) => e.value),
      put: (a: AgentRecord) => s.put("agent", a.agentId, a, a.instanceId),
      delete: (agentId: string) => s.delete("agent", agentId),
    },
    enrollments: {
      get: (sha: string) => s.get("enrollment", sha),
      put: (e: EnrollmentRecord) => s.put("enrollment", e.tokenSha256, e),
      delete: (sha: string) => s.delete("enrollment", sha),
    },
    /** Keyed by resource name (`projects/NUMBER/locations/global/workloadIdentityPools/ID`), filed under the project number. */
    workloadIdentityPools: {
      get: (name: string) => s.get("workload-identity-pool", name),
      list: async (projectNumber: string) =>
        (await s.list("workload-identity-pool", { parent: projectNumber })).map((r) => r.value),
      insert: (p: WorkloadIdentityPool) => s.insert("workload-identity-pool", p.name, p, p.projectNumber),
      put: (p: WorkloadIdentityPool) => s.put("workload-identity-pool", p.name, p, p.projectNumber),
    },
    /** Keyed by resource name, filed under their pool's resource name. */
    workloadIdentityPoolProviders: {
      get: (name: string) => s.get("workload-identity-pool-provider", name),
      list: async (pool: string) =>
        (await s.list("workload-identity-pool-provider", { parent: pool })).map((r) => r.value),
      insert: (pool: string, p: WorkloadIdentityPoolProvider) =>
        s.insert("workload-identity-pool-provider", p.name, p, pool),
      put: (pool: string, p: WorkloadIdentityPoolProvider) =>
        s.put("workload-identity-pool-provider", p.name, p, pool),
    },
    signingKeys: {
      all: async () => (await s.list("signing-key")).map((r) => r.value),
      put: (k: StoredSigningKey) => s.put("signing-key", k.kid, k),
      delete: (kid: string) => s.delete("signing-key", kid),
    },
  };
}

export type Repositories = ReturnType<typeof repositories>;

function scanOptions(bucket: string, q: ObjectScan) {
  return {
    prefix: `${bucket}/${q.prefix}`,
    ...(q.from !== undefined ? { from: `${bucket}/${q.from}` } : {}),
    ...(q.after !== undefined ? { after: `${bucket}/${q.after}` } : {}),
    limit: q.limit,
  };
}
