/**
 * Reading the audit log back: the one reader behind `warrant logs read` (offline) and Cloud
 * Logging's `POST /v2/entries:list` (online). It reads `audit.log` and its rotated files
 * (`audit.log.N` … `audit.log.1`, src/server/audit.ts) newest first by reading each file backwards
 * in chunks, or oldest first from a position found the same way, so a query bounded in time reads
 * only the lines in its range: a poll for what came after the newest entry seen reads the file's
 * tail, not the whole log. Memory is bounded by the page size and one chunk.
 *
 * Positions are (inode, byte offset): stable across rotation, which renames a file without
 * changing its inode, so a page token stays valid while its file is kept. Entries are assumed to be
 * in time order within the log (one writer stamps each line as it appends it).
 */
import { type FileHandle, open, readdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type AuditEntry, parseEntry } from "../domain/audit/log-entry.js";

const CHUNK = 64 * 1024;
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
  /** Newest first: the start of the last line returned (read on before it). Oldest first: the end of it. */
  offset: number;
}

interface OpenFile {
  fh: FileHandle;
  ino: number;
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
    out.push({ fh, ino: st.ino, end: await completeEnd(fh, st.size) });
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
  text: string;
  start: number;
  end: number;
}

/** The complete lines of `[0, end)`, last first. */
async function* backward(fh: FileHandle, end: number): AsyncGenerator<Line> {
  let pos = end;
  let tail = Buffer.alloc(0);
  let tailEnd = end;
  while (pos > 0) {
    const size = Math.min(CHUNK, pos);
    pos -= size;
    const buf = Buffer.alloc(size);
    await fh.read(buf, 0, size, pos);
    const data = tail.length ? Buffer.concat([buf, tail]) : buf;
    let lineEnd = data.length;
    for (let i = data.length - 1; i >= 0; i--) {
      if (data[i] !== 0x0a) continue;
      if (i + 1 < lineEnd)
        yield {
          text: data.subarray(i + 1, lineEnd).toString("utf8"),
          start: pos + i + 1,
          end: pos + lineEnd,
        };
      lineEnd = i;
    }
    tail = data.subarray(0, lineEnd);
    tailEnd = pos + lineEnd;
    // A line longer than any the server writes: give up on it, go on before it.
    if (tail.length > MAX_LINE) {
      yield { text: "", start: pos, end: tailEnd };
      tail = Buffer.alloc(0);
    }
  }
  if (tail.length) yield { text: tail.toString("utf8"), start: 0, end: tailEnd };
}

/** The complete lines of `[start, end)`, first first. */
async function* forward(fh: FileHandle, start: number, end: number): AsyncGenerator<Line> {
  let pos = start;
  let pending = Buffer.alloc(0);
  let pendingStart = start;
  const buf = Buffer.alloc(CHUNK);
  while (pos < end) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, end - pos), pos);
    if (bytesRead === 0) break;
    const data = pending.length
      ? Buffer.concat([pending, buf.subarray(0, bytesRead)])
      : buf.subarray(0, bytesRead);
    const dataStart = pendingStart;
    pos += bytesRead;
    let lineStart = 0;
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== 0x0a) continue;
      if (i > lineStart)
        yield {
          text: data.subarray(lineStart, i).toString("utf8"),
          start: dataStart + lineStart,
          end: dataStart + i + 1,
        };
      lineStart = i + 1;
    }
    pending = Buffer.from(data.subarray(lineStart));
    pendingStart = dataStart + lineStart;
    if (pending.length > MAX_LINE) {
      yield { text: "", start: pendingStart, end: pendingStart };
      pending = Buffer.alloc(0);
      pendingStart = pos;
    }
  }
}

const LEADING_TIME = /^\{"time":"([^"]{10,40})"/;

/** The line's time without parsing all of it (the server writes `time` first), else undefined. */
function timeOf(text: string): number | undefined {
  const m = LEADING_TIME.exec(text);
  if (m) {
    const t = Date.parse(m[1]!);
    if (!Number.isNaN(t)) return t;
  }
  const e = parseEntry(text);
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
  /** Stop, with a position to resume from, after reading this many lines in range (bounds a request's work). */
  maxLines?: number;
  /** The item for a matching entry, or undefined to skip it. */
  accept(entry: AuditEntry, at: { ino: number; start: number }): T | undefined;
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
  const tooOld = (t: number) =>
    o.after !== undefined && (t < o.after || (!o.afterInclusive && t === o.after));
  const tooNew = (t: number) => o.before !== undefined && t >= o.before;
  /** Handles one line; "stop" ends the scan (page full, budget spent or bound passed). */
  const take = (f: OpenFile, line: Line, resumeAt: number): "stop" | "skip" | "go" => {
    res.linesRead++;
    const t = timeOf(line.text);
    if (t === undefined) {
      res.malformed++;
      return "skip";
    }
    if (o.order === "desc" ? tooOld(t) : tooNew(t)) return "stop";
    if (o.order === "desc" ? tooNew(t) : tooOld(t)) return "skip";
    const entry = parseEntry(line.text);
    if (!entry) {
      res.malformed++;
      return "skip";
    }
    const item = o.accept(entry, { ino: f.ino, start: line.start });
    if (item !== undefined) res.items.push(item);
    inRange++;
    if (res.items.length >= o.limit || (o.maxLines !== undefined && inRange >= o.maxLines)) {
      res.next = { ino: f.ino, offset: resumeAt };
      return "stop";
    }
    return "go";
  };
  try {
    if (o.order === "desc") {
      const newestFirst = [...files].reverse();
      let i = 0;
      if (o.cursor) {
        i = newestFirst.findIndex((f) => f.ino === o.cursor!.ino);
        if (i < 0) return res; // its file was deleted by rotation: nothing older is left
      }
      for (; i < newestFirst.length; i++) {
        const f = newestFirst[i]!;
        const end = o.cursor && f.ino === o.cursor.ino ? Math.min(o.cursor.offset, f.end) : f.end;
        for await (const line of backward(f.fh, end)) if (take(f, line, line.start) === "stop") return res;
      }
      return res;
    }
    // Oldest first: from the cursor, else from the first line after the lower bound.
    let start: { index: number; offset: number } = { index: 0, offset: 0 };
    if (o.cursor) {
      const index = files.findIndex((f) => f.ino === o.cursor!.ino);
      // Its file was deleted by rotation: what follows it starts at the oldest file kept.
      start = index < 0 ? { index: 0, offset: 0 } : { index, offset: o.cursor.offset };
    } else if (o.after !== undefined) start = await firstAfter(files, tooOld, res);
    for (let i = start.index; i < files.length; i++) {
      const f = files[i]!;
      for await (const line of forward(f.fh, i === start.index ? start.offset : 0, f.end))
        if (take(f, line, line.end) === "stop") return res;
    }
    return res;
  } finally {
    for (const f of files) await f.fh.close().catch(() => {});
  }
}

/** The position of the first line not older than the bound, found by reading backwards (times only). */
async function firstAfter(
  files: OpenFile[],
  tooOld: (t: number) => boolean,
  res: ScanResult<unknown>,
): Promise<{ index: number; offset: number }> {
  for (let i = files.length - 1; i >= 0; i--) {
    for await (const line of backward(files[i]!.fh, files[i]!.end)) {
      res.linesRead++;
      const t = timeOf(line.text);
      if (t !== undefined && tooOld(t)) return { index: i, offset: line.end };
    }
  }
  return { index: 0, offset: 0 };
}
