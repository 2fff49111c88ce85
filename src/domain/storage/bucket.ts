/** Cloud Storage buckets: naming rules, the stored model and its `storage#bucket` rendering. Pure. */
import { addBinding, emptyPolicy, type Policy } from "../iam/policy.js";

export interface Bucket {
  name: string;
  projectId: string;
  projectNumber: string;
  location: string;
  storageClass: string;
  labels: Record<string, string>;
  generation: string;
  metageneration: string;
  timeCreated: string;
  updated: string;
  /** Whether overwritten and deleted objects are kept as noncurrent generations. */
  versioning?: { enabled: boolean };
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]*[a-z0-9]$/;
export const STORAGE_CLASSES = ["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"];

/**
 * Google's bucket naming rules: 3–63 characters, or up to 222 with dots when no dot-separated part
 * exceeds 63 (Google also asks domain-named buckets for a domain check, which Warrant skips); no
 * IP-like or "goog" names.
 */
export function bucketNameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name === "") return "Required parameter: name";
  const tooLong = name.includes(".")
    ? name.length > 222 || name.split(".").some((part) => part.length > 63)
    : name.length > 63;
  if (!BUCKET_NAME.test(name) || name.length < 3 || tooLong || name.includes(".."))
    return `Invalid bucket name: '${name}'. Bucket names contain 3 to 63 lowercase letters, digits, dashes, underscores and dots, and start and end with a letter or digit.`;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name))
    return `Invalid bucket name: '${name}'. Bucket names cannot be IP addresses.`;
  if (name.startsWith("goog") || /g[o0][o0]gle/.test(name))
    return `Invalid bucket name: '${name}'. Bucket names cannot begin with "goog" or contain "google".`;
  return null;
}

export const bucketResource = (name: string) => `projects/_/buckets/${name}`;

/**
 * The policy a new bucket starts with: project owners and editors own it and its objects, viewers
 * read them (the legacy roles bound to the convenience members, as Google does).
 */
export function defaultBucketPolicy(projectId: string): Omit<Policy, "etag"> {
  let p: Omit<Policy, "etag"> = emptyPolicy();
  for (const [role, members] of [
    ["roles/storage.legacyBucketOwner", ["projectEditor", "projectOwner"]],
    ["roles/storage.legacyBucketReader", ["projectViewer"]],
    ["roles/storage.legacyObjectOwner", ["projectEditor", "projectOwner"]],
    ["roles/storage.legacyObjectReader", ["projectViewer"]],
  ] as const)
    for (const m of members) p = addBinding(p, role, `${m}:${projectId}`);
  return p;
}

export function renderBucket(b: Bucket, base: string) {
  return {
    kind: "storage#bucket",
    selfLink: `${base}/storage/v1/b/${encodeURIComponent(b.name)}`,
    id: b.name,
    name: b.name,
    projectNumber: b.projectNumber,
    generation: b.generation,
    metageneration: b.metageneration,
    location: b.location,
    locationType: b.location.includes("-") ? "region" : "multi-region",
    storageClass: b.storageClass,
    etag: Buffer.from(`${b.metageneration}`).toString("base64"),
    timeCreated: b.timeCreated,
    updated: b.updated,
    ...(Object.keys(b.labels).length ? { labels: b.labels } : {}),
    ...(b.versioning ? { versioning: b.versioning } : {}),
    rpo: "DEFAULT",
    iamConfiguration: {
      bucketPolicyOnly: { enabled: true, lockedTime: b.timeCreated },
      uniformBucketLevelAccess: { enabled: true, lockedTime: b.timeCreated },
      publicAccessPrevention: "inherited",
    },
  };
}
