/**
 * One live `warrant serve` per state directory, enforced by the kernel: `serve.lock` is a SQLite
 * database held in exclusive locking mode with a write made, so its POSIX lock lasts as long as the
 * process and dies with it (even on `kill -9`). No pid is trusted: a pid in `server.json` may have
 * been reused by an unrelated process.
 */
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import Database from "better-sqlite3";

export const LOCK_FILE = "serve.lock";

export class StateDirLocked extends Error {}

export interface StateDirLock {
  release(): void;
}

/** The pid holding a POSIX lock on `file`, from the kernel's lock table (Linux); undefined elsewhere. */
function lockHolder(file: string): number | undefined {
  try {
    const { ino } = statSync(file);
    for (const line of readFileSync("/proc/locks", "utf8").split("\n")) {
      // "1: POSIX  ADVISORY  WRITE 12345 08:01:1234567 1073741824 1073741824"
      const f = line.trim().split(/\s+/);
      const at = f.indexOf("POSIX");
      if (at < 0) continue;
      const pid = Number(f[at + 3]);
      const inode = Number(f[at + 4]?.split(":")[2]);
      if (inode === ino && pid > 0) return pid;
    }
  } catch {
    // No /proc (not Linux): the message does without the pid.
  }
  return undefined;
}

export function lockStateDir(stateDir: string): StateDirLock {
  const file = resolve(stateDir, LOCK_FILE);
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER, since TEXT)");
    // The write takes the exclusive lock; in exclusive locking mode it is kept until close.
    db.prepare("DELETE FROM holder").run();
    db.prepare("INSERT INTO holder VALUES (?, ?)").run(process.pid, new Date().toISOString());
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code?.startsWith("SQLITE_BUSY")) {
      const pid = lockHolder(file);
      throw new StateDirLocked(
        `another warrant serve${pid ? ` (pid ${pid})` : ""} is using ${stateDir} (it holds ${file}); ` +
          "stop it first or pass a different --state-dir",
      );
    }
    throw err;
  }
  return { release: () => db.close() };
}
