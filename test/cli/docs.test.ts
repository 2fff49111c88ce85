/** docs/cli.md documents every command the CLI has, and every command answers --help. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { runCli } from "./helpers.js";

function commandPaths(helpText: string): string[] {
  const out: string[] = [];
  let section = "";
  for (const line of helpText.split("\n")) {
    if (/^[A-Z]+$/.test(line.trim())) section = line.trim();
    const m = /^ {4}([a-z][a-z0-9-]*)\s{2,}/.exec(line);
    if (m && (section === "GROUPS" || section === "COMMANDS")) out.push(`${section}:${m[1]}`);
  }
  return out;
}

test("every command is documented in docs/cli.md and has --help", async () => {
  const doc = readFileSync(new URL("../../../docs/cli.md", import.meta.url), "utf8");
  const queue: string[][] = [[]];
  const commands: string[] = [];
  while (queue.length) {
    const path = queue.shift()!;
    const help = await runCli([...path, "--help"]);
    assert.equal(help.code, 0, `${path.join(" ")} --help: ${help.stderr}`);
    for (const entry of commandPaths(help.stdout)) {
      const [kind, name] = entry.split(":") as [string, string];
      if (kind === "GROUPS") queue.push([...path, name]);
      else commands.push([...path, name].join(" "));
    }
  }
  assert.ok(commands.length > 30, `found only ${commands.length} commands`);
  for (const c of commands) assert.ok(doc.includes(`\`warrant ${c}\``), `docs/cli.md lacks \`warrant ${c}\``);
});
