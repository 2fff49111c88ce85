import { resolveCommand } from "../args.js";
import { help, treeListing } from "../help.js";
import { type CommandSpec, command, type GroupSpec } from "../spec.js";

export function makeHelpCommand(root: () => GroupSpec): CommandSpec {
  return command({
    name: "help",
    summary: "list every command, or show help for one (same as COMMAND --help)",
    positionals: [
      {
        name: "COMMAND",
        help: "Command path, e.g. `projects add-iam-policy-binding`.",
        optional: true,
        variadic: true,
      },
    ],
    examples: ["warrant help", "warrant help iam service-accounts create"],
    async run(ctx) {
      const words = ctx.args("COMMAND");
      if (words.length === 0) {
        ctx.rt.stdout.write(treeListing(root()));
        return 0;
      }
      const { path, node } = resolveCommand(root(), words);
      ctx.rt.stdout.write(help(path, node));
      return 0;
    },
  });
}
