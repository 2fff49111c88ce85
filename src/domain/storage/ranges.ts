/**
 * Byte ranges: the `Range` header of downloads (RFC 9110) and the `Content-Range` header of
 * resumable upload chunks (GCS's protocol, including Node's `bytes 0-*\/*` single-shot form). Pure.
 */

/** A download range, inclusive; `null` means the whole object. */
export type ByteRange = { start: number; end: number } | null;

/**
 * Parses `Range: bytes=a-b | a- | -n` against an object size. Returns `null` for "serve it all"
 * (absent or unparseable headers are ignored, as RFC 9110 allows), or `"unsatisfiable"`.
 * Multiple ranges are served as the whole object: no Google client asks for them.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | "unsatisfiable" {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    if (size === 0) return null;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || (m[2] !== "" && Number(m[2]) < start)) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/** A resumable chunk's `Content-Range`. */
export type ChunkRange =
  /** A status query (`bytes *\/T` or `bytes *\/*`): no bytes. */
  | { kind: "query"; total: number | null }
  /** `bytes a-b/T` (or with `*` for T when unknown): bytes a..b inclusive. */
  | { kind: "chunk"; start: number; end: number; total: number | null }
  /** `bytes a-*\/*` (Node's single shot): everything from `a`, and this is the end. */
  | { kind: "rest"; start: number };

const MAX = Number.MAX_SAFE_INTEGER;

export function parseContentRange(header: string | undefined): ChunkRange | string {
  if (header === undefined) return { kind: "rest", start: 0 };
  const m = /^bytes (?:(\*)|(\d{1,16})-(\d{1,16}|\*))\/(\d{1,16}|\*)$/.exec(header.trim());
  if (!m) return `Invalid Content-Range header '${header.slice(0, 100)}'.`;
  const total = m[4] === "*" ? null : Number(m[4]);
  if (total !== null && total > MAX) return "Content-Range total is too large.";
  if (m[1] === "*") return { kind: "query", total };
  const start = Number(m[2]);
  if (start > MAX || (m[3] !== "*" && Number(m[3]) > MAX)) return "Content-Range position is too large.";
  if (m[3] === "*") {
    if (total !== null) return `Invalid Content-Range header '${header.slice(0, 100)}'.`;
    return { kind: "rest", start };
  }
  const end = Number(m[3]);
  if (end < start) return `Content-Range end ${end} is before its start ${start}.`;
  if (total !== null && end >= total) return `Content-Range end ${end} is beyond the total size ${total}.`;
  return { kind: "chunk", start, end, total };
}

/** The 256 KiB granularity of non-final resumable chunks. */
export const CHUNK_GRANULARITY = 256 * 1024;
