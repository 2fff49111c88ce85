/** Shared by the PostgreSQL tests: where the test server is, and whether it may be skipped. */
import pg from "pg";

/** The test server's maintenance database (its `test` database, user postgres, trust auth). */
export const adminUrl = () =>
  process.env.WARRANT_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export async function withDatabase<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * Why the PostgreSQL tests cannot run, or undefined when they can. In CI they always run: an
 * unreachable server there is a failure, not a skip.
 */
export async function postgresUnavailable(): Promise<string | undefined> {
  if (process.env.CI) return undefined;
  try {
    await withDatabase(adminUrl(), (c) => c.query("SELECT 1"));
    return undefined;
  } catch (err) {
    return `PostgreSQL is unreachable at ${adminUrl()} (${(err as Error).message}); CI is not set, so skipping`;
  }
}

/** A fresh database for one test run, and its removal. */
export async function createTestDatabase(name: string): Promise<string> {
  await withDatabase(adminUrl(), (c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

export async function dropTestDatabase(name: string): Promise<void> {
  await withDatabase(adminUrl(), (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
