import type { ApiClient } from "./api.js";
import { CliError } from "./errors.js";

export interface LroOperation {
  name?: string;
  done?: boolean;
  error?: { code?: number; message?: string };
  response?: Record<string, unknown>;
}

/** Waits (bounded) for a long-running operation of the Resource Manager API. */
export async function waitLro(api: ApiClient, op: LroOperation, timeoutMs = 60_000): Promise<LroOperation> {
  const deadline = Date.now() + timeoutMs;
  let cur = op;
  while (!cur.done) {
    if (!cur.name) throw new CliError("The server returned an unfinished operation without a name.");
    if (Date.now() > deadline) throw new CliError(`Timed out waiting for [${cur.name}].`);
    await new Promise((r) => setTimeout(r, 500));
    cur = await api.request<LroOperation>("GET", `/v1/${cur.name}`);
  }
  if (cur.error)
    throw new CliError(`Operation [${cur.name}] failed: ${cur.error.message ?? "unknown error"}`);
  return cur;
}
