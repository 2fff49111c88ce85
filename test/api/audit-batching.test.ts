/**
 * The audit log writes the lines of one event-loop turn together: none is lost on close, rotation
 * or reopen, and their order is kept.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FileAuditSink } from "../../src/server/audit.js";

const lines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { n: number }).n)
    : [];

describe("FileAuditSink batching", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "warrant-audit-batch-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("lines recorded in one turn, then close at once: every line, in order", async () => {
    const file = join(dir, "a.log");
    const sink = new FileAuditSink(file);
    for (let n = 0; n < 5000; n++) sink.record({ n });
    await sink.close();
    assert.deepEqual(
      lines(file),
      Array.from({ length: 5000 }, (_, n) => n),
    );
  });

  test("lines spread over turns are all written, in order", async () => {
    const file = join(dir, "b.log");
    const sink = new FileAuditSink(file);
    for (let n = 0; n < 300; n++) {
      sink.record({ n });
      if (n % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    await sink.close();
    assert.deepEqual(
      lines(file),
      Array.from({ length: 300 }, (_, n) => n),
    );
  });

  test("rotation keeps each line in the file it was counted for, lines of a turn included", async () => {
    const file = join(dir, "c.log");
    // Each line is 9-11 bytes: about 10 lines per file.
    const sink = new FileAuditSink(file, { maxBytes: 100, maxFiles: 50 });
    // Turns of 4 lines; a rotation renames the file, so each turn waits for the file to exist.
    for (let n = 0; n < 200; n++) {
      sink.record({ n });
      if (n % 4 === 3) await new Promise((r) => setTimeout(r, 3));
    }
    await sink.close();
    assert.ok(sink.rotations > 10, `rotated ${sink.rotations} times`);
    const all: number[] = [];
    for (let i = sink.rotations; i >= 1; i--) {
      const part = lines(`${file}.${i}`);
      assert.ok(readFileSync(`${file}.${i}`).length <= 100, `${file}.${i} is within maxBytes`);
      all.push(...part);
    }
    all.push(...lines(file));
    assert.deepEqual(
      all,
      Array.from({ length: 200 }, (_, n) => n),
    );
  });

  test("reopen (after logrotate moved the file): earlier lines stay in the moved file", async () => {
    const file = join(dir, "d.log");
    const sink = new FileAuditSink(file);
    for (let n = 0; n < 10; n++) sink.record({ n });
    await new Promise((r) => setTimeout(r, 50));
    renameSync(file, `${file}.moved`);
    // Recorded before the reopen, still pending in this turn when it comes: the old file's.
    for (let n = 10; n < 15; n++) sink.record({ n });
    await sink.reopen();
    for (let n = 15; n < 20; n++) sink.record({ n });
    await sink.close();
    assert.deepEqual(
      lines(`${file}.moved`),
      Array.from({ length: 15 }, (_, n) => n),
    );
    assert.deepEqual(
      lines(file),
      Array.from({ length: 5 }, (_, n) => n + 15),
    );
  });
});
