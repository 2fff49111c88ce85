/**
 * `objects.list` semantics, independent of storage: prefix, delimiter → prefixes, start/end
 * offsets, `maxResults` counting items *and* prefixes, and stable continuation tokens that resume
 * strictly after the last name or prefix served (so a prefix never appears on two pages). Pure: the
 * caller supplies `scan`, an ordered read of the names under the prefix.
 */
import { createHash } from "node:crypto";
import { InvalidArgument } from "../errors.js";

export interface ListEntry<T> {
  /** Sort key: the name, or for version listings the name plus a generation suffix that sorts after it. */
  key: string;
  name: string;
  value: T;
}

/** Ordered entries with keys `>= from` (when given) and `> after` (when given), all starting with the query prefix. */
export type Scan<T> = (opts: { from?: string; after?: string; limit: number }) => Promise<ListEntry<T>[]>;

export interface ListQuery {
  prefix: string;
  delimiter?: string;
  startOffset?: string;
  endOffset?: string;
  includeTrailingDelimiter: boolean;
  maxResults: number;
  versions: boolean;
  pageToken?: string;
}

export interface ListPage<T> {
  items: T[];
  prefixes: string[];
  nextPageToken?: string;
}

interface Cursor {
  /** The last key (or prefix) served. */
  a: string;
  /** Set when the last thing served was a prefix: names under it are skipped. */
  p?: string;
  /** Digest of the query, so a token is not replayed against a different listing. */
  q: string;
}

/**
 * Name order as GCS and the datastore sort: UTF-8 bytes (code points). JavaScript's `<` compares
 * UTF-16 units, which puts U+E000–U+FFFF after the astral characters.
 */
export const compareNames = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Above every character: seeking here skips all names that start with what precedes it. */
const MAX_CHAR = "\u{10FFFF}";

function queryDigest(q: ListQuery) {
  return createHash("sha256")
    .update(
      JSON.stringify([
        q.prefix,
        q.delimiter,
        q.startOffset,
        q.endOffset,
        q.includeTrailingDelimiter,
        q.versions,
      ]),
    )
    .digest("base64url")
    .slice(0, 16);
}

function decodeCursor(token: string, digest: string): Cursor {
  let c: Cursor;
  try {
    c = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Cursor;
  } catch {
    throw new InvalidArgument("Invalid pageToken.", "invalid");
  }
  if (typeof c?.a !== "string" || (c.p !== undefined && typeof c.p !== "string") || c.q !== digest)
    throw new InvalidArgument("Invalid pageToken: it belongs to a different listing.", "invalid");
  return c;
}

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c), "utf8").toString("base64url");

export async function listPage<T>(q: ListQuery, scan: Scan<T>): Promise<ListPage<T>> {
  const digest = queryDigest(q);
  const cursor = q.pageToken ? decodeCursor(q.pageToken, digest) : undefined;
  const items: T[] = [];
  const prefixes: string[] = [];
  let count = 0;
  let last: Cursor | undefined;

  let after = cursor ? (cursor.p !== undefined ? cursor.p + MAX_CHAR : cursor.a) : undefined;
  let skip = cursor?.p;
  let from: string | undefined =
    !cursor && q.startOffset !== undefined && compareNames(q.startOffset, q.prefix) > 0
      ? q.startOffset
      : undefined;
  const batch = Math.min(Math.max(q.maxResults + 1, 16), 1001);

  for (;;) {
    const entries = await scan({
      ...(from !== undefined ? { from } : {}),
      ...(after !== undefined ? { after } : {}),
      limit: batch,
    });
    if (entries.length === 0) break;
    let reseek = false;
    for (const e of entries) {
      after = e.key;
      from = undefined;
      if (q.endOffset !== undefined && compareNames(e.name, q.endOffset) >= 0) return finish(false);
      if (skip !== undefined && e.name.startsWith(skip)) continue;
      const rest = e.name.slice(q.prefix.length);
      const cut = q.delimiter ? rest.indexOf(q.delimiter) : -1;
      if (cut >= 0) {
        const prefix = q.prefix + rest.slice(0, cut + q.delimiter!.length);
        // With includeTrailingDelimiter, an object named like its prefix ("dir/") is listed as an
        // item as well; both go on the same page so the pair is never split.
        const withFolder = q.includeTrailingDelimiter && prefix === e.name;
        if (withFolder) {
          if (count > 0 && count + 2 > q.maxResults) return finish(true);
          items.push(e.value);
          count++;
        } else if (count >= q.maxResults) return finish(true);
        prefixes.push(prefix);
        count++;
        last = { a: prefix, p: prefix, q: digest };
        skip = prefix;
        after = prefix + MAX_CHAR;
        reseek = true;
        break;
      }
      if (count >= q.maxResults) return finish(true);
      items.push(e.value);
      count++;
      last = { a: e.key, q: digest };
    }
    if (!reseek && entries.length < batch) break;
  }
  return finish(false);

  function finish(more: boolean): ListPage<T> {
    return { items, prefixes, ...(more && last ? { nextPageToken: encodeCursor(last) } : {}) };
  }
}
