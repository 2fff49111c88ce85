#!/usr/bin/env node
// Generates src/domain/iam/predefined-roles.generated.json from the vendored role facts
// (../shared/data/gcp-roles.json by default), plus scripts/roles-supplement.json: roles and
// permissions the source's filter left out that Warrant itself checks (monitoring, for /metrics).
// The output is committed: Warrant never reads ../shared at run time. Re-run after updating the
// source data: `npm run gen:roles [-- SRC]`.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = resolve(process.argv[2] ?? resolve(root, "../shared/data/gcp-roles.json"));
const out = resolve(root, "src/domain/iam/predefined-roles.generated.json");

const data = JSON.parse(readFileSync(src, "utf8"));
if (!data.roles || typeof data.roles !== "object") throw new Error(`${src}: no "roles" object`);
const supplement = JSON.parse(readFileSync(resolve(root, "scripts/roles-supplement.json"), "utf8"));
for (const [name, role] of Object.entries(supplement.roles ?? {})) {
  if (data.roles[name])
    throw new Error(`supplement role ${name} is in the source already: drop it from the supplement`);
  data.roles[name] = role;
}
for (const [name, permissions] of Object.entries(supplement.addPermissions ?? {})) {
  if (!data.roles[name]) throw new Error(`supplement adds permissions to ${name}, which the source lacks`);
  data.roles[name] = {
    ...data.roles[name],
    includedPermissions: [...data.roles[name].includedPermissions, ...permissions],
  };
}

const roles = Object.keys(data.roles)
  .sort()
  .map((name) => {
    const r = data.roles[name];
    if (!name.startsWith("roles/")) throw new Error(`role ${name}: name must start with roles/`);
    if (!Array.isArray(r.includedPermissions)) throw new Error(`role ${name}: includedPermissions missing`);
    return {
      name,
      title: String(r.title ?? ""),
      description: String(r.description ?? ""),
      stage: String(r.stage ?? "GA"),
      includedPermissions: [...new Set(r.includedPermissions.map(String))].sort(),
    };
  });

const filter = [data.filter, supplement.filter && `plus ${supplement.filter} (scripts/roles-supplement.json)`]
  .filter(Boolean)
  .join("; ");
const doc = { source: data.source ?? null, filter: filter || null, roles };
writeFileSync(out, `${JSON.stringify(doc, null, 1)}\n`);
console.log(`wrote ${roles.length} roles to ${out}`);
