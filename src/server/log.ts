/**
 * The server's log: pino, one JSON object per line (`--log-format=json`, the default when stdout
 * is not a terminal), or the same records as readable text lines (`--log-format=text`). Request
 * lines carry `reqId`, the id the response, its error body and its audit entry also carry. Never
 * holds a credential: request lines name the route, path (no query string) and principal only.
 */
import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger } from "pino";
export type LogFormat = "json" | "text";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface LoggerOptions {
  format: LogFormat;
  level: LogLevel;
  /** Where lines go (stdout in `warrant serve`). */
  out: { write(chunk: string): unknown };
}

export function createLogger(o: LoggerOptions): Logger {
  const dest: DestinationStream =
    o.format === "json" ? { write: (line) => void o.out.write(line) } : textDestination(o.out);
  return pino(
    {
      level: o.level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

/** `2026-12-04T18:25:00.000Z INFO  request GET /v1/projects/{project} 403 reqId=… ` and a stack, if any, below. */
function textDestination(out: LoggerOptions["out"]): DestinationStream {
  return {
    write(line: string) {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const { time, level, msg, err, ...fields } = rec;
      const rest = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === "string" && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`)
        .join(" ");
      const stack = (err as { stack?: string } | undefined)?.stack;
      out.write(
        `${time} ${String(level).toUpperCase().padEnd(5)} ${msg ?? ""}${rest ? ` ${rest}` : ""}\n${stack ? `${stack.replace(/^/gm, "    ")}\n` : ""}`,
      );
    },
  };
}

/**
 * Free-text lines of the server's parts (`log(line)`), as records of `logger`: a route that
 * answered without its declared check is an error, an audit-only would-deny a warning, the rest
 * information.
 */
export function lineLogger(logger: Logger): (line: string) => void {
  return (line) => {
    if (line.startsWith("authorization:")) logger.error(line);
    else if (line.startsWith("audit-only:") || line.startsWith("storage: only")) logger.warn(line);
    else logger.info(line);
  };
}
