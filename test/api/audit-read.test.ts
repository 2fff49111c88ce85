/**
 * The audit-log reader behind `entries:list` and `warrant logs read` (src/server/audit-read.ts):
 * newest or oldest first across rotated files, page positions that survive a rotation, a partial
 * last line left alone, and a poll for the newest entries reading the log's tail only.
 */
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { AuditEntry } from "../../src/domain/audit/log-entry.js";
import { type AuditPosition, scanAudit } from "../../src/server/audit-read.js";

const T0 = Date.parse("2026-12-04T12:00:00Z");
const line = (n: number) =>
  `${JSON.stringify({ time: new Date(T0 + n * 1000).toISOString(), kind: "request", requestId: `r${n}`, path: "/x", status: 200 })}\n`;
const ids = (xs: AuditEntry[]) => xs.map((e) => e.requestId);
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => `r${a + i}`);

describe("audit-log reader", () => {
  let dir: string;
  let file: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "warrant-audit-read-"));
    file = join(dir, "audit.log");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, from: number, to: number) =>
    writeFileSync(
      join(dir, name),
      range(from, to)
        .map((_, i) => line(from + i))
        .join(""),
    );

  async function pages(order: "asc" | "desc", limit: number, between?: (n: number) => void) {
    const out: string[] = [];
    let cursor: AuditPosition | undefined;
    for (let n = 0; n < 1000; n++) {
      const r = await scanAudit(file, { order, limit, ...(cursor ? { cursor } : {}), accept: (e) => e });
      out.push(...ids(r.items).map(String));
      if (!r.next) break;
      cursor = r.next;
      between?.(n);
    }
    return out;
  }

  it("reads across rotated files, newest or oldest first, in pages, each entry once", async () => {
    write("audit.log.2", 0, 30);
    write("audit.log.1", 30, 60);
    write("audit.log", 60, 95);
    const all = await scanAudit(file, { order: "asc", limit: 1000, accept: (e) => e });
    assert.deepEqual(ids(all.items), range(0, 95));
    assert.deepEqual(await pages("asc", 7), range(0, 95));
    assert.deepEqual(await pages("desc", 7), range(0, 95).reverse());
    const bounded = await scanAudit(file, {
      order: "desc",
      after: T0 + 40_000,
      afterInclusive: false,
      before: T0 + 70_000,
      limit: 1000,
      accept: (e) => e,
    });
    assert.deepEqual(ids(bounded.items), range(41, 70).reverse());
  });

  it("a page position survives a rotation: the next page goes on where the last one stopped", async () => {
    write("audit.log.2", 0, 30);
    write("audit.log.1", 30, 60);
    write("audit.log", 60, 95);
    // After the first page, the server rotates: .2 is dropped, .1 → .2, audit.log → .1, a new audit.log.
    const rotate = (n: number) => {
      if (n !== 0) return;
      rmSync(join(dir, "audit.log.2"));
      renameSync(join(dir, "audit.log.1"), join(dir, "audit.log.2"));
      renameSync(file, join(dir, "audit.log.1"));
      write("audit.log", 95, 100);
    };
    assert.deepEqual(
      await pages("desc", 10, rotate),
      range(30, 95).reverse(),
      "newest first: the rest, down to what is kept",
    );
    write("audit.log.2", 0, 30);
    write("audit.log.1", 30, 60);
    write("audit.log", 60, 95);
    // Oldest first, the first page came from the file rotation then deleted: the rest of it is gone,
    // and the next page starts at the oldest file kept, then on into the new file.
    assert.deepEqual(await pages("asc", 10, rotate), [...range(0, 10), ...range(30, 100)]);
    write("audit.log.2", 0, 30);
    write("audit.log.1", 30, 60);
    write("audit.log", 60, 95);
    const late = (n: number) => n === 3 && rotate(0);
    assert.deepEqual(
      await pages("asc", 10, late),
      range(0, 100),
      "a rotation of files already read loses nothing",
    );
  });

  it("a bound far back is found by binary search, across rotated files", async () => {
    write("audit.log.2", 0, 3000);
    write("audit.log.1", 3000, 6000);
    write("audit.log", 6000, 9000);
    for (const at of [0, 1, 1500, 2999, 3000, 4500, 5999, 6000, 6500]) {
      const asc = await scanAudit(file, {
        order: "asc",
        after: T0 + at * 1000,
        afterInclusive: false,
        limit: 3,
        accept: (e) => e,
      });
      assert.deepEqual(ids(asc.items), range(at + 1, at + 4), `after r${at}`);
      const ascIn = await scanAudit(file, {
        order: "asc",
        after: T0 + at * 1000,
        afterInclusive: true,
        limit: 2,
        accept: (e) => e,
      });
      assert.deepEqual(ids(ascIn.items), range(at, at + 2), `at or after r${at}`);
      const desc = await scanAudit(file, {
        order: "desc",
        before: T0 + at * 1000,
        limit: 3,
        accept: (e) => e,
      });
      assert.deepEqual(ids(desc.items), range(Math.max(0, at - 3), at).reverse(), `before r${at}`);
      assert.ok(
        asc.linesRead + desc.linesRead < 2 * 3000,
        `r${at}: ${asc.linesRead} + ${desc.linesRead} lines`,
      );
    }
  });

  it("a line still being written is not read; a malformed one is counted and skipped", async () => {
    for (const n of ["audit.log.1", "audit.log.2"]) rmSync(join(dir, n), { force: true });
    writeFileSync(file, `${line(1)}not json\n${line(2)}{"time":"2026-12-04T12:00:03.000Z","kind":"requ`);
    for (const order of ["asc", "desc"] as const) {
      const r = await scanAudit(file, { order, limit: 100, accept: (e) => e });
      assert.deepEqual(ids(r.items), order === "asc" ? ["r1", "r2"] : ["r2", "r1"]);
      assert.equal(r.malformed, 1);
    }
  });

  it("a poll for what came after the newest entry seen reads the tail, not the log", async () => {
    const N = 200_000;
    const chunks: string[] = [];
    for (let i = 0; i < N; i++) chunks.push(line(i));
    writeFileSync(file, chunks.join(""));
    appendFileSync(file, "");
    const seen = T0 + (N - 6) * 1000;
    for (const order of ["asc", "desc"] as const) {
      const started = process.hrtime.bigint();
      const r = await scanAudit(file, {
        order,
        after: seen,
        afterInclusive: false,
        limit: 100,
        accept: (e) => e,
      });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.equal(r.items.length, 5, order);
      assert.ok(r.linesRead <= 20, `${order}: read ${r.linesRead} lines of ${N}`);
      console.log(`# poll of a ${N}-line log (${order}): ${r.linesRead} lines read, ${ms.toFixed(1)} ms`);
    }
    // A bound far back: binary search, not a scan of the 200,000 lines.
    for (const order of ["asc", "desc"] as const) {
      const bound = T0 + 1000 * 1000;
      const r = await scanAudit(file, {
        order,
        ...(order === "asc" ? { after: bound, afterInclusive: true } : { before: bound }),
        limit: 10,
        accept: (e) => e,
      });
      assert.equal(r.items[0]!.requestId, order === "asc" ? "r1000" : "r999");
      assert.ok(r.linesRead < 3000, `${order} from far back: ${r.linesRead} lines read`);
      console.log(`# a page from 199,000 lines back (${order}): ${r.linesRead} lines read`);
    }
    // Without a time bound, newest first stops at the page: a console's first load is cheap too.
    const first = await scanAudit(file, { order: "desc", limit: 50, accept: (e) => e });
    assert.equal(first.items.length, 50);
    assert.ok(first.linesRead <= 50);
    // A filter that matches nothing stops after the per-request budget, with a position to go on from.
    const none = await scanAudit(file, { order: "desc", limit: 50, maxLines: 1000, accept: () => undefined });
    assert.equal(none.items.length, 0);
    assert.equal(none.linesRead, 1000);
    assert.ok(none.next);
  });
});
