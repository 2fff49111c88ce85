/** Nodes of one installation as `warrant serve` child processes on one PostgreSQL database. */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServeProcess, spawnServe } from "./serve-process.js";

export interface ClusterNode {
  proc: ServeProcess;
  url: string;
  stateDir: string;
  /** An administrator's access token, from this node's own admin credential. */
  token: string;
}

export async function adminToken(stateDir: string, url: string): Promise<string> {
  const cred = JSON.parse(readFileSync(join(stateDir, "admin-credentials.json"), "utf8"));
  const res = await fetch(`${url}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "refresh_token",
      client_id: cred.client_id,
      client_secret: cred.client_secret,
      refresh_token: cred.refresh_token,
    }),
  });
  const json = (await res.json()) as { access_token?: string };
  if (!json.access_token) throw new Error(`no token: ${JSON.stringify(json)}`);
  return json.access_token;
}

/** Starts a node with a state directory of its own (created here; the caller removes it). */
export async function startNode(args: string[], env: Record<string, string>): Promise<ClusterNode> {
  const stateDir = mkdtempSync(join(tmpdir(), "warrant-node-"));
  const proc = spawnServe(stateDir, args, env);
  const info = await proc.ready();
  const url = info.url as string;
  return { proc, url, stateDir, token: await adminToken(stateDir, url) };
}
