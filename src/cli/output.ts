import { type FormatSpec, parseFormat, render } from "./format.js";
import type { Writer } from "./io.js";

/** Prints resources honouring --format, with per-command defaults (table for lists, yaml for one). */
export class Printer {
  readonly explicit?: FormatSpec;

  constructor(
    private readonly stdout: Writer,
    private readonly stderr: Writer,
    formatFlag: string | undefined,
  ) {
    if (formatFlag !== undefined) this.explicit = parseFormat(formatFlag);
  }

  /** Prints one resource; default yaml, or nothing when `quietByDefault` (create commands) and no --format. */
  one(resource: unknown, opts: { columns?: string; quietByDefault?: boolean } = {}): void {
    const fmt = this.explicit ?? (opts.quietByDefault ? undefined : parseFormat("yaml"));
    if (!fmt) return;
    this.stdout.write(render(fmt, { one: resource }, opts.columns));
  }

  /** Prints a list; default table with the given columns. */
  list(items: unknown[], columns: string): void {
    const fmt = this.explicit ?? parseFormat("table");
    if (items.length === 0 && (fmt.kind === "table" || fmt.kind === "csv" || fmt.kind === "value")) {
      this.stderr.write("Listed 0 items.\n");
      return;
    }
    this.stdout.write(render(fmt, { list: items }, columns));
  }
}
