/** `warrant serve` as a child process: for tests of signals, locks and process-level limits. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), "../../.."), "bin", "warrant.cjs");

export interface ServeProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string | null>;
  /** server.json once the banner is printed. */
  ready(timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnServe(
  stateDir: string,
  args: string[] = [],
  env: Record<string, string> = {},
  /** Runs the server under this open-file limit (`ulimit -n`), to keep load tests proportionate. */
  openFiles?: number,
): ServeProcess {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("WARRANT_")) clean[k] = v;
  const argv = [BIN, "serve", "--state-dir", stateDir, "--port", "0", ...args];
  const opts = { env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] as ("ignore" | "pipe")[] };
  const child =
    openFiles === undefined
      ? spawn(process.execPath, argv, opts)
      : spawn("sh", ["-c", `ulimit -n ${openFiles} && exec "$0" "$@"`, process.execPath, ...argv], opts);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | string | null>((r) =>
    child.once("exit", (code, signal) => r(code ?? signal)),
  );
  return {
    child,
    output: () => out,
    exited,
    async ready(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!out.includes("Press Ctrl-C to stop.")) {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`serve exited ${child.exitCode ?? child.signalCode}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`serve did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const file = join(stateDir, "server.json");
      if (!existsSync(file)) throw new Error(`no server.json after the banner:\n${out}`);
      return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    },
    kill(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** A refresh-token mint at `url` with the administrator credential a `warrant serve` wrote. */
export function mintWithAdminCredential(url: string, credentialFile: string): Promise<Response> {
  const cred = JSON.parse(readFileSync(credentialFile, "utf8"));
  return fetch(`${url}/token`, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "refresh_token",
      client_id: cred.client_id,
      client_secret: cred.client_secret,
      refresh_token: cred.refresh_token,
    }),
  });
}
