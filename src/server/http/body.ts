/** Request bodies: bounded, parsed, and rejected with a clear 400 when malformed. */
import type { IncomingMessage } from "node:http";
import { InvalidArgument, PayloadTooLarge } from "../../domain/errors.js";

export const MAX_JSON_BODY_BYTES = 1 << 20;
/** Deeper documents are refused: nothing Google accepts nests this far, and deep values exhaust the stack later. */
export const MAX_JSON_DEPTH = 64;

/** Nesting depth of a parsed JSON value, measured iteratively (no recursion to overflow). */
function depthExceeds(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d > limit) return true;
    for (const child of Object.values(v))
      if (child !== null && typeof child === "object") stack.push([child, d + 1]);
  }
  return false;
}

/**
 * The request's body, at most `limit` bytes (413 past it, and the connection closes after that
 * answer: see `tooLarge`). Read through the stream's events rather than an
 * async iterator: every POST reads a body, and the iterator's machinery cost several times the
 * copying.
 */
export function readBody(req: IncomingMessage, limit = MAX_JSON_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (req.destroyed) return Promise.reject(prematureClose());
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err: Error | undefined) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        settle(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => settle(undefined);
    const onError = (err: Error) => settle(err);
    // Closed before its end: the client went away mid-body.
    const onClose = () => settle(prematureClose());
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function prematureClose(): Error {
  return Object.assign(new Error("The client closed the connection before the request body ended."), {
    code: "ERR_STREAM_PREMATURE_CLOSE",
  });
}

/** Node:http ends the socket once the 413's `Connection: close` answer is written (see PayloadTooLarge). */
function tooLarge(limit: number) {
  return new PayloadTooLarge(`Request body is larger than ${limit} bytes.`);
}

/** A JSON object body; an empty body reads as `{}` (Google accepts empty bodies for custom methods). */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req);
  if (raw.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new InvalidArgument(`Invalid JSON payload received. ${(err as Error).message}`, "parseError");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new InvalidArgument(
      "Invalid JSON payload received. Expected an object at the top level.",
      "parseError",
    );
  if (depthExceeds(parsed, MAX_JSON_DEPTH))
    throw new InvalidArgument(
      `Invalid JSON payload received. Nesting is deeper than ${MAX_JSON_DEPTH} levels.`,
      "parseError",
    );
  return parsed as Record<string, unknown>;
}

export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const raw = await readBody(req, 64 * 1024);
  return new URLSearchParams(raw.toString("utf8"));
}
