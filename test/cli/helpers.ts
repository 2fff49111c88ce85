import type { Env, Runtime } from "../../src/cli/io.js";
import { run } from "../../src/cli/main.js";

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with captured output and an isolated environment. */
export async function runCli(
  argv: string[],
  opts: { env?: Env; cwd?: string; fetch?: typeof fetch; stdin?: string } = {},
): Promise<Captured> {
  let stdout = "";
  let stderr = "";
  const rt: Runtime = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: opts.env ?? {},
    cwd: opts.cwd ?? process.cwd(),
    fetch: opts.fetch ?? globalThis.fetch,
    stdinIsTTY: false,
    ...(opts.stdin !== undefined ? { readStdin: async () => opts.stdin! } : {}),
  };
  const code = await run(argv, rt);
  return { code, stdout, stderr };
}
