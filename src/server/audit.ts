/** The audit log: one JSON line per API request (who, what, which checks, outcome). Never holds secrets. */
import { createWriteStream, type WriteStream } from "node:fs";
import type { AuditSink } from "./http/server.js";

export class FileAuditSink implements AuditSink {
  private stream: WriteStream;
  /** Lines lost to write errors (a full disk, say), for the metrics. */
  writeErrors = 0;
  constructor(private readonly file: string) {
    this.stream = this.open();
  }
  private open(): WriteStream {
    const stream = createWriteStream(this.file, { flags: "a", mode: 0o600 });
    stream.on("error", () => {
      this.writeErrors++;
    });
    return stream;
  }
  record(entry: Record<string, unknown>) {
    if (this.stream.destroyed) {
      this.writeErrors++;
      return;
    }
    this.stream.write(`${JSON.stringify(entry)}\n`);
  }
  /**
   * Reopens the file by name (SIGHUP, after logrotate moved it): later lines go to a new file;
   * lines already handed to the old stream are flushed to the old one. Resolves once they are and
   * the new file is open; rejects if it cannot be opened (its lines then count as write errors).
   */
  async reopen(): Promise<void> {
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
