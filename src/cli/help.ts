import { type CommandSpec, type FlagSpec, GLOBAL_FLAGS, type GroupSpec, metavar, type Node } from "./spec.js";

function wrap(text: string, indent: string, width = 100): string {
  const out: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && indent.length + line.length + 1 + word.length > width) {
        out.push(indent + line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line ? indent + line : "");
  }
  return out.join("\n");
}

function flagUsage(f: FlagSpec): string {
  return f.type === "boolean" ? `--${f.name}` : `--${f.name}=${metavar(f)}`;
}

export function synopsis(path: string[], spec: CommandSpec): string {
  const parts = ["warrant", ...path];
  for (const p of spec.positionals ?? []) {
    const s = p.variadic ? `${p.name} [${p.name} ...]` : p.name;
    parts.push(p.optional ? `[${s}]` : s);
  }
  for (const f of spec.flags ?? []) parts.push(f.required ? flagUsage(f) : `[${flagUsage(f)}]`);
  parts.push("[GLOBAL-FLAG ...]");
  return parts.join(" ");
}

export function commandHelp(path: string[], spec: CommandSpec): string {
  const name = ["warrant", ...path].join(" ");
  const s: string[] = [];
  s.push("NAME", `    ${name} - ${spec.summary}`, "");
  s.push("SYNOPSIS", wrap(synopsis(path, spec), "    "), "");
  if (spec.description) s.push("DESCRIPTION", wrap(spec.description, "    "), "");
  if (spec.positionals?.length) {
    s.push("POSITIONAL ARGUMENTS");
    for (const p of spec.positionals) s.push(`    ${p.name}`, wrap(p.help, "        "), "");
  }
  const own = spec.flags ?? [];
  if (own.length) {
    s.push("FLAGS");
    for (const f of own) {
      const req = f.required ? " (required)" : "";
      const choices = f.choices ? ` One of: ${f.choices.join(", ")}.` : "";
      s.push(`    ${flagUsage(f)}${req}`, wrap(f.help + choices, "        "), "");
    }
  }
  s.push("GLOBAL FLAGS");
  for (const f of GLOBAL_FLAGS) {
    const short = f.short ? `-${f.short}, ` : "";
    s.push(`    ${short}${flagUsage(f)}`, wrap(f.help, "        "));
  }
  s.push("");
  if (spec.examples.length) {
    s.push("EXAMPLES");
    for (const e of spec.examples) s.push(`    $ ${e}`);
    s.push("");
  }
  return s.join("\n");
}

export function groupHelp(path: string[], g: GroupSpec): string {
  const name = ["warrant", ...path].join(" ");
  const s: string[] = [];
  s.push("NAME", `    ${name} - ${g.summary}`, "");
  const groups = g.children.filter((c) => c.kind === "group");
  const commands = g.children.filter((c) => c.kind === "command");
  const what = [groups.length ? "GROUP" : "", commands.length ? "COMMAND" : ""].filter(Boolean).join(" | ");
  s.push("SYNOPSIS", `    ${name} ${what} [GLOBAL-FLAG ...]`, "");
  if (g.description) s.push("DESCRIPTION", wrap(g.description, "    "), "");
  const width = Math.max(...g.children.map((c) => c.name.length)) + 4;
  if (groups.length) {
    s.push("GROUPS");
    for (const c of groups) s.push(`    ${c.name.padEnd(width)}${c.summary}`);
    s.push("");
  }
  if (commands.length) {
    s.push("COMMANDS");
    for (const c of commands) s.push(`    ${c.name.padEnd(width)}${c.summary}`);
    s.push("");
  }
  s.push(`Run \`${name} ${groups.length ? "GROUP" : "COMMAND"} --help\` for details.`, "");
  return s.join("\n");
}

export function help(path: string[], node: Node): string {
  return node.kind === "group" ? groupHelp(path, node) : commandHelp(path, node);
}

/** Every command in the tree with its summary (`warrant help`). */
export function treeListing(root: GroupSpec): string {
  const rows: [string, string][] = [];
  const walk = (node: Node, path: string[]) => {
    if (node.kind === "command") {
      rows.push([["warrant", ...path].join(" "), node.summary]);
      return;
    }
    for (const c of node.children) walk(c, [...path, c.name]);
  };
  walk(root, []);
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  return [
    `warrant - ${root.summary}`,
    "",
    "COMMANDS",
    ...rows.map(([n, d]) => `    ${n.padEnd(width)}${d}`),
    "",
    "Every command accepts --help. Global flags: " + GLOBAL_FLAGS.map((f) => "--" + f.name).join(", ") + ".",
    "",
  ].join("\n");
}
