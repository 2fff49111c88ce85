import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { CliError } from "../../errors.js";
import { command } from "../../spec.js";
import { USER_POSITIONAL, userPath } from "./target.js";

/** One trailing line break is the file's or the pipe's, not the password's. */
const chomp = (s: string) => s.replace(/\r?\n$/, "");

export default command({
  name: "set-password",
  summary: "set the password a user signs in with in the browser",
  description:
    "Sets (or replaces) the password EMAIL signs in with at this server's sign-in page " +
    "(POST /warrant/v1/users/EMAIL:setPassword, which needs resourcemanager.projects.setIamPolicy on the " +
    "organization). The password is never a flag value (it would be visible in the process list and shell " +
    "history): it is read from --password-file, else from standard input when that is not a terminal, else " +
    "asked for twice on the terminal without echo. At least 8 characters. The server keeps only a scrypt " +
    "hash, and a new password ends the user's browser sign-in sessions. See docs/sign-in.md.",
  positionals: [USER_POSITIONAL],
  flags: [
    {
      name: "password-file",
      type: "string",
      metavar: "PATH",
      help: "Read the password from this file (one trailing newline is ignored).",
    },
  ],
  examples: [
    "warrant users set-password alice@example.com",
    "warrant users set-password alice@example.com --password-file=./alice.pw",
    "printf '%s' \"$PW\" | warrant users set-password alice@example.com",
  ],
  async run(ctx) {
    const email = ctx.arg("EMAIL");
    const file = ctx.str("password-file");
    let password: string;
    if (file !== undefined) {
      const path = isAbsolute(file) ? file : resolve(ctx.rt.cwd, file);
      try {
        password = chomp(readFileSync(path, "utf8"));
      } catch (e) {
        throw new CliError(`Cannot read --password-file ${path}: ${(e as Error).message}`);
      }
    } else if (!ctx.rt.stdinIsTTY) {
      if (!ctx.rt.readStdin)
        throw new CliError(
          "No password given.",
          "Pass --password-file, or pipe the password on standard input.",
        );
      password = chomp(await ctx.rt.readStdin());
    } else {
      if (!ctx.rt.promptSecret)
        throw new CliError("Cannot prompt for a password here; pass --password-file.");
      password = await ctx.rt.promptSecret(`New password for ${email}: `);
      const again = await ctx.rt.promptSecret("Repeat it: ");
      if (again !== password) throw new CliError("The two passwords differ; nothing was changed.");
    }
    if (password === "") throw new CliError("The password is empty; nothing was changed.");
    await ctx.session.api().request("POST", `${userPath(email)}:setPassword`, { body: { password } });
    ctx.status(`Set the password of user [${email.toLowerCase()}].`);
    return 0;
  },
});
