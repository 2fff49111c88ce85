import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { CliError, UsageError } from "./errors.js";
import type { Env } from "./io.js";
import { closest } from "./suggest.js";

export const PROPERTIES = {
  project: "Default project for commands that need one.",
  endpoint: "Warrant server URL, e.g. http://127.0.0.1:8080.",
  credential_file: "Path of the authorized_user credential JSON used to obtain access tokens.",
} as const;

export type Property = keyof typeof PROPERTIES;
export type Config = Partial<Record<Property, string>>;

export function configDir(env: Env): string {
  if (env.WARRANT_CONFIG_DIR) return resolve(env.WARRANT_CONFIG_DIR);
  if (env.XDG_CONFIG_HOME) return join(resolve(env.XDG_CONFIG_HOME), "warrant");
  return join(env.HOME || homedir(), ".config", "warrant");
}

export function configFile(env: Env): string {
  return join(configDir(env), "config.json");
}

export function checkProperty(name: string): Property {
  // gcloud spells these core/project etc.; accept that form too.
  const bare = name.replace(/^core\//, "").replace(/-/g, "_");
  if (bare in PROPERTIES) return bare as Property;
  const guess = closest(bare, Object.keys(PROPERTIES));
  throw new UsageError(
    `Invalid property [${name}].` + (guess ? ` Did you mean [${guess}]?` : ""),
    `Valid properties: ${Object.keys(PROPERTIES).join(", ")}.`,
  );
}

export function readConfig(env: Env): Config {
  const file = configFile(env);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`Cannot read config file ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new CliError(
      `Config file ${file} is not valid JSON.`,
      "Fix or delete it, then re-run `warrant config set`.",
    );
  }
  const out: Config = {};
  if (data && typeof data === "object") {
    for (const k of Object.keys(PROPERTIES) as Property[]) {
      const v = (data as Record<string, unknown>)[k];
      if (typeof v === "string" && v !== "") out[k] = v;
    }
  }
  return out;
}

export function writeConfig(env: Env, config: Config): string {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, "config.json");
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, file);
  return file;
}

/** Normalizes a property value before it is stored. */
export function normalizeProperty(prop: Property, value: string, cwd: string): string {
  if (prop === "credential_file") return isAbsolute(value) ? value : resolve(cwd, value);
  if (prop === "endpoint") {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new UsageError(`Invalid value for [endpoint]: '${value}' is not a URL.`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new UsageError(`Invalid value for [endpoint]: use an http:// or https:// URL.`);
    }
    return value.replace(/\/+$/, "");
  }
  return value;
}
