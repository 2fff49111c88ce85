/**
 * Opens the datastore a `--datastore` value names: `postgres://…` (or `postgresql://…`) for
 * PostgreSQL, `sqlite:PATH` or a plain file path for the embedded SQLite file.
 */
import type { Datastore } from "./datastore.js";
import { SqliteDatastore } from "./sqlite/sqlite-datastore.js";

export const isPostgresUrl = (spec: string) => /^postgres(ql)?:\/\//i.test(spec);

/** Where a spec points, safe to print (a PostgreSQL URL loses its password). */
export function describeDatastore(spec: string): string {
  if (!isPostgresUrl(spec)) return spec.replace(/^sqlite:/, "");
  try {
    const u = new URL(spec);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparseable URL)";
  }
}

export async function openDatastore(
  spec: string,
  options: { log?: (line: string) => void } = {},
): Promise<Datastore> {
  if (isPostgresUrl(spec)) {
    const { PostgresDatastore } = await import("./postgres/postgres-datastore.js");
    return PostgresDatastore.open(spec, options);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec))
    throw new Error(
      `unsupported datastore ${describeDatastore(spec)}: use postgres://USER@HOST:PORT/DATABASE or sqlite:PATH`,
    );
  return new SqliteDatastore(spec.replace(/^sqlite:/, ""));
}
