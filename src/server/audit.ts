/** The audit log: one JSON line per API request (who, what, which checks, outcome). Never holds secrets. */
import { createWriteStream, type WriteStream } from "node:fs";
import type { AuditSink } from "./http/server.js";

export class FileAuditSink implements AuditSink {
  private readonly stream: WriteStream;
  constructor(file: string) {
    this.stream = createWriteStream(file, { flags: "a", mode: 0o600 });
    this.stream.on("error", () => {});
  }
  record(entry: Record<string, unknown>) {
    this.stream.write(`${JSON.stringify(entry)}\n`);
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}
