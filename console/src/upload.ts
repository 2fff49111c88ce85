/**
 * Resumable uploads to the Cloud Storage JSON API (`uploadType=resumable`), as the console's
 * storage page sends them: one session, then chunks whose sizes are multiples of 256 KiB (only the
 * last may be shorter), each answered `308` with `Range: bytes=0-N` (what the server kept) until
 * the last, answered `200` with the object. After a network error the upload asks the session what
 * it kept (`Content-Range: bytes *\/TOTAL`, no body) and goes on from there, never from what it
 * believes it sent: the server may have kept less (a chunk cut short, only whole 256 KiB units
 * counted) or more (the chunk arrived, its answer did not).
 *
 * Two parts: the byte accounting (pure functions, tested alone in test/console/storage.test.ts),
 * and `ResumableUpload`, which does the I/O with `fetch` against any base URL: `/console/api` in
 * the console, the API itself in a test.
 */

/** GCS's chunk granule: every chunk but the last is a multiple of it. */
export const CHUNK_UNIT = 256 * 1024;
/** Upper bound of the chunk size the console picks (GCS suggests at least 8 MiB for throughput). */
export const MAX_CHUNK = 8 * 1024 * 1024;
/** About this many chunks per upload, so the progress bar moves in visible steps. */
export const TARGET_CHUNKS = 20;

// ---------------------------------------------------------------------------------------------
// Byte accounting (pure)

/** Rounds a requested chunk size down to a positive multiple of 256 KiB. */
export function alignChunk(bytes: number): number {
  if (!Number.isFinite(bytes) || bytes < CHUNK_UNIT) return CHUNK_UNIT;
  return Math.floor(bytes / CHUNK_UNIT) * CHUNK_UNIT;
}

/** The chunk size for an upload of `total` bytes: about TARGET_CHUNKS chunks, 256 KiB to 8 MiB. */
export function chooseChunkSize(total: number): number {
  const wanted = Math.ceil(total / TARGET_CHUNKS / CHUNK_UNIT) * CHUNK_UNIT;
  return Math.min(MAX_CHUNK, Math.max(CHUNK_UNIT, wanted));
}

/**
 * What the server kept, from a `308`'s `Range` header: `bytes=0-N` → N + 1; no header → 0 (nothing
 * persisted yet). Anything else, or a range not starting at 0, is a protocol error.
 */
export function persistedFromRange(range: string | null | undefined): number {
  if (range === null || range === undefined || range === "") return 0;
  const m = /^bytes=0-(\d+)$/.exec(range.trim());
  if (!m) throw new Error(`The upload session answered an unexpected Range: ${range}`);
  return Number(m[1]) + 1;
}

export interface Chunk {
  /** First byte (inclusive). */
  start: number;
  /** One past the last byte. */
  end: number;
  /** Whether this chunk reaches the end of the file (then it carries the total). */
  last: boolean;
  /** The `Content-Range` header of the chunk's PUT. */
  contentRange: string;
}

/**
 * The next chunk to send, from `offset` (what the server kept). A non-final chunk is a multiple of
 * 256 KiB (`chunk` is aligned); the final one is whatever remains and names the total. An empty
 * file is one empty final chunk (`bytes *\/0`).
 */
export function nextChunk(offset: number, total: number, chunk: number): Chunk {
  if (!Number.isInteger(offset) || offset < 0 || offset > total)
    throw new Error(`Cannot resume at byte ${offset} of ${total}.`);
  const size = alignChunk(chunk);
  const end = Math.min(total, offset + size);
  const last = end === total;
  if (end === offset) return { start: offset, end, last: true, contentRange: `bytes */${total}` };
  return {
    start: offset,
    end,
    last,
    contentRange: `bytes ${offset}-${end - 1}/${last ? total : "*"}`,
  };
}

/** The `Content-Range` of a status query: asks the session what it kept, sending nothing. */
export function statusQueryRange(total: number): string {
  return `bytes */${total}`;
}

/**
 * Checks a server's `308` answer against what was sent: it kept `persisted` bytes, never more than
 * the file and never more than the end of what was sent. Kept less is normal (resume from there).
 */
export function checkPersisted(persisted: number, total: number, sentUpTo: number): number {
  if (persisted > total) throw new Error(`The server claims ${persisted} bytes of a ${total}-byte file.`);
  if (persisted > sentUpTo)
    throw new Error(`The server claims ${persisted} bytes, but only ${sentUpTo} were sent.`);
  return persisted;
}

/** Progress as the bar shows it: 0..1, and 1 only when the upload completed. */
export function fractionDone(persisted: number, total: number, complete: boolean): number {
  if (complete) return 1;
  if (total <= 0) return 0;
  return Math.min(persisted / total, 0.999);
}

/** Wait before retry `attempt` (1, 2, …): 250 ms doubling, at most 8 s. */
export function backoffMs(attempt: number): number {
  return Math.min(8000, 250 * 2 ** Math.max(0, attempt - 1));
}

// ---------------------------------------------------------------------------------------------
// I/O

export interface UploadProgress {
  /** Bytes the server has confirmed keeping. */
  persisted: number;
  total: number;
  /** Network errors recovered from so far. */
  retries: number;
  /** What the upload is doing, for the status line. */
  phase: "starting" | "uploading" | "recovering" | "done";
}

export interface UploadOptions {
  bucket: string;
  name: string;
  data: Blob;
  contentType?: string;
  /** Chunk size in bytes (aligned to 256 KiB); default chooseChunkSize(total). */
  chunkBytes?: number;
  /** Base of the API paths: `/console/api` in the console, `http://host:port` in a test. */
  base?: string;
  /** Headers of every request (the console's CSRF header, or a test's Authorization). */
  headers?: Record<string, string>;
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
  /** Consecutive network errors without progress before giving up (default 6). */
  maxRetries?: number;
  /** Turns a failed answer into an error (the console passes its ApiError factory). */
  errorFrom?: (status: number, body: unknown, path: string) => Error;
  /** `fetch` (a test may wrap it to cut requests). */
  fetch?: typeof fetch;
  /** Sleeps between retries (a test passes a short one). */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function isNetworkError(err: unknown): boolean {
  // fetch rejects with a TypeError when the connection fails or is cut; an abort is the caller's.
  return err instanceof TypeError;
}

/** The session URI as a path under `base`: the console's back end rewrote it to point at itself. */
export function sessionPath(location: string, base: string, origin: string): string {
  const u = new URL(location, origin);
  const b = new URL(base, origin);
  const prefix = b.pathname.replace(/\/$/, "");
  if (u.origin !== b.origin || !u.pathname.startsWith(`${prefix}/`))
    throw new Error(`The upload session is at an unexpected address: ${u.origin}${u.pathname}`);
  return u.pathname.slice(prefix.length) + u.search;
}

export class ResumableUpload {
  private readonly o: UploadOptions;
  private readonly total: number;
  private readonly chunk: number;
  private readonly fetch: typeof fetch;
  private readonly base: string;
  private readonly origin: string;
  private session: string | undefined;
  private persisted = 0;
  /** One past the furthest byte sent: the server cannot claim more. */
  private sentMax = 0;
  private retries = 0;

  constructor(options: UploadOptions) {
    this.o = options;
    this.total = options.data.size;
    this.chunk = alignChunk(options.chunkBytes ?? chooseChunkSize(this.total));
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.base = (options.base ?? "/console/api").replace(/\/$/, "");
    this.origin = typeof location !== "undefined" ? location.origin : "http://localhost";
  }

  /** The chunk size in use (a multiple of 256 KiB). */
  get chunkBytes(): number {
    return this.chunk;
  }

  private url(path: string) {
    return `${this.base}${path}`;
  }

  private report(phase: UploadProgress["phase"]) {
    this.o.onProgress?.({ persisted: this.persisted, total: this.total, retries: this.retries, phase });
  }

  private async fail(res: Response, path: string): Promise<never> {
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    if (this.o.errorFrom) throw this.o.errorFrom(res.status, body, path);
    const msg = (body as { error?: { message?: string } } | undefined)?.error?.message;
    throw new Error(`${res.status}: ${msg ?? res.statusText}`);
  }

  /** Starts the session; returns its path under `base`. */
  private async initiate(): Promise<string> {
    const path = `/upload/storage/v1/b/${encodeURIComponent(this.o.bucket)}/o?uploadType=resumable&name=${encodeURIComponent(this.o.name)}`;
    const contentType = this.o.contentType || "application/octet-stream";
    const res = await this.fetch(this.url(path), {
      method: "POST",
      headers: {
        ...this.o.headers,
        "Content-Type": "application/json; charset=UTF-8",
        "X-Upload-Content-Type": contentType,
        "X-Upload-Content-Length": String(this.total),
      },
      body: JSON.stringify({ name: this.o.name, contentType }),
      ...(this.o.signal ? { signal: this.o.signal } : {}),
    });
    if (!res.ok) await this.fail(res, path);
    await res.body?.cancel();
    const location = res.headers.get("Location");
    if (!location) throw new Error("The upload session was created without a Location.");
    return sessionPath(location, this.base, this.origin);
  }

  /** One PUT to the session: a chunk, or (no body) a status query. */
  private async put(contentRange: string, body?: Blob): Promise<Response> {
    return this.fetch(this.url(this.session!), {
      method: "PUT",
      headers: { ...this.o.headers, "Content-Range": contentRange },
      body: body ?? new Uint8Array(0),
      ...(this.o.signal ? { signal: this.o.signal } : {}),
    });
  }

  /** Reads a 308 (more to send) or a 200/201 (done: the object); anything else is an error. */
  private async answer(res: Response, sentUpTo: number): Promise<unknown | undefined> {
    if (res.status === 308) {
      await res.body?.cancel();
      this.persisted = checkPersisted(persistedFromRange(res.headers.get("Range")), this.total, sentUpTo);
      return undefined;
    }
    if (res.status === 200 || res.status === 201) return res.json();
    return this.fail(res, this.session!);
  }

  /** Uploads everything; resolves with the object's resource. */
  async run(): Promise<unknown> {
    this.report("starting");
    this.session = await this.initiate();
    this.report("uploading");
    try {
      return await this.send();
    } catch (err) {
      // Cancelled: end the session, so its bytes do not wait a week on the server (best effort).
      if ((err as Error)?.name === "AbortError") await this.discard();
      throw err;
    }
  }

  /** The session's path under `base` once started (a test checks it is gone after a cancel). */
  get sessionUri(): string | undefined {
    return this.session;
  }

  /** `DELETE` on the session URI: the server drops the session and what it kept (answered 499). */
  private async discard(): Promise<void> {
    try {
      const res = await this.fetch(this.url(this.session!), {
        method: "DELETE",
        headers: { ...this.o.headers },
      });
      await res.body?.cancel();
    } catch {
      // The session expires on its own.
    }
  }

  private async send(): Promise<unknown> {
    let failures = 0;
    const maxRetries = this.o.maxRetries ?? 6;
    const sleep = this.o.sleep ?? defaultSleep;
    let recovering = false;
    let stalls = 0;
    for (;;) {
      try {
        let done: unknown | undefined;
        if (recovering) {
          // What did the server keep? Resume from there, not from what was sent.
          const res = await this.put(statusQueryRange(this.total));
          done = await this.answer(res, this.sentMax);
          recovering = false;
        } else {
          const c = nextChunk(this.persisted, this.total, this.chunk);
          this.sentMax = Math.max(this.sentMax, c.end);
          const before = this.persisted;
          const res = await this.put(c.contentRange, this.o.data.slice(c.start, c.end));
          done = await this.answer(res, this.sentMax);
          // A chunk the server keeps none of, again and again, would loop for ever.
          if (done === undefined && this.persisted > before) stalls = 0;
          else if (done === undefined && ++stalls > 3)
            throw new Error(`The server keeps none of the chunk at byte ${before}; the upload stopped.`);
        }
        if (done !== undefined) {
          this.persisted = this.total;
          this.report("done");
          return done;
        }
        failures = 0;
        this.report("uploading");
      } catch (err) {
        if (!isNetworkError(err)) throw err;
        failures++;
        this.retries++;
        if (failures > maxRetries)
          throw new Error(
            `The upload stopped after ${maxRetries} network errors in a row at byte ${this.persisted} of ${this.total}: ${(err as Error).message}`,
          );
        recovering = true;
        this.report("recovering");
        await sleep(backoffMs(failures));
      }
    }
  }
}
