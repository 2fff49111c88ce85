/**
 * Reading the audit log back: the one reader behind `warrant logs read` (offline) and Cloud
 * Logging's `POST /v2/entries:list` (online). It reads `audit.log` and its rotated files
 * (`audit.log.N` … `audit.log.1`, src/server/audit.ts) newest first by reading each file backwards
 * in chunks, or oldest first from a position found the same way, so a query bounded in time reads
 * only the lines in its range: a poll for what came after the newest entry seen reads the file's
 * tail, not the whole log. Memory is bounded by the page size and one chunk.
 *
 * Positions are (inode, digest of the file's first bytes, byte offset): stable across rotation,
 * which renames a file without changing its inode, so a page token stays valid while its file is
 * kept; the digest tells a new file that reuses a deleted one's inode from it. Entries are assumed to be
 * in time order within the log (one writer stamps each line as it appends it).
 */
import { createHash } from "node:crypto";
import { type FileHandle, open, readdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type AuditEntry, parseEntry } from "../domain/audit/log-entry.js";

const CHUNK = 64 * 1024;
const EMPTY = Buffer.alloc(0);
/** A line longer than this is not one the server wrote: skipped as malformed. */
const MAX_LINE = 1024 * 1024;

/**
 * The audit files, oldest first: the rotated `audit.log.N` … `audit.log.1` (the server's size-based
 * rotation), then `audit.log`.
 */
export async function auditFiles(file: string): Promise<string[]> {
  const dir = dirname(file);
  const base = basename(file);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    names = [];
  }
  const pattern = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(\\d+)$`);
  const rotated = names
    .map((n) => ({ n, m: pattern.exec(n) }))
    .filter((x) => x.m)
    .sort((a, b) => Number(b.m![1]) - Number(a.m![1]))
    .map((x) => join(dir, x.n));
  return [...rotated, ...(names.includes(base) ? [file] : [])];
}

export interface AuditPosition {
  /** The file's inode. */
  ino: number;
  /** A digest of its first bytes (its first line, which never changes once written). */
  head: string;
  /** Newest first: the start of the last line returned (read on before it). Oldest first: the end of it. */
  offset: number;
}

interface OpenFile {
  fh: FileHandle;
  ino: number;
  head: string;
  /** The end of its last complete line when opened. */
  end: number;
}

/** Opens every audit file, oldest first: held descriptors read a consistent set whatever rotates meanwhile. */
async function openAll(file: string): Promise<OpenFile[]> {
  const out: OpenFile[] = [];
  for (const f of await auditFiles(file)) {
    let fh: FileHandle;
    try {
      fh = await open(f, "r");
    } catch (e) {
      // Rotated away between the listing and now: its lines are in the next file.
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
      for (const o of out) await o.fh.close().catch(() => {});
      throw e;
    }
    const st = await fh.stat();
    const first = Buffer.alloc(Math.min(256, st.size));
    if (first.length) await fh.read(first, 0, first.length, 0);
    const head = createHash("sha256").update(first).digest("base64url").slice(0, 12);
    out.push({ fh, ino: st.ino, head, end: await completeEnd(fh, st.size) });
  }
  return out;
}

/** The offset just after the last newline: a line still being appended is not read. */
async function completeEnd(fh: FileHandle, size: number): Promise<number> {
  let pos = size;
  const buf = Buffer.alloc(Math.min(CHUNK, Math.max(size, 1)));
  while (pos > 0) {
    const n = Math.min(buf.length, pos);
    pos -= n;
    await fh.read(buf, 0, n, pos);
    const i = buf.subarray(0, n).lastIndexOf(0x0a);
    if (i >= 0) return pos + i + 1;
    if (size - pos > MAX_LINE) return 0;
  }
  return 0;
}

interface Line {
  /** The line's bytes, decoded only when needed (most lines of a long scan never are). */
  bytes: Buffer;
  start: number;
  end: number;
}

/** The complete lines of `[0, end)`, last first, a chunk's worth at a time. */
async function* backward(fh: FileHandle, end: number): AsyncGenerator<Line[]> {
  let pos = end;
  let tail = EMPTY;
  let tailEnd = end;
  while (pos > 0) {
    const size = Math.min(CHUNK, pos);
    pos -= size;
    const buf = Buffer.allocUnsafe(size);
    await fh.read(buf, 0, size, pos);
    const data = tail.length ? Buffer.concat([buf, tail]) : buf;
    const batch: Line[] = [];
    let lineEnd = data.length;
    for (let i = data.lastIndexOf(0x0a, lineEnd - 1); i >= 0; i = data.lastIndexOf(0x0a, i - 1)) {
      if (i + 1 < lineEnd)
        batch.push({ bytes: data.subarray(i + 1, lineEnd), start: pos + i + 1, end: pos + lineEnd });
      lineEnd = i;
      if (i === 0) break;
    }
    tail = data.subarray(0, lineEnd);
    tailEnd = pos + lineEnd;
    // A line longer than any the server writes: give up on it, go on before it.
    if (tail.length > MAX_LINE) {
      batch.push({ bytes: EMPTY, start: pos, end: tailEnd });
      tail = EMPTY;
    }
    if (batch.length) yield batch;
  }
  if (tail.length) yield [{ bytes: tail, start: 0, end: tailEnd }];
}

/** The complete lines of `[start, end)`, first first, a chunk's worth at a time. */
async function* forward(fh: FileHandle, start: number, end: number): AsyncGenerator<Line[]> {
  let pos = start;
  let pending = EMPTY;
  let pendingStart = start;
  while (pos < end) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, end - pos));
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    const data = pending.length
      ? Buffer.concat([pending, buf.subarray(0, bytesRead)])
      : buf.subarray(0, bytesRead);
    const dataStart = pendingStart;
    pos += bytesRead;
    const batch: Line[] = [];
    let lineStart = 0;
    for (let i = data.indexOf(0x0a); i >= 0; i = data.indexOf(0x0a, i + 1)) {
      if (i > lineStart)
        batch.push({
          bytes: data.subarray(lineStart, i),
          start: dataStart + lineStart,
          end: dataStart + i + 1,
        });
      lineStart = i + 1;
    }
    pending = data.subarray(lineStart);
    pendingStart = dataStart + lineStart;
    if (pending.length > MAX_LINE) {
      batch.push({ bytes: EMPTY, start: pendingStart, end: pendingStart });
      pending = EMPTY;
      pendingStart = pos;
    }
    if (batch.length) yield batch;
  }
}

const LEADING_TIME = /^\{"time":"([^"]{10,40})"/;

/** The line's time without parsing all of it (the server writes `time` first), else undefined. */
function timeOf(bytes: Buffer): number | undefined {
  const m = LEADING_TIME.exec(bytes.toString("latin1", 0, 52));
  if (m) {
    const t = Date.parse(m[1]!);
    if (!Number.isNaN(t)) return t;
  }
  const e = parseEntry(bytes.toString("utf8"));
  return e ? Date.parse(e.time) : undefined;
}

export interface ScanOptions<T> {
  order: "desc" | "asc";
  /** Only entries at or after (`afterInclusive`, else strictly after) this instant, epoch ms. */
  after?: number;
  afterInclusive?: boolean;
  /** Only entries strictly before this instant. */
  before?: number;
  /** Where the previous page stopped. */
  cursor?: AuditPosition;
  /** Stop when this many entries were accepted. */
  limit: number;
  /**
   * Stop, with a position to resume from, after this many lines in range were parsed (bounds a
   * request's work); a line skipped unparsed by `mustContain` counts a tenth.
   */
  maxLines?: number;
  /** Strings a line must contain to be parsed at all (a cheap pre-filter; see `literalHints`). */
  mustContain?: readonly string[];
  /** The item for a matching entry, or undefined to skip it. */
  accept(entry: AuditEntry, at: { ino: number; head: string; start: number }): T | undefined;
}

export interface ScanResult<T> {
  items: T[];
  /** Where to resume; absent when the log was read to its end (or its time bound). */
  next?: AuditPosition;
  malformed: number;
  /** Lines read (in range or not), for tests and metrics. */
  linesRead: number;
}

/**
 * Reads the audit log newest first (`desc`) or oldest first (`asc`), giving each entry within the
 * time bounds to `accept`, until `limit` items, `maxLines` lines in range, or the bound is reached.
 * Missing files: an empty result.
 */
export async function scanAudit<T>(file: string, o: ScanOptions<T>): Promise<ScanResult<T>> {
  const files = await openAll(file);
  const res: ScanResult<T> = { items: [], malformed: 0, linesRead: 0 };
  let inRange = 0;
  const needles = o.mustContain?.map((m) => Buffer.from(m, "utf8"));
  // Without a time bound a line's time is not needed before it is parsed (if it is).
  const bounded = o.after !== undefined || o.before !== undefined;
  const tooOld = (t: number) =>
    o.after !== undefined && (t < o.after || (!o.afterInclusive && t === o.after));
  const tooNew = (t: number) => o.before !== undefined && t >= o.before;
  /** Handles one line; "stop" ends the scan (page full, budget spent or bound passed). */
  const take = (f: OpenFile, line: Line, resumeAt: number): "stop" | "skip" | "go" => {
    res.linesRead++;
    if (bounded) {
      const t = timeOf(line.bytes);
      if (t === undefined) {
        res.malformed++;
        return "skip";
      }
      if (o.order === "desc" ? tooOld(t) : tooNew(t)) return "stop";
      if (o.order === "desc" ? tooNew(t) : tooOld(t)) return "skip";
    }
    if (needles?.some((m) => !line.bytes.includes(m))) {
      // Skipped unparsed: a tenth of the work of a parsed line, against the request's budget.
      inRange += 0.1;
    } else {
      inRange++;
      const entry = parseEntry(line.bytes.toString("utf8"));
      if (!entry) res.malformed++;
      else {
        const item = o.accept(entry, { ino: f.ino, head: f.head, start: line.start });
        if (item !== undefined) res.items.push(item);
      }
    }
    if (res.items.length >= o.limit || (o.maxLines !== undefined && inRange >= o.maxLines)) {
      res.next = { ino: f.ino, head: f.head, offset: resumeAt };
      return "stop";
    }
    return "go";
  };
  try {
    if (o.order === "desc") {
      // Newest first: from the cursor, else from the last line before the upper bound.
      let from: { index: number; offset: number } = {
        index: files.length - 1,
        offset: Number.MAX_SAFE_INTEGER,
      };
      if (o.cursor) {
        const index = files.findIndex((f) => same(f, o.cursor!));
        if (index < 0) return res; // its file was deleted by rotation: nothing older is left
        from = { index, offset: o.cursor.offset };
      } else if (o.before !== undefined) {
        const before = o.before;
        from = await seek(files, (t) => t < before, res);
      }
      for (let i = from.index; i >= 0; i--) {
        const f = files[i]!;
        const end = i === from.index ? Math.min(from.offset, f.end) : f.end;
        for await (const batch of backward(f.fh, end))
          for (const line of batch) if (take(f, line, line.start) === "stop") return res;
      }
      return res;
    }
    // Oldest first: from the cursor, else from the first line after the lower bound.
    let start: { index: number; offset: number } = { index: 0, offset: 0 };
    if (o.cursor) {
      const index = files.findIndex((f) => same(f, o.cursor!));
      // Its file was deleted by rotation: what follows it starts at the oldest file kept.
      start = index < 0 ? { index: 0, offset: 0 } : { index, offset: o.cursor.offset };
    } else if (o.after !== undefined) start = await seek(files, tooOld, res);
    for (let i = start.index; i < files.length; i++) {
      const f = files[i]!;
      for await (const batch of forward(f.fh, i === start.index ? start.offset : 0, f.end))
        for (const line of batch) if (take(f, line, line.end) === "stop") return res;
    }
    return res;
  } finally {
    for (const f of files) await f.fh.close().catch(() => {});
  }
}

const same = (f: OpenFile, p: AuditPosition) => f.ino === p.ino && f.head === p.head;

/** Lines read backwards from the end before a seek switches to binary search. */
const TAIL_LINES = 2000;

/**
 * The boundary where lines stop being "before" (`isBefore(time)`): the end of the last such line, as
 * (file index, offset). Reads backwards from the end for the first {@link TAIL_LINES} lines (a poll for
 * recent entries finds it there), then binary-searches the file that holds it, relying on time order.
 */
async function seek(
  files: OpenFile[],
  isBefore: (t: number) => boolean,
  res: ScanResult<unknown>,
): Promise<{ index: number; offset: number }> {
  let budget = TAIL_LINES;
  for (let i = files.length - 1; i >= 0 && budget > 0; i--) {
    scan: for await (const batch of backward(files[i]!.fh, files[i]!.end))
      for (const line of batch) {
        res.linesRead++;
        const t = timeOf(line.bytes);
        if (t !== undefined && isBefore(t)) return { index: i, offset: line.end };
        if (--budget === 0) break scan;
      }
  }
  // Far back: the newest file whose first line is before the boundary holds it.
  for (let i = files.length - 1; i >= 0; i--) {
    const first = await lineAt(files[i]!, 0);
    res.linesRead++;
    const t = first && timeOf(first.bytes);
    if (t !== undefined && isBefore(t)) return { index: i, offset: await seekFile(files[i]!, isBefore, res) };
  }
  return { index: 0, offset: 0 };
}

/** The first complete line starting at or after `pos` (and before the file's end), with its bounds. */
async function lineAt(f: OpenFile, pos: number): Promise<Line | undefined> {
  let start = pos;
  const buf = Buffer.alloc(CHUNK);
  if (pos > 0) {
    // The line starts after the first newline at or after pos - 1.
    let at = pos - 1;
    for (;;) {
      if (at >= f.end || at - pos > MAX_LINE) return undefined;
      const { bytesRead } = await f.fh.read(buf, 0, Math.min(CHUNK, f.end - at), at);
      if (bytesRead === 0) return undefined;
      const i = buf.subarray(0, bytesRead).indexOf(0x0a);
      if (i >= 0) {
        start = at + i + 1;
        break;
      }
      at += bytesRead;
    }
  }
  const parts: Buffer[] = [];
  for (let at = start; at < f.end && at - start <= MAX_LINE; ) {
    const { bytesRead } = await f.fh.read(buf, 0, Math.min(CHUNK, f.end - at), at);
    if (bytesRead === 0) break;
    const i = buf.subarray(0, bytesRead).indexOf(0x0a);
    if (i >= 0) {
      parts.push(Buffer.from(buf.subarray(0, i)));
      return { bytes: Buffer.concat(parts), start, end: at + i + 1 };
    }
    parts.push(Buffer.from(buf.subarray(0, bytesRead)));
    at += bytesRead;
  }
  return undefined;
}

/** Binary search in one file for the end of the last line before the boundary (its first line is before it). */
async function seekFile(
  f: OpenFile,
  isBefore: (t: number) => boolean,
  res: ScanResult<unknown>,
): Promise<number> {
  // Invariant: every line starting before `lo` is before the boundary; the line at `hi` (or the end) is not.
  let lo = 0;
  let hi = f.end;
  while (hi - lo > CHUNK) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const line = await lineAt(f, mid);
    res.linesRead++;
    if (!line || line.start >= hi) {
      hi = mid;
      continue;
    }
    const t = timeOf(line.bytes);
    if (t === undefined || isBefore(t)) lo = line.end;
    else hi = line.start;
  }
  for await (const batch of forward(f.fh, lo, f.end))
    for (const line of batch) {
      res.linesRead++;
      const t = timeOf(line.bytes);
      if (line.start >= hi || (t !== undefined && !isBefore(t))) return line.start;
    }
  return f.end;
}
