/**
 * The fleet of `npm run bench:scale` (bench/scale.ts), written through the datastore directly: bulk
 * writes in transactions of a few thousand documents, not one API call at a time, so that 100,000
 * service accounts take seconds. The records are the ones the APIs write (same domain constructors
 * and shapes), so a `warrant serve` started on the result serves them like any other state.
 *
 * The state it needs first is a bootstrapped installation (the organization, the administrator):
 * the bench starts `warrant serve` once on an empty state, then stops it and runs this.
 *
 * Shape (at scale 1): `projects` projects `fleet-0000`…; project 0 is the big one, holding a tenth of
 * the service accounts and of the instances (all in one zone) and a bucket of `objects` objects; the
 * rest are spread evenly. Every project's policy has `membersPerPolicy` members (Google's limit is
 * 1,500), bound to unique ids as the API stores them, over several predefined roles and, in the first
 * `customRoles` projects, a custom role of that project. The bench's caller is the last service
 * account of project 0, bound last in the last binding (the custom role that grants the listing
 * permissions): the worst place for a scan of the members. Every instance has an enrolled agent
 * record, as after `warrant agent` enrolled on each VM.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Datastore, DocumentStore, Kind, Row } from "../src/datastore/datastore.js";
import { repositories } from "../src/datastore/repositories.js";
import type { AgentRecord } from "../src/domain/compute/agent.js";
import { computeTimestamp, type Instance, instanceHostname } from "../src/domain/compute/instance.js";
import { CLOUD_PLATFORM } from "../src/domain/compute/scopes.js";
import { boundMember } from "../src/domain/iam/members.js";
import { newEtag, type Policy } from "../src/domain/iam/policy.js";
import { KNOWN_PERMISSIONS, type Role } from "../src/domain/iam/roles.js";
import { newComputeId, newProjectNumber } from "../src/domain/ids.js";
import type { Project } from "../src/domain/project.js";
import { projectResource } from "../src/domain/resources.js";
import {
  makeServiceAccount,
  type ServiceAccount,
  serviceAccountEmail,
} from "../src/domain/service-account.js";
import { type Bucket, bucketResource, defaultBucketPolicy } from "../src/domain/storage/bucket.js";
import type { StoredObject } from "../src/domain/storage/object.js";

export interface FleetScale {
  projects: number;
  serviceAccounts: number;
  instances: number;
  membersPerPolicy: number;
  customRoles: number;
  objects: number;
}

export const FULL_SCALE: FleetScale = {
  projects: 1_000,
  serviceAccounts: 100_000,
  instances: 10_000,
  membersPerPolicy: 1_500,
  customRoles: 100,
  objects: 10_000,
};

/** `--quick`: a hundredth of the fleet (policies stay at the member limit). */
export const QUICK_SCALE: FleetScale = {
  projects: 20,
  serviceAccounts: 2_000,
  instances: 200,
  membersPerPolicy: 1_500,
  customRoles: 10,
  objects: 1_000,
};

export const FLEET_ZONE = "us-central1-a";
export const READER_ROLE_ID = "fleetReader";
/** What the caller's custom role grants (and more, so the role is not trivially small). */
export const LISTING_PERMISSIONS = [
  "storage.objects.list",
  "storage.objects.get",
  "storage.buckets.get",
  "compute.instances.list",
  "compute.instances.get",
  "iam.serviceAccounts.list",
  "iam.serviceAccounts.get",
  "resourcemanager.projects.get",
];
const PREDEFINED_BINDING_ROLES = [
  "roles/viewer",
  "roles/compute.viewer",
  "roles/storage.objectViewer",
  "roles/iam.serviceAccountUser",
  "roles/logging.viewer",
  "roles/monitoring.viewer",
];

export const projectIdOf = (n: number) => `fleet-${String(n).padStart(4, "0")}`;
export const bigBucketOf = (projectId: string) => `${projectId}-data`;

export interface Fleet {
  scale: FleetScale;
  bigProject: string;
  bigBucket: string;
  /** Service accounts of the big project (what the page-by-page listing walks). */
  bigProjectAccounts: number;
  /** Instances of the big project, all in FLEET_ZONE. */
  bigProjectInstances: number;
  /** The last account of the big project, bound last in its policy's last binding. */
  caller: ServiceAccount;
  /** A sample of accounts of every project (for in-process checks over many resources). */
  sample: { projectId: string; account: ServiceAccount }[];
  documents: number;
  millis: number;
}

/**
 * Collects the generator's writes (made through the repositories, which know each kind's keys and
 * parents) as rows, and writes them with `putMany` in transactions of `batch` documents: PostgreSQL
 * takes a batch in a few statements instead of a round trip per document. The fleet goes into a
 * fresh installation whose keys it never repeats, so an insert is written as a put.
 */
class BulkWriter {
  private pending = new Map<Kind, Row[]>();
  private count = 0;
  written = 0;
  private readonly collector: DocumentStore;
  constructor(
    private readonly store: Datastore,
    private readonly batch = 2_000,
  ) {
    const collect = (kind: Kind, row: Row) => {
      const rows = this.pending.get(kind) ?? [];
      rows.push(row);
      this.pending.set(kind, rows);
      this.count++;
    };
    const writesOnly = () => Promise.reject(new Error("the fleet generator's writer does not read"));
    this.collector = {
      get: writesOnly,
      getUnique: writesOnly,
      list: writesOnly,
      listText: writesOnly,
      delete: writesOnly,
      put: async (kind, key, value, parent) => collect(kind, { key, parent: parent ?? null, value }),
      putMany: async (kind, rows) => {
        for (const row of rows) collect(kind, row);
      },
      insert: async (kind, key, value, parent) => {
        collect(kind, { key, parent: parent ?? null, value });
        return true;
      },
    };
  }
  async add(write: (tx: DocumentStore) => Promise<unknown>) {
    await write(this.collector);
    if (this.count >= this.batch) await this.flush();
  }
  async flush() {
    const pending = this.pending;
    const count = this.count;
    this.pending = new Map();
    this.count = 0;
    if (count === 0) return;
    await this.store.transaction(async (tx) => {
      for (const [kind, rows] of pending) await tx.putMany(kind, rows);
    });
    this.written += count;
  }
}

/** How many of `total` go to project `n` of `projects`: a tenth to project 0, the rest spread evenly. */
function share(total: number, projects: number, n: number): number {
  if (projects === 1) return total;
  const big = Math.floor(total / 10);
  if (n === 0) return big;
  const rest = total - big;
  const per = Math.floor(rest / (projects - 1));
  return per + (n - 1 < rest - per * (projects - 1) ? 1 : 0);
}

export async function generateFleet(
  store: Datastore,
  scale: FleetScale,
  log: (line: string) => void = () => {},
): Promise<Fleet> {
  const started = Date.now();
  const r = repositories(store);
  const installation = await r.meta.get("installation");
  if (!installation)
    throw new Error("generateFleet needs a bootstrapped installation (start the server once)");
  const admin = await r.users.get("admin@warrant.local");
  if (!admin?.uniqueId) throw new Error("no administrator in the user directory");
  const adminMember = boundMember("user", admin.email, admin.uniqueId);
  const w = new BulkWriter(store);
  const now = new Date().toISOString();
  const stamp = computeTimestamp();
  const known = [...KNOWN_PERMISSIONS].sort();

  // Projects and their accounts first: policies name accounts of their own and of other projects.
  const projects: Project[] = [];
  const accounts: ServiceAccount[][] = [];
  for (let n = 0; n < scale.projects; n++) {
    const p: Project = {
      projectId: projectIdOf(n),
      projectNumber: newProjectNumber(),
      name: `Fleet project ${n}`,
      lifecycleState: "ACTIVE",
      createTime: now,
      parent: { type: "organization", id: installation.organizationId },
    };
    projects.push(p);
    await w.add((tx) => repositories(tx).projects.insert(p));
    const mine: ServiceAccount[] = [];
    const count = share(scale.serviceAccounts, scale.projects, n);
    for (let i = 0; i < count; i++) {
      const email = serviceAccountEmail(`sa-${String(i).padStart(6, "0")}`, p.projectId);
      const sa = makeServiceAccount(p.projectId, email, { displayName: `Workload ${i} of ${p.projectId}` });
      mine.push(sa);
      await w.add((tx) => repositories(tx).serviceAccounts.insert(sa));
    }
    accounts.push(mine);
  }
  await w.flush();
  log(`  ${scale.projects} projects, ${scale.serviceAccounts} service accounts (${Date.now() - started} ms)`);

  // Custom roles: one in each of the first `customRoles` projects.
  const customRole = new Map<string, string>();
  for (let n = 0; n < Math.min(scale.customRoles, scale.projects); n++) {
    const projectId = projectIdOf(n);
    const extra = known.slice((n * 37) % (known.length - 60), ((n * 37) % (known.length - 60)) + 40);
    const role: Role = {
      name: `projects/${projectId}/roles/${READER_ROLE_ID}`,
      title: "Fleet reader",
      description: "Lists what the fleet bench lists.",
      stage: "GA",
      includedPermissions: [...new Set([...LISTING_PERMISSIONS, ...extra])].sort(),
      etag: newEtag(),
    };
    customRole.set(projectId, role.name);
    await w.add((tx) => repositories(tx).customRoles.insert(projectId, role));
  }

  // Policies at the member limit: the project's own accounts first, then its neighbours'.
  const all = accounts.flat();
  const caller = accounts[0]!.at(-1)!;
  for (let n = 0; n < scale.projects; n++) {
    const p = projects[n]!;
    const roles = [...PREDEFINED_BINDING_ROLES];
    const custom = customRole.get(p.projectId);
    if (custom) roles.push(custom);
    const members: string[] = [];
    const own = accounts[n]!;
    const isBig = n === 0;
    // The administrator's owner binding, and in the big project the caller, complete the count.
    const target = scale.membersPerPolicy - 1 - (isBig ? 1 : 0);
    for (const sa of own) {
      if (members.length >= target) break;
      if (isBig && sa === caller) continue;
      members.push(boundMember("serviceAccount", sa.email, sa.uniqueId));
    }
    let k = (all.indexOf(own[0]!) + own.length) % all.length;
    while (members.length < target) {
      const sa = all[k]!;
      k = (k + 1) % all.length;
      if (sa === caller) continue;
      members.push(boundMember("serviceAccount", sa.email, sa.uniqueId));
    }
    // Every role gets its share; the last (the custom role, where there is one) the remainder.
    const per = Math.max(1, Math.floor(members.length / roles.length));
    const bindings = roles.map((role, i) => ({
      role,
      members: members.slice(i * per, i === roles.length - 1 ? undefined : (i + 1) * per),
    }));
    // The big project's caller: last member of the last binding (its custom role).
    if (isBig) bindings.at(-1)!.members.push(boundMember("serviceAccount", caller.email, caller.uniqueId));
    bindings.unshift({ role: "roles/owner", members: [adminMember] });
    const policy: Policy = {
      version: 1,
      bindings: bindings
        .filter((b) => b.members.length > 0)
        .map((b) => ({ role: b.role, members: [...b.members].sort() })),
      etag: newEtag(),
    };
    // Sorted members (as the API stores them) would move the caller; keep it last in its binding.
    if (isBig) {
      const last = policy.bindings.at(-1)!;
      const me = boundMember("serviceAccount", caller.email, caller.uniqueId);
      last.members = [...last.members.filter((m) => m !== me), me];
    }
    await w.add((tx) => repositories(tx).policies.put(projectResource(p.projectId), policy));
  }
  await w.flush();
  log(`  ${scale.projects} policies of ${scale.membersPerPolicy} members (${Date.now() - started} ms)`);

  // Instances, each with the record of an agent that enrolled on it.
  let bigProjectInstances = 0;
  for (let n = 0; n < scale.projects; n++) {
    const p = projects[n]!;
    const own = accounts[n]!;
    const count = share(scale.instances, scale.projects, n);
    if (n === 0) bigProjectInstances = count;
    for (let i = 0; i < count; i++) {
      const name = `vm-${String(i).padStart(5, "0")}`;
      const sa = own[i % own.length]!;
      const vm: Instance = {
        id: newComputeId(),
        projectId: p.projectId,
        zone: FLEET_ZONE,
        name,
        description: "",
        machineType: "e2-medium",
        status: "RUNNING",
        serviceAccounts: [{ email: sa.email, scopes: [CLOUD_PLATFORM] }],
        networkIP: `10.${128 + (i >> 16)}.${(i >> 8) & 255}.${(i & 255) + 2 > 255 ? 2 : (i & 255) + 2}`,
        hostname: instanceHostname(name, p.projectId),
        creationTimestamp: stamp,
        lastStartTimestamp: stamp,
        labels: { fleet: "bench" },
        metadata: [],
        tags: [],
      };
      const agent: AgentRecord = {
        agentId: randomBytes(16).toString("hex"),
        secretSha256: createHash("sha256").update(randomBytes(32)).digest("hex"),
        projectId: p.projectId,
        zone: FLEET_ZONE,
        instance: name,
        instanceId: vm.id,
        createTime: now,
        issueTime: now,
        expireTime: new Date(Date.now() + 86_400_000).toISOString(),
      };
      await w.add(async (tx) => {
        const t = repositories(tx);
        await t.instances.insert(vm);
        await t.agents.put(agent);
      });
    }
  }
  await w.flush();
  log(`  ${scale.instances} instances with agent records (${Date.now() - started} ms)`);

  // The big project's bucket and its objects.
  const big = projects[0]!;
  const bucket: Bucket = {
    name: bigBucketOf(big.projectId),
    projectId: big.projectId,
    projectNumber: big.projectNumber,
    location: "US",
    storageClass: "STANDARD",
    labels: {},
    generation: String(Date.now() * 1000),
    metageneration: "1",
    timeCreated: now,
    updated: now,
  };
  await w.add(async (tx) => {
    const t = repositories(tx);
    await t.buckets.insert(bucket);
    await t.policies.put(bucketResource(bucket.name), {
      ...defaultBucketPolicy(big.projectId),
      etag: newEtag(),
    });
  });
  for (let i = 0; i < scale.objects; i++) {
    const o: StoredObject = {
      bucket: bucket.name,
      name: `logs/${String(i).padStart(7, "0")}.json`,
      generation: String(Date.now() * 1000 + i),
      metageneration: "1",
      contentType: "application/json",
      size: "1024",
      md5Hash: "1B2M2Y8AsgTpgAmY7PhCfg==",
      crc32c: "AAAAAA==",
      storageClass: "STANDARD",
      timeCreated: now,
      updated: now,
      blobId: randomBytes(12).toString("hex"),
    };
    await w.add((tx) => repositories(tx).objects.put(o));
  }
  await w.flush();
  log(`  bucket of ${scale.objects} objects (${Date.now() - started} ms)`);

  const sample = projects
    .filter((_, n) => n % Math.max(1, Math.floor(scale.projects / 100)) === 0)
    .map((p, i) => ({ projectId: p.projectId, account: accounts[projects.indexOf(p)]![i % 7] ?? caller }));
  return {
    scale,
    bigProject: big.projectId,
    bigBucket: bucket.name,
    bigProjectAccounts: accounts[0]!.length,
    bigProjectInstances,
    caller,
    sample,
    documents: w.written,
    millis: Date.now() - started,
  };
}
