/** The audit log: one JSON line per API request (who, what, which checks, outcome). Never holds secrets. */
import { createWriteStream, type WriteStream } from "node:fs";
import type { AuditSink } from "./http/server.js";

export class FileAuditSink implements AuditSink {
  private readonly stream: WriteStream;
  /** Lines lost to write errors (a full disk, say), for the metrics. */
  writeErrors = 0;
  constructor(file: string) {
    this.stream = createWriteStream(file, { flags: "a", mode: 0o600 });
    this.stream.on("error", () => {
      this.writeErrors++;
    });
  }
  record(entry: Record<string, unknown>) {
    if (this.stream.destroyed) {
      this.writeErrors++;
      return;
    }
    this.stream.write(`${JSON.stringify(entry)}\n`);
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
