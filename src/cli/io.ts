export interface Writer {
  write(chunk: string): unknown;
}

export type Env = Record<string, string | undefined>;

/** Everything a command touches outside itself, injectable for tests. */
export interface Runtime {
  stdout: Writer;
  stderr: Writer;
  env: Env;
  cwd: string;
  fetch: typeof fetch;
  /** Whether stdin is an interactive terminal (prompts are skipped otherwise). */
  stdinIsTTY: boolean;
  /** Asks a yes/no question on the terminal; only called when stdinIsTTY. */
  confirm?: (question: string) => Promise<boolean>;
  /** Asks for a secret on the terminal without echoing it; only called when stdinIsTTY. */
  promptSecret?: (question: string) => Promise<string>;
  /** All of standard input (a password piped in); only called when stdin is not a terminal. */
  readStdin?: () => Promise<string>;
}

export function isDebug(env: Env): boolean {
  const v = env.WARRANT_DEBUG;
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}
