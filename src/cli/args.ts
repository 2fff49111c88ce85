import { UsageError } from "./errors.js";
import {
  type CommandSpec,
  type FlagSpec,
  GLOBAL_FLAGS,
  GLOBAL_VALUE_FLAGS,
  type GroupSpec,
  type Node,
} from "./spec.js";
import { closest } from "./suggest.js";

export interface Resolved {
  path: string[];
  node: Node;
  /** Tokens that are not part of the command path, in order. */
  rest: string[];
}

/**
 * Walks the command tree along the leading words of argv. Flags may appear anywhere (gcloud allows
 * global flags before the command), so flag tokens, and the values of global value-flags, are skipped.
 */
export function resolveCommand(root: GroupSpec, argv: string[]): Resolved {
  const path: string[] = [];
  const rest: string[] = [];
  let node: Node = root;
  let i = 0;
  for (; i < argv.length && node.kind === "group"; i++) {
    const tok = argv[i]!;
    if (tok === "--") {
      rest.push(...argv.slice(i));
      i = argv.length;
      break;
    }
    if (tok.startsWith("-") && tok !== "-") {
      rest.push(tok);
      const name = tok.replace(/^--?/, "");
      if (
        tok.startsWith("--") &&
        !name.includes("=") &&
        GLOBAL_VALUE_FLAGS.has(name) &&
        i + 1 < argv.length
      ) {
        rest.push(argv[++i]!);
      }
      continue;
    }
    const child: Node | undefined = node.children.find((c) => c.name === tok);
    if (!child) {
      const where = ["warrant", ...path].join(" ");
      const names = node.children.map((c) => c.name);
      const guess = closest(tok, names);
      throw new UsageError(
        `Invalid choice: '${tok}'.` + (guess ? ` Did you mean '${where} ${guess}'?` : ""),
        `Choose from: ${names.join(", ")}. Run \`${where} --help\` for details.`,
      );
    }
    path.push(tok);
    node = child;
  }
  rest.push(...argv.slice(i));
  return { path, node, rest };
}

export interface ParsedCommandLine {
  help: boolean;
  positionals: Map<string, string[]>;
  flags: Map<string, string | boolean>;
}

function flagTable(spec: CommandSpec | undefined): FlagSpec[] {
  return [...(spec?.flags ?? []), ...GLOBAL_FLAGS];
}

/** Parses flags and positionals for one command (or a group, which only takes global flags). */
export function parseCommandLine(spec: CommandSpec | undefined, tokens: string[]): ParsedCommandLine {
  const table = flagTable(spec);
  const byName = new Map(table.map((f) => [f.name, f]));
  const byShort = new Map(table.filter((f) => f.short).map((f) => [f.short!, f]));
  const flags = new Map<string, string | boolean>();
  const loose: string[] = [];
  let onlyPositionals = false;

  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (onlyPositionals || tok === "-" || !tok.startsWith("-")) {
      loose.push(tok);
      continue;
    }
    if (tok === "--") {
      onlyPositionals = true;
      continue;
    }
    let f: FlagSpec | undefined;
    let value: string | undefined;
    let negated = false;
    if (tok.startsWith("--")) {
      const eq = tok.indexOf("=");
      const name = eq >= 0 ? tok.slice(2, eq) : tok.slice(2);
      if (eq >= 0) value = tok.slice(eq + 1);
      f = byName.get(name);
      if (!f && name.startsWith("no-")) {
        const positive = byName.get(name.slice(3));
        if (positive?.type === "boolean") {
          f = positive;
          negated = true;
        }
      }
      if (!f) {
        const guess = closest(
          name,
          table.map((x) => x.name),
        );
        throw new UsageError(
          `unrecognized arguments: --${name}` + (guess ? ` (did you mean '--${guess}'?)` : ""),
          "Run the command with --help to see its flags.",
        );
      }
    } else {
      const letter = tok.slice(1, 2);
      f = byShort.get(letter);
      if (!f || tok.length > 2) {
        throw new UsageError(
          `unrecognized arguments: ${tok}`,
          "Run the command with --help to see its flags.",
        );
      }
    }

    if (f.type === "boolean") {
      if (value !== undefined) {
        if (!/^(true|false)$/i.test(value)) {
          throw new UsageError(`argument --${f.name}: ignored explicit argument '${value}'`);
        }
        flags.set(f.name, negated !== (value.toLowerCase() === "true"));
      } else {
        flags.set(f.name, !negated);
      }
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= tokens.length) throw new UsageError(`argument --${f.name}: expected one argument`);
      value = tokens[++i]!;
    }
    if (f.choices && !f.choices.includes(value)) {
      throw new UsageError(
        `argument --${f.name}: Invalid choice: '${value}'.`,
        `Valid choices are [${f.choices.join(", ")}].`,
      );
    }
    flags.set(f.name, value);
  }

  const help = flags.get("help") === true;
  const positionals = new Map<string, string[]>();
  if (help) return { help, positionals, flags };

  if (!spec) {
    if (loose.length > 0) throw new UsageError(`unrecognized arguments: ${loose.join(" ")}`);
    return { help, positionals, flags };
  }
  const specs = spec.positionals ?? [];
  let k = 0;
  for (const p of specs) {
    if (p.variadic) {
      positionals.set(p.name, loose.slice(k));
      k = loose.length;
      if (!p.optional && positionals.get(p.name)!.length === 0) {
        throw new UsageError(`argument ${p.name}: Must be specified.`);
      }
      continue;
    }
    const v = loose[k];
    if (v === undefined) {
      if (!p.optional) throw new UsageError(`argument ${p.name}: Must be specified.`);
      continue;
    }
    positionals.set(p.name, [v]);
    k++;
  }
  if (k < loose.length) throw new UsageError(`unrecognized arguments: ${loose.slice(k).join(" ")}`);
  for (const f of spec.flags ?? []) {
    if (f.required && !flags.has(f.name)) throw new UsageError(`argument --${f.name}: Must be specified.`);
  }
  return { help, positionals, flags };
}
