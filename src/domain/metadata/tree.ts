/**
 * The metadata tree an instance sees at `/computeMetadata/v1/`, and its renderings exactly as
 * Compute Engine's metadata server produces them: listings (one child per line, `/` after
 * directories), text leaves, and `recursive=true` JSON with Google's keys in camelCase, user keys
 * verbatim, and 64-bit integers written from their decimal strings (never through a JS number).
 * Pure: built from an InstanceView, no I/O.
 */
import { createHash } from "node:crypto";

/** A leaf value: text, an integer kept as its decimal string, a boolean, or a list of strings. */
export type Leaf =
  | { kind: "text"; value: string }
  | { kind: "int"; value: string }
  | { kind: "bool"; value: boolean }
  | { kind: "list"; value: string[] }
  | { kind: "json"; value: unknown };

export interface Dir {
  kind: "dir";
  /** Children by path segment. */
  children: Map<string, Node>;
  /** Keys chosen by users (attributes, account e-mails) keep their spelling in recursive JSON. */
  userKeys?: boolean;
  /** Token and identity are endpoints, not data: listed, but never part of recursive output. */
  endpoints?: Set<string>;
}

export type Node = Leaf | Dir;

export const text = (value: string): Leaf => ({ kind: "text", value });
export const int = (value: string | number): Leaf => ({ kind: "int", value: String(value) });
export const bool = (value: boolean): Leaf => ({ kind: "bool", value });
export const list = (value: string[]): Leaf => ({ kind: "list", value });
export function dir(
  entries: Record<string, Node>,
  opts: { userKeys?: boolean; endpoints?: string[] } = {},
): Dir {
  return {
    kind: "dir",
    children: new Map(Object.entries(entries)),
    ...(opts.userKeys ? { userKeys: true } : {}),
    ...(opts.endpoints ? { endpoints: new Set(opts.endpoints) } : {}),
  };
}

/** Resolves a path below the root (segments already split and decoded). */
export function lookup(root: Dir, segments: readonly string[]): Node | undefined {
  let node: Node = root;
  for (const s of segments) {
    if (node.kind !== "dir") return undefined;
    const next: Node | undefined = node.children.get(s);
    if (!next) return undefined;
    node = next;
  }
  return node;
}

export function listing(d: Dir): string {
  const names = [...d.children.keys()].sort();
  return (
    names.map((n) => (d.children.get(n)!.kind === "dir" ? `${n}/` : n)).join("\n") +
    (names.length ? "\n" : "")
  );
}

export function leafText(l: Leaf): string {
  switch (l.kind) {
    case "text":
    case "int":
      return l.value;
    case "bool":
      return l.value ? "TRUE" : "FALSE";
    case "list":
      return l.value.map((v) => `${v}\n`).join("");
    case "json":
      return JSON.stringify(l.value);
  }
}

const camel = (k: string) => k.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** JSON of a node; integers are written from their decimal strings, so 64-bit ids stay exact. */
export function toJson(node: Node): string {
  switch (node.kind) {
    case "text":
      return JSON.stringify(node.value);
    case "int":
      return /^-?\d+$/.test(node.value) ? node.value : JSON.stringify(node.value);
    case "bool":
      return node.value ? "true" : "false";
    case "list":
      return JSON.stringify(node.value);
    case "json":
      return JSON.stringify(node.value);
    case "dir": {
      const parts: string[] = [];
      for (const name of [...node.children.keys()].sort()) {
        if (node.endpoints?.has(name)) continue;
        const key = node.userKeys ? name : camel(name);
        parts.push(`${JSON.stringify(key)}:${toJson(node.children.get(name)!)}`);
      }
      return `{${parts.join(",")}}`;
    }
  }
}

/** `alt=text` of a recursive directory: one `path value` line per leaf. */
export function toRecursiveText(node: Node, prefix = ""): string {
  if (node.kind !== "dir") return `${prefix}${prefix ? " " : ""}${leafText(node).replace(/\n$/, "")}\n`;
  let out = "";
  for (const name of [...node.children.keys()].sort()) {
    if (node.endpoints?.has(name)) continue;
    out += toRecursiveText(node.children.get(name)!, prefix ? `${prefix}/${name}` : name);
  }
  return out;
}

/** GCE-style ETag: 16 lowercase hex characters, changing exactly when the rendering changes. */
export function etagOf(rendering: string): string {
  return createHash("md5").update(rendering).digest("hex").slice(-16);
}
