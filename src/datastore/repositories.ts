/**
 * Typed access to Warrant's documents. Works on any DocumentStore: the datastore itself (committed
 * reads) or a transaction handle. Keys are chosen so that listing by parent is a range scan.
 */
import type { Instance, Operation } from "../domain/compute/instance.js";
import type { Policy } from "../domain/iam/policy.js";
import type { Role } from "../domain/iam/roles.js";
import type { WorkloadIdentityPool, WorkloadIdentityPoolProvider } from "../domain/iam/workload-identity.js";
import type { Project } from "../domain/project.js";
import type { DeletedServiceAccount, ServiceAccount } from "../domain/service-account.js";
import type { ServiceAccountKey } from "../domain/service-account-key.js";
import type { Bucket } from "../domain/storage/bucket.js";
import type { ListEntry } from "../domain/storage/listing.js";
import type { StoredObject } from "../domain/storage/object.js";
import type { StoredSigningKey } from "../domain/tokens/signing-key.js";
import type { User } from "../domain/user.js";
import type { DocumentStore } from "./datastore.js";

export interface OAuthClient {
  clientId: string;
  /** SHA-256 of the client secret, hex. */
  secretSha256: string;
  displayName: string;
  /**
   * Set on the client of one issued user credential (`users/EMAIL:issueCredential`): the member it
   * was issued to. The shared CLI client has none.
   */
  subject?: string;
  createTime?: string;
  /** Set when the credential was revoked: access tokens issued to this client are refused from then on. */
  revokeTime?: string;
}

export interface RefreshTokenRecord {
  /** SHA-256 of the refresh token, hex: the token itself is never stored. */
  tokenSha256: string;
  subject: string;
  /** The unique id of the user it was issued to: a later user of the same address cannot use it. */
  uid?: string;
  clientId: string;
  scopes: string[];
  createTime: string;
  revoked?: boolean;
}

/** A metadata-server agent's credential for one instance (the secret is stored only as a digest). */
export interface AgentRecord {
  agentId: string;
  secretSha256: string;
  projectId: string;
  zone: string;
  instance: string;
  instanceId: string;
  createTime: string;
  /** When the current secret was issued (at enrollment, then at each renewal). */
  issueTime?: string;
  /** When the current secret stops working; a record without one (enrolled before expiry existed) is expired. */
  expireTime?: string;
  /** Enrolled by `warrant serve` for its in-process metadata server (replaced at every start). */
  inProcess?: boolean;
}

/** A one-time enrollment token for an instance's agent (stored as a digest). */
export interface EnrollmentRecord {
  tokenSha256: string;
  projectId: string;
  zone: string;
  instance: string;
  instanceId: string;
  expireTime: string;
  inProcess?: boolean;
}

/** A resumable upload in progress; keyed by the SHA-256 of its upload id (the id is a bearer secret). */
export interface UploadSession {
  idSha256: string;
  /** Names the file under `storage/uploads/` that holds the bytes received so far. */
  fileId: string;
  bucket: string;
  name: string;
  /** Client-writable metadata fixed at initiation. */
  metadata: Record<string, unknown>;
  preconditions: Record<string, string>;
  declared: { md5Hash?: string; crc32c?: string };
  /** The member who initiated it (the session URI then stands in for their credential). */
  principal: string;
  /** Total size if the client declared it (`X-Upload-Content-Length` or a `Content-Range` total). */
  total?: number;
  /** Bytes durably received, from offset 0. */
  persisted: number;
  createTime: string;
  expireTime: string;
  /** Set once finalised: later status queries answer with this object. */
  finalized?: { bucket: string; name: string; generation: string };
}

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
async function page<T>(
  store: DocumentStore,
  kind: Parameters<DocumentStore["list"]>[0],
  parent: string | undefined,
  req: PageRequest & { prefix?: string },
): Promise<Page<T>> {
  const after = decodePageToken(req.pageToken);
  const rows = await store.list<T>(kind, {
    ...(parent !== undefined ? { parent } : {}),
    ...(req.prefix ? { prefix: req.prefix } : {}),
    ...(after !== undefined ? { after } : {}),
    limit: req.pageSize + 1,
  });
  const items = rows.slice(0, req.pageSize);
  const more = rows.length > req.pageSize;
  return {
    items: items.map((r) => r.value),
    ...(more ? { nextPageToken: encodePageToken(items.at(-1)!.key) } : {}),
  };
}

export function repositories(s: DocumentStore) {
  return {
    meta: {
      get: <T>(key: string) => s.get<T>("meta", key),
      put: <T>(key: string, value: T) => s.put("meta", key, value),
    },
    projects: {
      get: (id: string) => s.get<Project>("project", id),
      list: (req: PageRequest) => page<Project>(s, "project", undefined, req),
      all: async () => (await s.list<Project>("project")).map((e) => e.value),
      insert: (p: Project) => s.insert("project", p.projectId, p),
      put: (p: Project) => s.put("project", p.projectId, p),
    },
    serviceAccounts: {
      get: (email: string) => s.get<ServiceAccount>("service-account", email.toLowerCase()),
      async getByUniqueId(projectId: string | undefined, uniqueId: string) {
        const rows = await s.list<ServiceAccount>(
          "service-account",
          projectId !== undefined ? { parent: projectId } : {},
        );
        return rows.find((r) => r.value.uniqueId === uniqueId)?.value;
      },
      list: (projectId: string, req: PageRequest) =>
        page<ServiceAccount>(s, "service-account", projectId, req),
      insert: (sa: ServiceAccount) => s.insert("service-account", sa.email, sa, sa.projectId),
      put: (sa: ServiceAccount) => s.put("service-account", sa.email, sa, sa.projectId),
      delete: (email: string) => s.delete("service-account", email),
    },
    /** Deleted service accounts, kept by unique id for undelete (filed under their project). */
    deletedServiceAccounts: {
      get: (uniqueId: string) => s.get<DeletedServiceAccount>("deleted-service-account", uniqueId),
      list: async (projectId: string) =>
        (await s.list<DeletedServiceAccount>("deleted-service-account", { parent: projectId })).map(
          (r) => r.value,
        ),
      put: (d: DeletedServiceAccount) =>
        s.put("deleted-service-account", d.account.uniqueId, d, d.account.projectId),
      delete: (uniqueId: string) => s.delete("deleted-service-account", uniqueId),
    },
    serviceAccountKeys: {
      get: (keyId: string) => s.get<ServiceAccountKey>("service-account-key", keyId),
      list: async (email: string) =>
        (await s.list<ServiceAccountKey>("service-account-key", { parent: email.toLowerCase() })).map(
          (r) => r.value,
        ),
      put: (k: ServiceAccountKey) => s.put("service-account-key", k.keyId, k, k.email),
      delete: (keyId: string) => s.delete("service-account-key", keyId),
    },
    instances: {
      key: (projectId: string, zone: string, name: string) => `${projectId}/${zone}/${name}`,
      get(projectId: string, zone: string, name: string) {
        return s.get<Instance>("instance", this.key(projectId, zone, name));
      },
      /** All instances of a project, or of one zone of it. */
      async list(projectId: string, zone?: string) {
        const rows = await s.list<Instance>("instance", {
          parent: projectId,
          ...(zone ? { prefix: `${projectId}/${zone}/` } : {}),
        });
        return rows.map((r) => r.value);
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
      get: (projectId: string, name: string) => s.get<Operation>("operation", `${projectId}/${name}`),
      put: (op: Operation) => s.put("operation", `${op.projectId}/${op.name}`, op, op.projectId),
    },
    policies: {
      get: (resource: string) => s.get<Policy>("policy", resource),
      put: (resource: string, policy: Policy) => s.put("policy", resource, policy),
      delete: (resource: string) => s.delete("policy", resource),
    },
    customRoles: {
      get: (name: string) => s.get<Role>("custom-role", name),
      list: async (projectId: string) =>
        (await s.list<Role>("custom-role", { parent: projectId })).map((r) => r.value),
      all: async () => (await s.list<Role>("custom-role")).map((r) => r.value),
      put: (projectId: string, role: Role) => s.put("custom-role", role.name, role, projectId),
      insert: (projectId: string, role: Role) => s.insert("custom-role", role.name, role, projectId),
    },
    oauthClients: {
      get: (clientId: string) => s.get<OAuthClient>("oauth-client", clientId),
      put: (c: OAuthClient) => s.put("oauth-client", c.clientId, c, c.subject),
      /** The per-credential clients issued to a member (`user:EMAIL`). */
      ofSubject: async (subject: string) =>
        (await s.list<OAuthClient>("oauth-client", { parent: subject })).map((r) => r.value),
      delete: (clientId: string) => s.delete("oauth-client", clientId),
    },
    refreshTokens: {
      get: (sha256: string) => s.get<RefreshTokenRecord>("refresh-token", sha256),
      put: (r: RefreshTokenRecord) => s.put("refresh-token", r.tokenSha256, r, r.subject),
      ofSubject: async (subject: string) =>
        (await s.list<RefreshTokenRecord>("refresh-token", { parent: subject })).map((r) => r.value),
      delete: (sha256: string) => s.delete("refresh-token", sha256),
    },
    users: {
      get: (email: string) => s.get<User>("user", email.toLowerCase()),
      list: (req: PageRequest) => page<User>(s, "user", undefined, req),
      insert: (u: User) => s.insert("user", u.email, u),
      put: (u: User) => s.put("user", u.email, u),
      delete: (email: string) => s.delete("user", email.toLowerCase()),
    },
    buckets: {
      get: (name: string) => s.get<Bucket>("bucket", name),
      list: (projectId: string, req: PageRequest & { prefix?: string }) =>
        page<Bucket>(s, "bucket", projectId, req),
      insert: (b: Bucket) => s.insert("bucket", b.name, b, b.projectId),
      put: (b: Bucket) => s.put("bucket", b.name, b, b.projectId),
      delete: (name: string) => s.delete("bucket", name),
    },
    objects: {
      get: (bucket: string, name: string) => s.get<StoredObject>("object", objectKey(bucket, name)),
      put: (o: StoredObject) => s.put("object", objectKey(o.bucket, o.name), o, o.bucket),
      delete: (bucket: string, name: string) => s.delete("object", objectKey(bucket, name)),
      /** Live objects under a name prefix, in name order, keyed by name. */
      scan: async (bucket: string, q: ObjectScan): Promise<ListEntry<StoredObject>[]> => {
        const rows = await s.list<StoredObject>("object", scanOptions(bucket, q));
        return rows.map((r) => ({ key: r.value.name, name: r.value.name, value: r.value }));
      },
      any: async (bucket: string) => (await s.list("object", { prefix: `${bucket}/`, limit: 1 })).length > 0,
      /** Every live object in key order, a page at a time (for maintenance sweeps). */
      async *all(): AsyncGenerator<StoredObject> {
        let after: string | undefined;
        for (;;) {
          const rows = await s.list<StoredObject>("object", { limit: 500, ...(after ? { after } : {}) });
          for (const r of rows) yield r.value;
          if (rows.length < 500) return;
          after = rows.at(-1)!.key;
        }
      },
    },
    objectVersions: {
      get: (bucket: string, name: string, generation: string) =>
        s.get<StoredObject>("object-version", versionKey(bucket, name, generation)),
      put: (o: StoredObject) =>
        s.put("object-version", versionKey(o.bucket, o.name, o.generation), o, o.bucket),
      delete: (o: StoredObject) => s.delete("object-version", versionKey(o.bucket, o.name, o.generation)),
      /** Noncurrent generations under a name prefix, keyed so they sort before the live generation. */
      scan: async (bucket: string, q: ObjectScan): Promise<ListEntry<StoredObject>[]> => {
        const rows = await s.list<StoredObject>("object-version", scanOptions(bucket, q));
        return rows.map((r) => ({ key: r.key.slice(bucket.length + 1), name: r.value.name, value: r.value }));
      },
      any: async (bucket: string) =>
        (await s.list("object-version", { prefix: `${bucket}/`, limit: 1 })).length > 0,
      async *all(): AsyncGenerator<StoredObject> {
        let after: string | undefined;
        for (;;) {
          const rows = await s.list<StoredObject>("object-version", {
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
      get: (idSha256: string) => s.get<UploadSession>("upload-session", idSha256),
      put: (u: UploadSession) => s.put("upload-session", u.idSha256, u, u.bucket),
      delete: (idSha256: string) => s.delete("upload-session", idSha256),
      all: async () => (await s.list<UploadSession>("upload-session")).map((r) => r.value),
    },
    agents: {
      get: (agentId: string) => s.get<AgentRecord>("agent", agentId),
      ofInstance: async (instanceId: string) =>
        (await s.list<AgentRecord>("agent", { parent: instanceId })).map((e) => e.value),
      put: (a: AgentRecord) => s.put("agent", a.agentId, a, a.instanceId),
      delete: (agentId: string) => s.delete("agent", agentId),
    },
    enrollments: {
      get: (sha: string) => s.get<EnrollmentRecord>("enrollment", sha),
      put: (e: EnrollmentRecord) => s.put("enrollment", e.tokenSha256, e),
      delete: (sha: string) => s.delete("enrollment", sha),
    },
    /** Keyed by resource name (`projects/NUMBER/locations/global/workloadIdentityPools/ID`), filed under the project number. */
    workloadIdentityPools: {
      get: (name: string) => s.get<WorkloadIdentityPool>("workload-identity-pool", name),
      list: async (projectNumber: string) =>
        (await s.list<WorkloadIdentityPool>("workload-identity-pool", { parent: projectNumber })).map(
          (r) => r.value,
        ),
      insert: (p: WorkloadIdentityPool) => s.insert("workload-identity-pool", p.name, p, p.projectNumber),
      put: (p: WorkloadIdentityPool) => s.put("workload-identity-pool", p.name, p, p.projectNumber),
    },
    /** Keyed by resource name, filed under their pool's resource name. */
    workloadIdentityPoolProviders: {
      get: (name: string) => s.get<WorkloadIdentityPoolProvider>("workload-identity-pool-provider", name),
      list: async (pool: string) =>
        (await s.list<WorkloadIdentityPoolProvider>("workload-identity-pool-provider", { parent: pool })).map(
          (r) => r.value,
        ),
      insert: (pool: string, p: WorkloadIdentityPoolProvider) =>
        s.insert("workload-identity-pool-provider", p.name, p, pool),
      put: (pool: string, p: WorkloadIdentityPoolProvider) =>
        s.put("workload-identity-pool-provider", p.name, p, pool),
    },
    signingKeys: {
      all: async () => (await s.list<StoredSigningKey>("signing-key")).map((r) => r.value),
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
