/**
 * The audit log: one JSON line per API request (who, what, which checks, outcome). Never holds secrets.
 * Rotated by size: when a line would take `audit.log` past `maxBytes`, it becomes `audit.log.1`
 * (`.1` becomes `.2`, …) and the oldest beyond `maxFiles` is deleted. Renaming a file does not
 * disturb the writes already queued on it, so no line is lost or split across files.
 *
 * Lines recorded in one turn of the event loop are written together, in one write, at the end of
 * that turn (`setImmediate`): under load a write carries many requests' lines instead of one each.
 * Rotation, `reopen` and `close` write what is pending first, so no line is lost on shutdown.
 */
import { createWriteStream, renameSync, rmSync, statSync, type WriteStream } from "node:fs";
import type { AuditSink } from "./http/server.js";

export const DEFAULT_AUDIT_MAX_BYTES = 100 * 1024 * 1024;
export const DEFAULT_AUDIT_MAX_FILES = 10;

export interface AuditOptions {
  /** Rotate before a line would take the file past this size; 0: never (logrotate and SIGHUP instead). */
  maxBytes?: number;
  /** Rotated files kept (`audit.log.1` … `audit.log.N`); older ones are deleted. */
  maxFiles?: number;
  /** Also hands each entry here (a copy on stdout for a log shipper). */
  copy?: (entry: Record<string, unknown>) => void;
}

export class FileAuditSink implements AuditSink {
  private stream: WriteStream;
  private size = 0;
  /** Lines recorded in this turn of the event loop, not yet handed to the stream. */
  private pending: string[] = [];
  private flushScheduled = false;
  /** Lines lost to write errors (a full disk, say), for the metrics. */
  writeErrors = 0;
  /** Rotations done, for the metrics and tests. */
  rotations = 0;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  constructor(
    private readonly file: string,
    private readonly opts: AuditOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES;
    this.maxFiles = Math.max(1, opts.maxFiles ?? DEFAULT_AUDIT_MAX_FILES);
    this.stream = this.open();
  }
  private open(): WriteStream {
    try {
      this.size = statSync(this.file).size;
    } catch {
      this.size = 0;
    }
    const stream = createWriteStream(this.file, { flags: "a", mode: 0o600 });
    // Counted per line, by the writes' callbacks; this only keeps an error from crashing the process.
    stream.on("error", () => {});
    return stream;
  }
  record(entry: Record<string, unknown>) {
    this.opts.copy?.(entry);
    if (this.stream.destroyed) {
      this.writeErrors++;
      return;
    }
    const line = `${JSON.stringify(entry)}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.maxBytes > 0 && this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    this.size += bytes;
    this.pending.push(line);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }
  /** Hands the lines recorded so far to the stream, in one write. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const lines = this.pending.length;
    const chunk = lines === 1 ? this.pending[0]! : this.pending.join("");
    this.pending = [];
    if (this.stream.destroyed) {
      this.writeErrors += lines;
      return;
    }
    this.stream.write(chunk, (err) => {
      if (err) this.writeErrors += lines;
    });
  }
  /** `audit.log` → `audit.log.1` → … → `audit.log.<maxFiles>` (deleted beyond), then a fresh file. */
  private rotate() {
    // The lines before this one belong to the file being rotated out.
    this.flush();
    try {
      rmSync(`${this.file}.${this.maxFiles}`, { force: true });
      for (let i = this.maxFiles - 1; i >= 1; i--) {
        try {
          renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        }
      }
      renameSync(this.file, `${this.file}.1`);
    } catch {
      // Could not rotate (permissions, a full disk): keep appending to the file we have.
      this.writeErrors++;
      return;
    }
    this.rotations++;
    const old = this.stream;
    this.stream = this.open();
    // Its queued lines land in the renamed file, which its descriptor still points at.
    old.end();
  }
  /**
   * Reopens the file by name (SIGHUP, after logrotate moved it): later lines go to a new file;
   * lines already handed to the old stream are flushed to the old one. Resolves once they are and
   * the new file is open; rejects if it cannot be opened (its lines then count as write errors).
   */
  async reopen(): Promise<void> {
    this.flush();
    const old = this.stream;
    const stream = this.open();
    this.stream = stream;
    const opened = new Promise<void>((resolve, reject) => {
      stream.once("open", () => resolve());
      stream.once("error", reject);
    });
    await new Promise<void>((resolve) => old.end(resolve));
    await opened;
  }
  close(): Promise<void> {
    this.flush();
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

/** One line of the audit log about a credential issued on a request (never the credential itself). */
export function recordIssued(
  sink: AuditSink,
  requestId: string,
  grant: string,
  fields: Record<string, unknown>,
): void {
  sink.record({
    time: new Date().toISOString(),
    kind: "token",
    requestId,
    grant,
    outcome: "issued",
    ...fields,
  });
}
