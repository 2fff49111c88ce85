/**
 * Pre-serialized JSON for list pages: a page is answered as the concatenation of its items' cached
 * renderings (UTF-8 bytes), instead of parsing every stored document, rendering it into an object
 * and serializing the whole page again. The bytes are exactly those `JSON.stringify` gives for the
 * same body.
 */

/** A response body already serialized. `sendJson` writes `bytes`; any other serializer gets the parsed value. */
export class JsonBytes {
  constructor(readonly bytes: Buffer) {}
  toJSON(): unknown {
    return JSON.parse(this.bytes.toString("utf8"));
  }
}

const COMMA = Buffer.from(",");

/** Members of an object as `JSON.stringify` writes them, without the braces ("" when none). */
const members = (o: Record<string, unknown>) => JSON.stringify(o).slice(1, -1);

/**
 * The body `{...head, [field]: [items], ...tail}` (keys in that order), with `items` already
 * serialized; `field` is left out when `items` is undefined.
 */
export function jsonWithItems(
  head: Record<string, unknown>,
  field: string,
  items: Buffer[] | undefined,
  tail: Record<string, unknown> = {},
): JsonBytes {
  const before = members(head);
  const after = members(tail);
  if (items === undefined)
    return new JsonBytes(Buffer.from(`{${before}${before && after ? "," : ""}${after}}`, "utf8"));
  const chunks: Buffer[] = [Buffer.from(`{${before}${before ? "," : ""}${JSON.stringify(field)}:[`, "utf8")];
  items.forEach((item, n) => {
    if (n > 0) chunks.push(COMMA);
    chunks.push(item);
  });
  chunks.push(Buffer.from(`]${after ? "," : ""}${after}}`, "utf8"));
  return new JsonBytes(Buffer.concat(chunks));
}

/**
 * Serialized renderings of listed documents, keyed by the base URL and the document's key, each kept
 * with the stored JSON text it was made from: a rendering is a pure function of both, so an
 * unchanged document (the same text) is neither parsed nor rendered again, and a changed one misses.
 * Looked up by the key rather than the text: a stored text arrives as a fresh string on every read,
 * and hashing hundreds of characters per item was a tenth of a page's cost; comparing it with the
 * kept one is cheap. Bounded by size; emptied when full.
 */
export class RenderedJson<T> {
  private readonly byBase = new Map<string, Map<string, { text: string; json: Buffer }>>();
  private size = 0;
  constructor(
    private readonly render: (doc: T, base: string) => unknown,
    private readonly maxSize = 32 * 1024 * 1024,
  ) {}

  /** The rendering of the stored document `entry` (its key and JSON text) for `base`. */
  of(entry: { key: string; text: string }, base: string): Buffer {
    let cache = this.byBase.get(base);
    const hit = cache?.get(entry.key);
    if (hit !== undefined && hit.text === entry.text) return hit.json;
    const json = Buffer.from(JSON.stringify(this.render(JSON.parse(entry.text) as T, base)), "utf8");
    const cost = 2 * (entry.text.length + entry.key.length) + json.length + 2 * base.length;
    if (cost > this.maxSize) return json;
    if (this.size + cost > this.maxSize) {
      this.byBase.clear();
      this.size = 0;
      cache = undefined;
    }
    if (!cache) {
      cache = new Map();
      this.byBase.set(base, cache);
    }
    // A replaced entry's cost stays counted until the cache is emptied: an over-estimate, never under.
    cache.set(entry.key, { text: entry.text, json });
    this.size += cost;
    return json;
  }
}
