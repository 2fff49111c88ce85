import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCommandLine, resolveCommand } from "../../src/cli/args.js";
import { UsageError } from "../../src/cli/errors.js";
import type { CommandSpec, GroupSpec, Node } from "../../src/cli/spec.js";
import { editDistance } from "../../src/cli/suggest.js";
import { ROOT } from "../../src/cli/tree.js";
import { runCli } from "./helpers.js";

function cmd(path: string[]): CommandSpec {
  const r = resolveCommand(ROOT, path);
  assert.equal(r.node.kind, "command");
  return r.node as CommandSpec;
}

describe("command resolution", () => {
  it("walks groups to the command and keeps the other tokens", () => {
    const r = resolveCommand(ROOT, [
      "--project",
      "p1",
      "projects",
      "add-iam-policy-binding",
      "p2",
      "--role=roles/x",
    ]);
    assert.deepEqual(r.path, ["projects", "add-iam-policy-binding"]);
    assert.deepEqual(r.rest, ["--project", "p1", "p2", "--role=roles/x"]);
  });

  it("stops at a group when no command follows", () => {
    const r = resolveCommand(ROOT, ["iam", "service-accounts"]);
    assert.equal(r.node.kind, "group");
    assert.deepEqual(r.path, ["iam", "service-accounts"]);
  });

  it("suggests the closest command for a typo", () => {
    assert.throws(
      () => resolveCommand(ROOT, ["projects", "lsit"]),
      (e: unknown) => e instanceof UsageError && /'lsit'.*warrant projects list/.test(e.message),
    );
    assert.throws(
      () => resolveCommand(ROOT, ["iam", "service-acounts", "list"]),
      (e: unknown) => e instanceof UsageError && e.message.includes("service-accounts"),
    );
  });

  it("edit distance", () => {
    assert.equal(editDistance("kitten", "sitting"), 3);
    assert.equal(editDistance("", "abc"), 3);
  });
});

describe("flag parsing", () => {
  const add = () => cmd(["projects", "add-iam-policy-binding"]);

  it("parses --flag=value, --flag value, global flags and positionals", () => {
    const p = parseCommandLine(add(), [
      "my-proj",
      "--member",
      "user:a@b.c",
      "--role=roles/viewer",
      "--format=json",
      "-q",
    ]);
    assert.equal(p.help, false);
    assert.deepEqual(p.positionals.get("PROJECT_ID"), ["my-proj"]);
    assert.equal(p.flags.get("member"), "user:a@b.c");
    assert.equal(p.flags.get("role"), "roles/viewer");
    assert.equal(p.flags.get("format"), "json");
    assert.equal(p.flags.get("quiet"), true);
  });

  it("keeps values that contain '=' and values after --", () => {
    const p = parseCommandLine(add(), [
      "--condition=expression=request.time < timestamp('2030-01-01T00:00:00Z'),title=t",
      "--member=user:a@b.c",
      "--role",
      "roles/viewer",
      "--",
      "-weird-id",
    ]);
    assert.equal(
      p.flags.get("condition"),
      "expression=request.time < timestamp('2030-01-01T00:00:00Z'),title=t",
    );
    assert.deepEqual(p.positionals.get("PROJECT_ID"), ["-weird-id"]);
  });

  it("rejects unknown flags with a suggestion", () => {
    assert.throws(
      () => parseCommandLine(add(), ["p", "--membr=user:a@b.c", "--role=roles/x"]),
      (e: unknown) =>
        e instanceof UsageError && e.message === "unrecognized arguments: --membr (did you mean '--member'?)",
    );
  });

  it("requires required flags and positionals, rejects extras", () => {
    assert.throws(
      () => parseCommandLine(add(), ["p", "--role=roles/x"]),
      /argument --member: Must be specified/,
    );
    assert.throws(
      () => parseCommandLine(add(), ["--member=user:a@b.c", "--role=roles/x"]),
      /argument PROJECT_ID/,
    );
    assert.throws(
      () => parseCommandLine(add(), ["p", "q", "--member=user:a@b.c", "--role=roles/x"]),
      /unrecognized arguments: q/,
    );
    assert.throws(() => parseCommandLine(add(), ["p", "--member"]), /expected one argument/);
  });

  it("help short-circuits validation", () => {
    assert.equal(parseCommandLine(add(), ["-h"]).help, true);
    assert.equal(parseCommandLine(add(), ["--help"]).help, true);
  });

  it("boolean flags accept --no- and =true/false; choices are checked", () => {
    const env = cmd(["env"]);
    assert.equal(parseCommandLine(env, ["--gcloud"]).flags.get("gcloud"), true);
    assert.equal(parseCommandLine(env, ["--no-gcloud"]).flags.get("gcloud"), false);
    assert.equal(parseCommandLine(env, ["--gcloud=false"]).flags.get("gcloud"), false);
    const create = cmd(["iam", "roles", "create"]);
    assert.throws(
      () => parseCommandLine(create, ["r", "--permissions=a.b.c", "--stage=SOON"]),
      /Invalid choice: 'SOON'/,
    );
  });

  it("explicit --no-X flags win over negation of X", () => {
    const create = cmd(["compute", "instances", "create"]);
    const p = parseCommandLine(create, ["vm", "--zone=z", "--no-service-account", "--no-scopes"]);
    assert.equal(p.flags.get("no-service-account"), true);
    assert.equal(p.flags.get("no-scopes"), true);
  });
});

describe("help", () => {
  function walk(node: Node, path: string[], out: string[][]) {
    out.push(path);
    if (node.kind === "group") for (const c of node.children) walk(c, [...path, c.name], out);
  }

  it("every group and command has --help with usage and (for commands) an example", async () => {
    const paths: string[][] = [];
    walk(ROOT as GroupSpec, [], paths);
    assert.ok(paths.length > 30);
    for (const p of paths) {
      const r = await runCli([...p, "--help"]);
      assert.equal(r.code, 0, `warrant ${p.join(" ")} --help`);
      assert.match(r.stdout, /^NAME\n {4}warrant/);
      assert.match(r.stdout, /SYNOPSIS/);
      const node = resolveCommand(ROOT, p).node;
      if (node.kind === "command") {
        assert.match(r.stdout, /EXAMPLES\n {4}\$ \S/, p.join(" "));
        assert.ok(node.examples.length > 0);
      } else assert.match(r.stdout, /COMMANDS|GROUPS/);
    }
  });

  it("`warrant help` lists every command", async () => {
    const r = await runCli(["help"]);
    assert.equal(r.code, 0);
    for (const c of [
      "warrant serve",
      "warrant env",
      "warrant projects add-iam-policy-binding",
      "warrant iam service-accounts create",
      "warrant iam roles describe",
      "warrant compute instances create",
      "warrant auth print-access-token",
      "warrant config set",
    ]) {
      assert.ok(r.stdout.includes(c), c);
    }
    const one = await runCli(["help", "compute", "instances", "create"]);
    assert.match(one.stdout, /--scopes=SCOPE/);
  });

  it("a group without a command, an unknown command or flag exits 2 with a named error", async () => {
    let r = await runCli([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ERROR: \(warrant\) Command name argument expected/);
    r = await runCli(["projcts", "list"]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /ERROR: \(warrant\) Invalid choice: 'projcts'\. Did you mean 'warrant projects'\?/,
    );
    r = await runCli(["projects", "list", "--fromat=json"]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /ERROR: \(warrant\.projects\.list\) unrecognized arguments: --fromat \(did you mean '--format'\?\)/,
    );
    assert.match(r.stderr, /Usage: warrant projects list/);
    r = await runCli(["projects", "list", "--format=xml"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Format \[xml\] is not valid/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, "no stack trace");
  });
});
