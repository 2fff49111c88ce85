/**
 * Cloud Storage objects: naming rules, the stored model, generations, preconditions and the
 * `storage#object` rendering. Pure.
 */
import { ApiError, InvalidArgument } from "../errors.js";

export interface StoredObject {
  bucket: string;
  name: string;
  /** Unique per write of this name (a microsecond timestamp, as GCS), decimal string. */
  generation: string;
  /** Starts at 1; bumped by every metadata update of this generation. */
  metageneration: string;
  contentType: string;
  size: string;
  /** Base64 MD5 of the bytes; absent for composite objects, as at GCS. */
  md5Hash?: string;
  /** Base64 big-endian CRC32C of the bytes. */
  crc32c: string;
  storageClass: string;
  metadata?: Record<string, string>;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  componentCount?: number;
  timeCreated: string;
  updated: string;
  /** Set when this generation stopped being live (versioned buckets keep it). */
  timeDeleted?: string;
  /** The blob holding the bytes (an opaque id chosen by the server, never derived from the name). */
  blobId: string;
}

/** The fields a client may set through metadata (upload body, patch, copy/compose destination). */
export const WRITABLE_FIELDS = [
  "contentType",
  "metadata",
  "contentEncoding",
  "contentDisposition",
  "contentLanguage",
  "cacheControl",
] as const;
export type WritableMetadata = Partial<Pick<StoredObject, (typeof WRITABLE_FIELDS)[number]>>;

const MAX_NAME_BYTES = 1024;
/** Fields served back as HTTP response headers on download: printable ASCII only. */
const HEADER_FIELDS = new Set([
  "contentType",
  "contentEncoding",
  "contentDisposition",
  "contentLanguage",
  "cacheControl",
]);
const HEADER_SAFE = /^[\t\x20-\x7e]*$/;

function checkHeaderField(field: string, v: string) {
  if (HEADER_FIELDS.has(field) && !HEADER_SAFE.test(v))
    throw new InvalidArgument(
      `Invalid value for ${field}: only printable ASCII is allowed (it is sent back as an HTTP header).`,
      "invalid",
    );
}
/** Strings that are not valid Unicode (and so have no UTF-8 form). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Google's object naming rules: 1–1024 bytes of valid UTF-8, not `.` or `..`. Google forbids CR and
 * LF and discourages other control characters; Warrant refuses all C0 controls (its version keys
 * use U+0001 as a separator that sorts below every allowed character) and the noncharacter
 * U+10FFFF (the bound above every name in prefix scans).
 */
export function objectNameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name === "") return "Required parameter: name";
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES)
    return `The object name is longer than ${MAX_NAME_BYTES} bytes.`;
  if (LONE_SURROGATE.test(name)) return "The object name is not valid UTF-8.";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) return "Object names cannot contain control characters.";
  if (name === "." || name === "..") return "Object names cannot be '.' or '..'.";
  // A Unicode noncharacter no text uses; Warrant's listings use it as the bound above every name.
  if (name.includes("\u{10FFFF}")) return "Object names cannot contain U+10FFFF.";
  if (name.startsWith(".well-known/acme-challenge/"))
    return "Object names cannot start with '.well-known/acme-challenge/'.";
  return null;
}

/** A Content-Type taken from a request (header or multipart part), refused if not header-safe. */
export function contentTypeFrom(value: string | undefined): string {
  if (!value) return "application/octet-stream";
  checkHeaderField("contentType", value);
  if (value.length > 1024)
    throw new InvalidArgument("Invalid Content-Type: longer than 1024 characters.", "invalid");
  return value;
}

/** Validates client-writable metadata fields of a JSON body; unknown fields are ignored as at GCS. */
export function writableMetadata(body: Record<string, unknown>): WritableMetadata {
  const out: WritableMetadata = {};
  for (const f of WRITABLE_FIELDS) {
    const v = body[f];
    if (v === undefined) continue;
    if (f === "metadata") {
      if (v === null) {
        out.metadata = {};
        continue;
      }
      if (typeof v !== "object" || Array.isArray(v))
        throw new InvalidArgument("Invalid value for metadata: expected an object.", "invalid");
      const m: Record<string, string> = {};
      for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
        if (val === null) continue;
        if (typeof val !== "string" && typeof val !== "number" && typeof val !== "boolean")
          throw new InvalidArgument(`Invalid value for metadata.${k}: expected a string.`, "invalid");
        m[k] = String(val);
      }
      if (Buffer.byteLength(JSON.stringify(m)) > 8192)
        throw new InvalidArgument("Custom metadata is larger than 8 KiB.", "invalid");
      out.metadata = m;
      continue;
    }
    if (v === null) continue;
    if (typeof v !== "string" || v.length > 1024)
      throw new InvalidArgument(`Invalid value for ${f}: expected a string.`, "invalid");
    checkHeaderField(f, v);
    out[f] = v;
  }
  return out;
}

/** Merge semantics of `objects.patch`: `metadata` keys merge, a null value removes a key. */
export function patchMetadata(cur: StoredObject, body: Record<string, unknown>): StoredObject {
  const next: StoredObject = { ...cur };
  for (const f of WRITABLE_FIELDS) {
    if (!(f in body)) continue;
    const v = body[f];
    if (f === "metadata") {
      if (v === null) {
        delete next.metadata;
        continue;
      }
      if (typeof v !== "object" || Array.isArray(v))
        throw new InvalidArgument("Invalid value for metadata: expected an object.", "invalid");
      const merged: Record<string, string> = { ...(cur.metadata ?? {}) };
      for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
        if (val === null) delete merged[k];
        else if (typeof val === "string" || typeof val === "number" || typeof val === "boolean")
          merged[k] = String(val);
        else throw new InvalidArgument(`Invalid value for metadata.${k}: expected a string.`, "invalid");
      }
      if (Buffer.byteLength(JSON.stringify(merged)) > 8192)
        throw new InvalidArgument("Custom metadata is larger than 8 KiB.", "invalid");
      if (Object.keys(merged).length) next.metadata = merged;
      else delete next.metadata;
      continue;
    }
    if (v === null) {
      if (f === "contentType") next.contentType = "application/octet-stream";
      else delete next[f];
      continue;
    }
    if (typeof v !== "string" || v.length > 1024)
      throw new InvalidArgument(`Invalid value for ${f}: expected a string.`, "invalid");
    checkHeaderField(f, v);
    next[f] = v;
  }
  return next;
}

let lastGeneration = 0n;
/** A new generation: the current time in microseconds, strictly increasing within this process. */
export function nextGeneration(now = Date.now()): string {
  let g = BigInt(now) * 1000n;
  if (g <= lastGeneration) g = lastGeneration + 1n;
  lastGeneration = g;
  return g.toString();
}

export interface Preconditions {
  ifGenerationMatch?: string;
  ifGenerationNotMatch?: string;
  ifMetagenerationMatch?: string;
  ifMetagenerationNotMatch?: string;
}
const PRECONDITIONS = [
  "ifGenerationMatch",
  "ifGenerationNotMatch",
  "ifMetagenerationMatch",
  "ifMetagenerationNotMatch",
] as const;

/** Reads `if…Match` parameters (optionally with a prefix such as `ifSource`); each a decimal int64. */
export function readPreconditions(params: URLSearchParams, prefix: "if" | "ifSource" = "if"): Preconditions {
  const out: Preconditions = {};
  for (const p of PRECONDITIONS) {
    const name = prefix + p.slice(2);
    const v = params.get(name);
    if (v === null || v === "") continue;
    if (!/^\d{1,20}$/.test(v)) throw new InvalidArgument(`Invalid value for ${name}: '${v}'.`, "invalid");
    out[p] = BigInt(v).toString();
  }
  return out;
}

export function hasPreconditions(p: Preconditions) {
  return Object.keys(p).length > 0;
}

/**
 * Checks preconditions against the live object (or none). `ifGenerationMatch=0` means "only if
 * no live object exists". Failure is GCS's 412 `conditionNotMet`.
 */
export function checkPreconditions(p: Preconditions, current: StoredObject | undefined) {
  const gen = current?.generation ?? "0";
  const fail = (what: string) => {
    throw new ApiError(
      412,
      "FAILED_PRECONDITION",
      "conditionNotMet",
      `At least one of the pre-conditions you specified did not hold. (${what})`,
      { location: what.split(" ")[0]!, locationType: "parameter" } as never,
    );
  };
  if (p.ifGenerationMatch !== undefined && p.ifGenerationMatch !== gen)
    fail(`ifGenerationMatch: the live generation is ${gen}`);
  if (p.ifGenerationNotMatch !== undefined && p.ifGenerationNotMatch === gen)
    fail(`ifGenerationNotMatch: the live generation is ${gen}`);
  if (p.ifMetagenerationMatch !== undefined || p.ifMetagenerationNotMatch !== undefined) {
    if (!current) fail("ifMetagenerationMatch: the object does not exist");
    const mg = current!.metageneration;
    if (p.ifMetagenerationMatch !== undefined && p.ifMetagenerationMatch !== mg)
      fail(`ifMetagenerationMatch: the metageneration is ${mg}`);
    if (p.ifMetagenerationNotMatch !== undefined && p.ifMetagenerationNotMatch === mg)
      fail(`ifMetagenerationNotMatch: the metageneration is ${mg}`);
  }
}

export const objectResource = (bucket: string, name: string) =>
  `projects/_/buckets/${bucket}/objects/${name}`;

/** GCS's percent-encoding of an object name in a path: every reserved character, `/` included. */
export const encodeObjectName = (name: string) =>
  encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function objectEtag(o: StoredObject) {
  return Buffer.from(`${o.generation}/${o.metageneration}`).toString("base64");
}

export function renderObject(o: StoredObject, base: string) {
  const path = `b/${encodeURIComponent(o.bucket)}/o/${encodeObjectName(o.name)}`;
  return {
    kind: "storage#object",
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${base}/storage/v1/${path}`,
    mediaLink: `${base}/download/storage/v1/${path}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: o.generation,
    metageneration: o.metageneration,
    contentType: o.contentType,
    storageClass: o.storageClass,
    size: o.size,
    ...(o.md5Hash ? { md5Hash: o.md5Hash } : {}),
    crc32c: o.crc32c,
    ...(o.componentCount ? { componentCount: o.componentCount } : {}),
    etag: objectEtag(o),
    timeCreated: o.timeCreated,
    updated: o.updated,
    timeStorageClassUpdated: o.timeCreated,
    ...(o.timeDeleted ? { timeDeleted: o.timeDeleted } : {}),
    ...(o.contentEncoding ? { contentEncoding: o.contentEncoding } : {}),
    ...(o.contentDisposition ? { contentDisposition: o.contentDisposition } : {}),
    ...(o.contentLanguage ? { contentLanguage: o.contentLanguage } : {}),
    ...(o.cacheControl ? { cacheControl: o.cacheControl } : {}),
    ...(o.metadata && Object.keys(o.metadata).length ? { metadata: o.metadata } : {}),
  };
}
