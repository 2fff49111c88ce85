/** Test harness: a real Warrant server on 127.0.0.1 in a temp state dir, and an HTTP client for it. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { mintAccessToken } from "../../src/domain/tokens/access-token.js";
import { parseMasterKey } from "../../src/domain/tokens/sealed.js";
import { loadSigningKey, type StoredSigningKey } from "../../src/domain/tokens/signing-key.js";
import { type RunningServer, type ServeOptions, startServer } from "../../src/server/app.js";

export interface Harness {
  server: RunningServer;
  url: string;
  stateDir: string;
  adminToken: string;
  /** Calls the API; `token: null` sends no Authorization header. */
  call(
    method: string,
    path: string,
    opts?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<Reply>;
  tokenFor(credentialFile: string): Promise<string>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON replies field by field
  body: any;
  text: string;
}

export async function startHarness(options: Partial<ServeOptions> = {}): Promise<Harness> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "warrant-test-"));
  const logs: string[] = [];
  // A route that answered without the check it declares is a bug to see at once, not only as a 500.
  const log = (l: string) => {
    logs.push(l);
    if (l.startsWith("authorization:")) process.stderr.write(`${l}\n`);
  };
  const opts: ServeOptions = { host: "127.0.0.1", port: 0, log, ...options, stateDir };
  let server = await startServer(opts);

  async function call(
    method: string,
    path: string,
    o: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? h.adminToken : o.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(`${h.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  async function tokenFor(file: string): Promise<string> {
    const cred = JSON.parse(readFileSync(file, "utf8"));
    const res = await fetch(`${h.url}/token`, {
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

  const h: Harness = {
    server,
    url: server.url,
    stateDir,
    adminToken: "",
    call,
    tokenFor,
    async restart() {
      await server.close();
      // Let the client's pooled keep-alive sockets see the close before the next request.
      await new Promise((r) => setTimeout(r, 100));
      server = await startServer({ ...opts, port: Number(new URL(h.url).port) });
      h.server = server;
    },
    async close() {
      await server.close();
      if (!options.stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
  h.adminToken = await tokenFor(server.adminCredentialFile);
  return h;
}

/**
 * Mints an access token with the server's own signing key for any principal, as if at time `now`:
 * lets tests act as principals that have no credential file yet, and test expiry.
 */
export async function mintWithServerKey(
  h: Harness,
  issuer: string,
  now: number,
  sub = "user:admin@warrant.local",
  scopes = ["https://www.googleapis.com/auth/cloud-platform"],
): Promise<string> {
  const db = new Database(join(h.stateDir, "warrant.db"), { readonly: true });
  try {
    const rows = db.prepare("SELECT value FROM documents WHERE kind = 'signing-key'").all() as {
      value: string;
    }[];
    const primary = rows
      .map((r) => JSON.parse(r.value) as StoredSigningKey)
      .find((k) => k.state === "primary")!;
    const master = parseMasterKey(readFileSync(join(h.stateDir, "master.key"), "utf8"));
    const key = loadSigningKey(primary, master);
    // Tokens are bound to the unique id of the account they act for, as the server's are.
    const [type, email] = [sub.slice(0, sub.indexOf(":")), sub.slice(sub.indexOf(":") + 1)];
    const kind = { user: "user", serviceAccount: "service-account" }[type];
    const row = kind
      ? (db
          .prepare("SELECT value FROM documents WHERE kind = ? AND key = ?")
          .get(kind, email.toLowerCase()) as { value: string } | undefined)
      : undefined;
    const uid = row ? (JSON.parse(row.value) as { uniqueId?: string }).uniqueId : undefined;
    const { token } = await mintAccessToken(key, issuer, {
      sub,
      ...(uid ? { uid } : {}),
      scopes,
      azp: "test",
      via: "test",
      lifetimeSeconds: 3600,
      now,
    });
    return token;
  } finally {
    db.close();
  }
}

/**
 * A token for `sub` (e.g. `user:bob@example.com`), valid now. A user is first added to the user
 * directory (as the admin) if missing: the server refuses tokens of users it does not know.
 */
export async function tokenAs(h: Harness, sub: string, scopes?: string[]): Promise<string> {
  if (sub.startsWith("user:")) {
    const r = await h.call("POST", "/warrant/v1/users", { body: { email: sub.slice(5) } });
    if (r.status !== 200 && r.status !== 409) throw new Error(`cannot create ${sub}: ${r.text}`);
  }
  const issuer = JSON.parse(Buffer.from(h.adminToken.split(".")[1]!, "base64url").toString()).iss;
  return mintWithServerKey(h, issuer, Date.now(), sub, scopes);
}

/** Every byte the datastore holds on disk: the database file and its write-ahead log. */
export function datastoreBytes(h: Harness): Buffer {
  const parts = ["warrant.db", "warrant.db-wal"].map((f) => join(h.stateDir, f)).filter((f) => existsSync(f));
  return Buffer.concat(parts.map((f) => readFileSync(f)));
}
