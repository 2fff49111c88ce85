/**
 * A streaming reader for `uploadType=multipart` bodies (`multipart/related`): exactly two parts,
 * the object's JSON metadata and then its bytes. The metadata part is bounded and parsed before a
 * single media byte is accepted, so the handler can authorize and check preconditions first; the
 * media part streams to the sink with backpressure and is never held in memory. Accepts CRLF and
 * bare-LF line endings (some Google clients emit the latter). A truncated or malformed body is a
 * 400, and the sink then holds bytes the caller must discard.
 */
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { InvalidArgument } from "../../../domain/errors.js";

const MAX_METADATA_BYTES = 1 << 20;
const MAX_HEADER_BYTES = 16 * 1024;

type State = "preamble" | "headers" | "metadata" | "media" | "epilogue";

export interface MultipartPart {
  headers: Record<string, string>;
}

export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/related\s*;/i.test(contentType)) return null;
  // gcloud and gsutil (apitools: `boundary=%r`, a Python repr) single-quote it; GCS accepts that.
  const m = /;\s*boundary=(?:"([^"]{1,70})"|'([^']{1,70})'|([^\s;"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? m[3]!) : null;
}

function malformed(why: string): never {
  throw new InvalidArgument(`Invalid multipart request: ${why}`, "invalid");
}

/**
 * Reads the body. `onMetadata` gets the first part (headers and bytes) and returns where the media
 * part's bytes go, with that part's headers; the returned promise resolves once the closing
 * delimiter has been read and every media byte written to the sink.
 */
export async function readMultipartRelated(
  body: Readable,
  boundary: string,
  onMetadata: (part: MultipartPart & { body: Buffer }, media: MultipartPart) => Promise<Writable>,
): Promise<void> {
  const needle = Buffer.from(`\n--${boundary}`);
  // The body's first delimiter need not follow a newline: pretend one precedes the stream.
  let buf: Buffer = Buffer.from("\n");
  let state = "preamble" as State;
  const closed = () => state === "epilogue";
  let part = 0;
  let headers: Record<string, string> = {};
  let metadata: (MultipartPart & { body: Buffer }) | null = null;
  let sink: Writable | null = null;

  const write = async (chunk: Buffer) => {
    if (chunk.length && !sink!.write(chunk)) await once(sink!, "drain");
  };

  /** After a delimiter: `--` closes, a newline opens the next part. Returns bytes consumed, or -1 to wait. */
  const afterDelimiter = (at: number): number => {
    if (buf.length < at + 2) return -1;
    if (buf[at] === 0x2d && buf[at + 1] === 0x2d) {
      state = "epilogue";
      return at + 2;
    }
    let i = at;
    while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
    if (i < buf.length && buf[i] === 0x0d) i++;
    if (i >= buf.length) return -1;
    if (buf[i] !== 0x0a) malformed("expected a line break after the boundary.");
    part++;
    if (part > 2) malformed("expected exactly two parts (metadata and media).");
    state = "headers";
    headers = {};
    return i + 1;
  };

  /** Where the next boundary search in the preamble or metadata part may start. */
  let scanFrom = 0;
  const pending = new GrowingBuffer();
  pending.append(buf);
  const consume = (next: number) => {
    buf = buf.subarray(next);
    scanFrom = 0;
  };

  const contentEnd = (i: number) => (i > 0 && buf[i - 1] === 0x0d ? i - 1 : i);

  const step = async (): Promise<boolean> => {
    switch (state) {
      case "preamble": {
        const i = buf.indexOf(needle, scanFrom);
        if (i < 0) {
          if (buf.length > MAX_HEADER_BYTES) malformed("no boundary found.");
          scanFrom = Math.max(0, buf.length - needle.length + 1);
          return false;
        }
        const next = afterDelimiter(i + needle.length);
        if (next < 0) return false;
        if (closed()) malformed("the body has no parts.");
        consume(next);
        return true;
      }
      case "headers": {
        let pos = 0;
        for (;;) {
          const nl = buf.indexOf(0x0a, pos);
          if (nl < 0) {
            if (buf.length > MAX_HEADER_BYTES) malformed("part headers are too large.");
            return false;
          }
          const line = buf.subarray(pos, nl).toString("latin1").replace(/\r$/, "");
          pos = nl + 1;
          if (line === "") break;
          const colon = line.indexOf(":");
          if (colon <= 0) malformed(`invalid part header '${line.slice(0, 60)}'.`);
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        consume(pos);
        state = part === 1 ? "metadata" : "media";
        if (state === "media") sink = await onMetadata(metadata!, { headers });
        return true;
      }
      case "metadata": {
        const i = buf.indexOf(needle, scanFrom);
        if (i < 0) {
          if (buf.length > MAX_METADATA_BYTES) malformed("the metadata part is larger than 1 MiB.");
          scanFrom = Math.max(0, buf.length - needle.length + 1);
          return false;
        }
        const next = afterDelimiter(i + needle.length);
        if (next < 0) return false;
        if (closed()) malformed("the media part is missing.");
        metadata = { headers, body: Buffer.from(buf.subarray(0, contentEnd(i))) };
        consume(next);
        return true;
      }
      case "media": {
        const i = buf.indexOf(needle);
        if (i < 0) {
          // Keep enough to recognise a delimiter split across chunks (and its preceding CR).
          const keep = needle.length;
          if (buf.length > keep) {
            await write(buf.subarray(0, buf.length - keep));
            buf = buf.subarray(buf.length - keep);
          }
          return false;
        }
        const next = afterDelimiter(i + needle.length);
        if (next < 0) return false;
        if (!closed()) malformed("expected exactly two parts (metadata and media).");
        await write(buf.subarray(0, contentEnd(i)));
        buf = buf.subarray(next);
        return true;
      }
      case "epilogue":
        buf = Buffer.alloc(0);
        return false;
    }
  };

  for await (const chunk of body) {
    if (state === "media" || state === "epilogue")
      buf = buf.length ? Buffer.concat([buf, chunk as Buffer]) : (chunk as Buffer);
    else {
      // Before the media part, bytes collect in a growing buffer (amortized copies), and searches
      // resume where the last one stopped: a body trickling in tiny segments costs linear work.
      pending.keepLast(buf.length);
      pending.append(chunk as Buffer);
      buf = pending.view();
    }
    while (await step()) {}
  }
  while (await step()) {}
  if (!closed()) malformed("the body ended before the closing boundary.");
}

/**
 * Bytes appended at the end with capacity doubling. Only used before the media part: media bytes
 * go to the sink by reference, so their memory must never be reused.
 */
class GrowingBuffer {
  private store = Buffer.alloc(0);
  private start = 0;
  private end = 0;

  view(): Buffer {
    return this.store.subarray(this.start, this.end);
  }

  /** Drops all but the last `n` bytes (what the parser has not consumed yet). */
  keepLast(n: number) {
    this.start = this.end - n;
  }

  append(chunk: Buffer) {
    const len = this.end - this.start;
    if (this.end + chunk.length > this.store.length) {
      const next = Buffer.allocUnsafe(Math.max(len + chunk.length, this.store.length * 2, 16 * 1024));
      this.store.copy(next, 0, this.start, this.end);
      this.store = next;
      this.start = 0;
      this.end = len;
    }
    chunk.copy(this.store, this.end);
    this.end += chunk.length;
  }
}
