import { createInterface } from "node:readline/promises";
import { AdcError, CredentialError } from "../client/index.js";
import { parseCommandLine, resolveCommand } from "./args.js";
import { ApiError, CliError, hintForApiError, UsageError } from "./errors.js";
import { groupHelp, help, synopsis } from "./help.js";
import { isDebug, type Runtime } from "./io.js";
import { Printer } from "./output.js";
import { Session } from "./session.js";
import type { CommandContext, Node } from "./spec.js";
import { ROOT } from "./tree.js";

function defaultRuntime(): Runtime {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    fetch: globalThis.fetch,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    confirm: async (question: string) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await rl.question(`${question} (Y/n)?  `);
        return !/^n/i.test(answer.trim());
      } finally {
        rl.close();
      }
    },
    promptSecret: (question: string) => promptSecret(question),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
  };
}

/** Reads a line from the terminal in raw mode, echoing nothing. */
function promptSecret(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((ok, fail) => {
    let buf = "";
    const done = (err?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (err) fail(err);
      else ok(buf);
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(new CliError("Aborted by user."));
        if (ch === "\u007f" || ch === "\b") buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}

/** Prints an error the way gcloud does and returns the exit code. */
export function reportError(e: unknown, path: string[], rt: Runtime, node?: Node): number {
  const where = `(${["warrant", ...path].join(".")})`;
  const say = (line: string) => rt.stderr.write(`ERROR: ${where} ${line}\n`);
  if (e instanceof UsageError) {
    say(e.message);
    if (e.hint) rt.stderr.write(`Hint: ${e.hint}\n`);
    if (node?.kind === "command") rt.stderr.write(`Usage: ${synopsis(path, node)}\n`);
    return 2;
  }
  if (e instanceof ApiError) {
    say(`${e.httpStatus} ${e.message}`);
    const hint = hintForApiError(e);
    if (hint) rt.stderr.write(`Hint: ${hint}\n`);
    if (isDebug(rt.env))
      rt.stderr.write(`DEBUG: ${e.method} ${e.url} status=${e.status} reason=${e.reason}\n`);
    return 1;
  }
  if (e instanceof CliError) {
    say(e.message);
    if (e.hint) rt.stderr.write(`Hint: ${e.hint}\n`);
    if (isDebug(rt.env) && e.stack) rt.stderr.write(`${e.stack}\n`);
    return e.exitCode;
  }
  if (e instanceof CredentialError || e instanceof AdcError) {
    say(e.message);
    return 1;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  say(err.message);
  if (isDebug(rt.env)) rt.stderr.write(`${err.stack ?? ""}\n`);
  else rt.stderr.write("Hint: this looks like a bug in warrant; re-run with WARRANT_DEBUG=1 for details.\n");
  return 1;
}

/** Runs one CLI invocation against an injectable runtime; returns the exit code. */
export async function run(argv: string[], rt: Runtime): Promise<number> {
  let path: string[] = [];
  let node: Node | undefined;
  try {
    const resolved = resolveCommand(ROOT, argv);
    path = resolved.path;
    node = resolved.node;
    const parsed = parseCommandLine(node.kind === "command" ? node : undefined, resolved.rest);
    if (parsed.help) {
      rt.stdout.write(help(path, node));
      return 0;
    }
    if (node.kind === "group") {
      rt.stderr.write(`ERROR: (${["warrant", ...path].join(".")}) Command name argument expected.\n\n`);
      rt.stderr.write(groupHelp(path, node));
      return 2;
    }
    const spec = node;
    const fmt = parsed.flags.get("format");
    const out = new Printer(rt.stdout, rt.stderr, typeof fmt === "string" ? fmt : undefined);
    const session = new Session(rt, parsed.flags);
    const ctx: CommandContext = {
      path,
      rt,
      session,
      out,
      arg: (name) => {
        const v = parsed.positionals.get(name)?.[0];
        if (v === undefined) throw new UsageError(`argument ${name}: Must be specified.`);
        return v;
      },
      optArg: (name) => parsed.positionals.get(name)?.[0],
      args: (name) => parsed.positionals.get(name) ?? [],
      str: (name) => {
        const v = parsed.flags.get(name);
        return typeof v === "string" ? v : undefined;
      },
      bool: (name) => parsed.flags.get(name) === true,
      status: (line) => rt.stderr.write(line + "\n"),
    };
    return await spec.run(ctx);
  } catch (e) {
    return reportError(e, path, rt, node);
  }
}

export async function main(argv: string[]): Promise<number> {
  return run(argv, defaultRuntime());
}
