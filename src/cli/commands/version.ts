import { readFileSync } from "node:fs";
import { command } from "../spec.js";

export function cliVersion(): string {
  try {
    // dist/src/cli/commands/version.js -> package.json at the repository root.
    const pkg = JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export default command({
  name: "version",
  summary: "print the version of warrant",
  examples: ["warrant version"],
  async run(ctx) {
    ctx.rt.stdout.write(`warrant ${cliVersion()}\n`);
    return 0;
  },
});
