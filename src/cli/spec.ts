import type { Runtime } from "./io.js";
import type { Printer } from "./output.js";
import type { Session } from "./session.js";

export interface FlagSpec {
  /** Long name without the leading dashes, e.g. "display-name". */
  name: string;
  type: "string" | "boolean";
  help: string;
  /** Placeholder shown in help, e.g. "DISPLAY_NAME". Defaults to the upper-cased name. */
  metavar?: string;
  required?: boolean;
  /** Single-letter alias, e.g. "q" for -q. */
  short?: string;
  choices?: readonly string[];
}

export interface PositionalSpec {
  name: string;
  help: string;
  optional?: boolean;
  /** Takes all remaining positional arguments (only the last positional). */
  variadic?: boolean;
}

export interface CommandContext {
  /** Command path below `warrant`, e.g. ["projects", "get-iam-policy"]. */
  path: string[];
  rt: Runtime;
  session: Session;
  out: Printer;
  /** Positional value (required positionals are guaranteed present). */
  arg(name: string): string;
  optArg(name: string): string | undefined;
  args(name: string): string[];
  str(name: string): string | undefined;
  bool(name: string): boolean;
  /** Writes a status line to stderr (gcloud prints progress and "Updated ..." there). */
  status(line: string): void;
}

export interface CommandSpec {
  kind: "command";
  name: string;
  /** One line, lower-case start, no trailing period (like gcloud's short help). */
  summary: string;
  description?: string;
  positionals?: PositionalSpec[];
  flags?: FlagSpec[];
  examples: string[];
  run(ctx: CommandContext): Promise<number>;
}

export interface GroupSpec {
  kind: "group";
  name: string;
  summary: string;
  description?: string;
  children: Node[];
}

export type Node = CommandSpec | GroupSpec;

export function command(spec: Omit<CommandSpec, "kind">): CommandSpec {
  return { kind: "command", ...spec };
}

export function group(spec: Omit<GroupSpec, "kind">): GroupSpec {
  return { kind: "group", ...spec };
}

/** Flags accepted by every command, as in gcloud. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  {
    name: "project",
    type: "string",
    metavar: "PROJECT_ID",
    help: "Project to use; overrides WARRANT_PROJECT, CLOUDSDK_CORE_PROJECT and the `project` config property.",
  },
  {
    name: "format",
    type: "string",
    metavar: "FORMAT",
    help: "Output format: json, yaml, table, table(FIELD,...), value(FIELD,...), csv(FIELD,...) or none.",
  },
  {
    name: "endpoint",
    type: "string",
    metavar: "URL",
    help: "Warrant server URL; overrides WARRANT_ENDPOINT, the `endpoint` property and <state-dir>/server.json.",
  },
  {
    name: "credential-file",
    type: "string",
    metavar: "FILE",
    help: "authorized_user credential or service-account key file (JSON); overrides WARRANT_CREDENTIAL_FILE and the server's admin credential.",
  },
  {
    name: "impersonate-service-account",
    type: "string",
    metavar: "EMAIL",
    help: "Act as this service account: the credential mints a short-lived token for it (needs roles/iam.serviceAccountTokenCreator on it). Also WARRANT_IMPERSONATE_SERVICE_ACCOUNT.",
  },
  {
    name: "state-dir",
    type: "string",
    metavar: "DIR",
    help: "Server state directory (default WARRANT_STATE_DIR or ./.warrant), used to find server.json.",
  },
  { name: "quiet", short: "q", type: "boolean", help: "Disable all interactive prompts." },
  { name: "help", short: "h", type: "boolean", help: "Show help for this command and exit." },
];

/** Global flags that consume a value, needed to find the command path before the command is known. */
export const GLOBAL_VALUE_FLAGS = new Set(GLOBAL_FLAGS.filter((f) => f.type === "string").map((f) => f.name));

export function metavar(f: FlagSpec): string {
  return f.metavar ?? f.name.toUpperCase().replace(/-/g, "_");
}
