/** Compute Engine instances: the stored model and its `compute#instance` rendering. Pure. */
import { hash } from "node:crypto";

export type InstanceStatus = "RUNNING" | "TERMINATED";

export interface AttachedServiceAccount {
  email: string;
  scopes: string[];
}

export interface MetadataItem {
  key: string;
  value: string;
}

export interface Instance {
  id: string;
  projectId: string;
  zone: string;
  name: string;
  description: string;
  machineType: string;
  status: InstanceStatus;
  serviceAccounts: AttachedServiceAccount[];
  networkIP: string;
  hostname: string;
  creationTimestamp: string;
  lastStartTimestamp?: string;
  lastStopTimestamp?: string;
  labels: Record<string, string>;
  metadata: MetadataItem[];
  tags: string[];
}

export const instanceHostname = (name: string, projectId: string) => `${name}.c.${projectId}.internal`;

/** Google's fingerprints are base64 of 8 bytes; derive them from content so they change with it. */
export function fingerprint(value: unknown): string {
  const json = JSON.stringify(value);
  const known = fingerprints.get(json);
  if (known !== undefined) return known;
  const fp = hash("sha256", json, "buffer").subarray(0, 8).toString("base64");
  // Most values repeat across instances ([], {}, the same labels and scopes): a listing's five
  // fingerprints per instance are mostly lookups. Bounded: small values only, emptied when full.
  if (json.length <= 512) {
    if (fingerprints.size >= 10_000) fingerprints.clear();
    fingerprints.set(json, fp);
  }
  return fp;
}
const fingerprints = new Map<string, string>();

/** Timestamps in Compute's RFC 3339 form with milliseconds and offset, e.g. 2024-01-02T03:04:05.678-00:00. */
export function computeTimestamp(d: Date = new Date()): string {
  return d.toISOString().replace("Z", "-00:00");
}

/** The first free address in the project's default subnet (10.128.0.0/20, .2 upwards as GCE does). */
export function nextNetworkIP(taken: ReadonlySet<string>): string {
  for (let i = 2; i < 4094; i++) {
    const ip = `10.128.${i >> 8}.${i & 255}`;
    if (!taken.has(ip)) return ip;
  }
  throw new Error("the project's subnet is full");
}

export function renderInstance(i: Instance, api: string) {
  const project = `${api}projects/${i.projectId}`;
  const zone = `${project}/zones/${i.zone}`;
  return {
    kind: "compute#instance",
    id: i.id,
    creationTimestamp: i.creationTimestamp,
    name: i.name,
    description: i.description,
    tags: { ...(i.tags.length ? { items: i.tags } : {}), fingerprint: fingerprint(i.tags) },
    machineType: `${zone}/machineTypes/${i.machineType}`,
    status: i.status,
    zone,
    canIpForward: false,
    networkInterfaces: [
      {
        kind: "compute#networkInterface",
        network: `${project}/global/networks/default`,
        subnetwork: `${api}projects/${i.projectId}/regions/${i.zone.replace(/-[a-z]$/, "")}/subnetworks/default`,
        networkIP: i.networkIP,
        name: "nic0",
        fingerprint: fingerprint(i.networkIP),
        stackType: "IPV4_ONLY",
      },
    ],
    disks: [],
    metadata: {
      kind: "compute#metadata",
      fingerprint: fingerprint(i.metadata),
      ...(i.metadata.length ? { items: i.metadata } : {}),
    },
    serviceAccounts: i.serviceAccounts,
    selfLink: `${zone}/instances/${i.name}`,
    scheduling: {
      onHostMaintenance: "MIGRATE",
      automaticRestart: true,
      preemptible: false,
      provisioningModel: "STANDARD",
    },
    cpuPlatform: "Intel Broadwell",
    hostname: i.hostname,
    labels: i.labels,
    labelFingerprint: fingerprint(i.labels),
    startRestricted: false,
    deletionProtection: false,
    fingerprint: fingerprint([i.status, i.serviceAccounts, i.machineType]),
    ...(i.lastStartTimestamp ? { lastStartTimestamp: i.lastStartTimestamp } : {}),
    ...(i.lastStopTimestamp ? { lastStopTimestamp: i.lastStopTimestamp } : {}),
  };
}

export interface Operation {
  id: string;
  name: string;
  projectId: string;
  zone?: string;
  operationType: string;
  targetName: string;
  targetId: string;
  user: string;
  insertTime: string;
  error?: { errors: { code: string; message: string }[] };
}

export function renderOperation(op: Operation, api: string) {
  const project = `${api}projects/${op.projectId}`;
  const scope = op.zone ? `${project}/zones/${op.zone}` : `${project}/global`;
  return {
    kind: "compute#operation",
    id: op.id,
    name: op.name,
    ...(op.zone ? { zone: `${project}/zones/${op.zone}` } : {}),
    operationType: op.operationType,
    targetLink: op.zone ? `${project}/zones/${op.zone}/instances/${op.targetName}` : project,
    targetId: op.targetId,
    status: "DONE",
    user: op.user,
    progress: 100,
    insertTime: op.insertTime,
    startTime: op.insertTime,
    endTime: op.insertTime,
    ...(op.error ? { error: op.error } : {}),
    selfLink: `${scope}/operations/${op.name}`,
  };
}
