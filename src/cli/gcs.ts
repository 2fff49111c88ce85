/**
 * Cloud Storage for the CLI: `gs://` URLs, listings, and streamed transfers. Uploads use a simple
 * upload for small files and a resumable session in 16 MiB chunks for large ones (a failed chunk
 * is retried after asking the server what it holds); downloads stream into a temp file beside the
 * destination, are checked against the server's CRC32C, and renamed into place — a failed copy
 * never leaves a partial file under the destination name.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Crc32c } from "../domain/storage/checksums.js";
import { apiErrorFrom, networkError, USER_AGENT } from "./api.js";
import { CliError } from "./errors.js";
import type { Writer } from "./io.js";
import type { Session } from "./session.js";

export interface GsUrl {
  bucket: string;
  /** Object name or prefix; "" for the bucket itself. */
  path: string;
}

export function parseGsUrl(url: string): GsUrl | null {
  const m = /^gs:\/\/([^/]+)\/?(.*)$/s.exec(url);
  return m ? { bucket: m[1]!, path: m[2]! } : null;
}

export const gsUrl = (bucket: string, name = "") => `gs://${bucket}/${name}`;
export const objectPath = (bucket: string, name: string) =>
  `/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`;

export const CHUNK_BYTES = 16 * 1024 * 1024;
const SIMPLE_UPLOAD_MAX = 8 * 1024 * 1024;

/** A one-line progress meter on a terminal; silent otherwise. */
class Progress {
  private done = 0;
  private last = 0;
  constructor(
    private readonly out: Writer,
    private readonly label: string,
    private readonly total: number,
    private readonly enabled: boolean,
  ) {}
  add(n: number) {
    this.done += n;
    const now = Date.now();
    if (!this.enabled || (now - this.last < 200 && this.done < this.total)) return;
    this.last = now;
    const pct = this.total ? Math.floor((this.done / this.total) * 100) : 100;
    const width = 30;
    const bar = "#".repeat(Math.floor((pct / 100) * width)).padEnd(width, ".");
    this.out.write(`\r${this.label} [${bar}] ${pct}% ${mib(this.done)}/${mib(this.total)} MiB`);
  }
  end() {
    if (this.enabled) this.out.write("\n");
  }
}
const mib = (n: number) => (n / (1024 * 1024)).toFixed(1);

export function progressEnabled(s: Writer, env: NodeJS.ProcessEnv) {
  return (s as { isTTY?: boolean }).isTTY === true && env.WARRANT_PROGRESS !== "0";
}

export class Transfers {
  constructor(
    private readonly session: Session,
    private readonly fetchImpl: typeof fetch,
    private readonly stderr: Writer,
    private readonly showProgress: boolean,
  ) {}

  private async send(
    method: string,
    path: string,
    init: RequestInit & { headers?: Record<string, string> } = {},
  ) {
    const endpoint = this.session.endpoint();
    const url = path.startsWith("http") ? path : `${endpoint}${path}`;
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        ...init,
        method,
        headers: {
          authorization: `Bearer ${await this.session.accessToken()}`,
          "user-agent": USER_AGENT,
          ...init.headers,
        },
        ...(init.body instanceof Readable ||
        (init.body && typeof init.body === "object" && "getReader" in init.body)
          ? { duplex: "half" }
          : {}),
      } as RequestInit);
    } catch (e) {
      throw networkError(endpoint, e);
    }
    return res;
  }

  private async ok(res: Response, method: string, url: string) {
    if (res.ok || res.status === 308) return res;
    throw await apiErrorFrom(res, method, url);
  }

  /** Uploads a local file as gs://bucket/name; returns the object resource. */
  async upload(
    file: string,
    bucket: string,
    name: string,
    contentType?: string,
  ): Promise<Record<string, unknown>> {
    const size = (await stat(file)).size;
    const progress = new Progress(this.stderr, `Copying ${basename(file)}`, size, this.showProgress);
    const type = contentType ?? "application/octet-stream";
    if (size <= SIMPLE_UPLOAD_MAX) {
      const url = `/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=media&name=${encodeURIComponent(name)}`;
      const res = await this.ok(
        await this.send("POST", url, {
          headers: { "content-type": type, "content-length": String(size) },
          body: counted(createReadStream(file), progress) as unknown as BodyInit,
        }),
        "POST",
        url,
      );
      progress.end();
      return (await res.json()) as Record<string, unknown>;
    }
    const init = `/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable`;
    const started = await this.ok(
      await this.send("POST", init, {
        headers: {
          "content-type": "application/json",
          "x-upload-content-type": type,
          "x-upload-content-length": String(size),
        },
        body: JSON.stringify({ name }),
      }),
      "POST",
      init,
    );
    const session = started.headers.get("location");
    if (!session) throw new CliError("The server started a resumable upload without a session URI.");
    let offset = 0;
    let failures = 0;
    while (offset < size) {
      const end = Math.min(offset + CHUNK_BYTES, size) - 1;
      let res: Response;
      try {
        res = await this.send("PUT", session, {
          headers: {
            "content-range": `bytes ${offset}-${end}/${size}`,
            "content-length": String(end - offset + 1),
          },
          body: counted(createReadStream(file, { start: offset, end }), progress) as unknown as BodyInit,
        });
      } catch (e) {
        if (++failures > 5) throw e;
        offset = await this.persisted(session, size);
        continue;
      }
      if (res.status === 308) {
        const range = res.headers.get("range");
        offset = range ? Number(range.split("-")[1]) + 1 : 0;
        continue;
      }
      await this.ok(res, "PUT", "(upload session)");
      progress.end();
      return (await res.json()) as Record<string, unknown>;
    }
    throw new CliError("The upload ended without the server confirming the object.");
  }

  /** Asks a resumable session how many bytes it holds. */
  private async persisted(session: string, size: number): Promise<number> {
    const res = await this.send("PUT", session, {
      headers: { "content-range": `bytes */${size}`, "content-length": "0" },
    });
    if (res.status !== 308) await this.ok(res, "PUT", "(upload session)");
    const range = res.headers.get("range");
    return range ? Number(range.split("-")[1]) + 1 : 0;
  }

  /** Downloads gs://bucket/name to `file` atomically, verifying CRC32C. */
  async download(bucket: string, name: string, file: string): Promise<number> {
    const path = `${objectPath(bucket, name)}?alt=media`;
    const res = await this.ok(await this.send("GET", path), "GET", path);
    const total = Number(res.headers.get("content-length") ?? 0);
    const expected = /crc32c=([A-Za-z0-9+/=]+)/.exec(res.headers.get("x-goog-hash") ?? "")?.[1];
    const progress = new Progress(this.stderr, `Copying gs://${bucket}/${name}`, total, this.showProgress);
    const temp = join(dirname(file), `.${basename(file)}.warrant-partial-${process.pid}`);
    const crc = new Crc32c();
    let size = 0;
    try {
      await pipeline(
        Readable.fromWeb(res.body as never),
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            crc.update(chunk);
            size += chunk.length;
            progress.add(chunk.length);
            cb(null, chunk);
          },
        }),
        createWriteStream(temp, { mode: 0o644 }),
      );
      if (expected && crc.digest() !== expected)
        throw new CliError(
          `Download of gs://${bucket}/${name} is corrupt: CRC32C ${crc.digest()} ≠ ${expected}.`,
        );
      await rename(temp, file);
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
    progress.end();
    return size;
  }

  /** Streams an object to a writer (for `cat`). */
  async cat(bucket: string, name: string, out: Writer) {
    const path = `${objectPath(bucket, name)}?alt=media`;
    const res = await this.ok(await this.send("GET", path), "GET", path);
    // Bytes as they are: an object need not be text.
    const sink = out as { write(chunk: string | Uint8Array): unknown };
    for await (const chunk of Readable.fromWeb(res.body as never)) sink.write(chunk as Buffer);
  }
}

function counted(stream: Readable, progress: Progress): Readable {
  return stream.pipe(
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        progress.add(chunk.length);
        cb(null, chunk);
      },
    }),
  );
}
