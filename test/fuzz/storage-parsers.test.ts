/**
 * Fuzzing Cloud Storage's pure parsers and rules: byte ranges, resumable `Content-Range`, the
 * streaming `multipart/related` reader, `objects.list` paging (against a brute-force model of GCS's
 * listing) and the object and bucket naming rules. Seeded: a failure names WARRANT_FUZZ_SEED and the
 * case to replay.
 */
import assert from "node:assert/strict";
import { Readable, Writable } from "node:stream";
import { describe, test } from "node:test";
import { ApiError } from "../../src/domain/errors.js";
import { bucketNameProblem } from "../../src/domain/storage/bucket.js";
import { type ListEntry, type ListQuery, listPage } from "../../src/domain/storage/listing.js";
import { encodeObjectName, objectNameProblem } from "../../src/domain/storage/object.js";
import { parseContentRange, parseRange } from "../../src/domain/storage/ranges.js";
import { readMultipartRelated } from "../../src/server/api/storage/multipart.js";
import { Rng, replay, SEED } from "./random.js";

console.log(`fuzz storage parsers: WARRANT_FUZZ_SEED=${SEED}`);

const show = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
};

/** GCS's order: lexicographic over the UTF-8 bytes (code point order, which JS's `<` is not). */
const cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

// ---------------------------------------------------------------------------------------------
// Range and Content-Range
// ---------------------------------------------------------------------------------------------

function digits(rng: Rng): string {
  return rng.pick([
    "",
    "0",
    String(rng.int(0, 40)),
    String(rng.int(0, 5000)),
    "00012",
    "9007199254740991",
    "9007199254740992",
    "9999999999999999",
    "99999999999999999999",
    "1".repeat(rng.int(17, 400)),
    "-1",
    "1.5",
    "1e3",
    " 7",
    "0x10",
    "٣",
  ]);
}

function rangeHeader(rng: Rng): string {
  if (rng.bool(0.1)) return rng.string(30);
  const unit = rng.bool(0.9) ? "bytes" : rng.pick(["Bytes", "items", "", "bytes "]);
  const sep = rng.bool(0.9) ? "=" : rng.pick([" ", ":", "=="]);
  let spec = `${digits(rng)}-${digits(rng)}`;
  if (rng.bool(0.1)) spec += `,${digits(rng)}-${digits(rng)}`;
  if (rng.bool(0.05)) spec = rng.pick(["-", "--", "*", ""]);
  return `${rng.bool(0.05) ? " " : ""}${unit}${sep}${spec}${rng.bool(0.05) ? "\t" : ""}`;
}

function contentRangeHeader(rng: Rng): string {
  if (rng.bool(0.1)) return rng.string(30);
  const unit = rng.bool(0.9) ? "bytes " : rng.pick(["bytes=", "bytes", "Bytes ", "bytes  "]);
  const total = rng.bool(0.3) ? "*" : digits(rng);
  const k = rng.int(0, 9);
  if (k === 0) return `${unit}*/${total}`;
  if (k === 1) return `${unit}${digits(rng)}-*/${total}`;
  return `${unit}${digits(rng)}-${digits(rng)}/${total}${rng.bool(0.05) ? "/1" : ""}`;
}

describe("fuzz: byte ranges", () => {
  test("parseRange never throws and stays within the object", () => {
    const rng = Rng.for("parseRange");
    for (let i = 0; i < 20_000; i++) {
      const header = rng.bool(0.02) ? undefined : rangeHeader(rng);
      const size = rng.pick([0, 1, 2, 10, rng.int(0, 100), rng.int(0, 1e9), Number.MAX_SAFE_INTEGER]);
      let r: ReturnType<typeof parseRange>;
      try {
        r = parseRange(header, size);
      } catch (err) {
        assert.fail(`threw ${err} for ${show(header)} size ${size} ${replay(`parseRange case ${i}`)}`);
      }
      if (r === null || r === "unsatisfiable") continue;
      const ok =
        Number.isSafeInteger(r.start) &&
        Number.isSafeInteger(r.end) &&
        r.start >= 0 &&
        r.start <= r.end &&
        r.end < size;
      assert.ok(ok, `${show(r)} for ${show(header)} size ${size} ${replay(`parseRange case ${i}`)}`);
    }
  });

  test("parseRange: every valid form means what RFC 9110 says", () => {
    const rng = Rng.for("parseRange valid");
    for (let i = 0; i < 5_000; i++) {
      const size = rng.int(0, 2000);
      const a = rng.int(0, 2100);
      const b = rng.int(0, 2100);
      const where = `size ${size} a ${a} b ${b} ${replay(`parseRange valid case ${i}`)}`;
      // a-b
      const full = parseRange(`bytes=${a}-${b}`, size);
      if (b < a) assert.equal(full, null, where);
      else if (a >= size) assert.equal(full, "unsatisfiable", where);
      else assert.deepEqual(full, { start: a, end: Math.min(b, size - 1) }, where);
      // a-
      const open = parseRange(`bytes=${a}-`, size);
      assert.deepEqual(open, a >= size ? "unsatisfiable" : { start: a, end: size - 1 }, where);
      // -b (the last b bytes)
      const suffix = parseRange(`bytes=-${b}`, size);
      if (b === 0) assert.equal(suffix, "unsatisfiable", where);
      else if (size === 0) assert.equal(suffix, null, where);
      else assert.deepEqual(suffix, { start: Math.max(0, size - b), end: size - 1 }, where);
    }
  });

  test("parseContentRange never throws; what it accepts is in bounds and reads back the same", () => {
    const rng = Rng.for("parseContentRange");
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const header = rng.bool(0.01) ? undefined : contentRangeHeader(rng);
      const where = `${show(header)} ${replay(`parseContentRange case ${i}`)}`;
      let r: ReturnType<typeof parseContentRange>;
      try {
        r = parseContentRange(header);
      } catch (err) {
        assert.fail(`threw ${err} for ${where}`);
      }
      if (typeof r === "string") {
        assert.ok(r.length > 0 && r.length < 300, where);
        continue;
      }
      accepted++;
      const safe = (n: number | null) => n === null || (Number.isSafeInteger(n) && n >= 0);
      let text: string;
      switch (r.kind) {
        case "query":
          assert.ok(safe(r.total), `${show(r)} for ${where}`);
          text = `bytes */${r.total ?? "*"}`;
          break;
        case "rest":
          assert.ok(safe(r.start), `${show(r)} for ${where}`);
          text = `bytes ${r.start}-*/*`;
          break;
        case "chunk":
          assert.ok(safe(r.start) && safe(r.end) && safe(r.total), `${show(r)} for ${where}`);
          assert.ok(r.start <= r.end, `${show(r)} for ${where}`);
          if (r.total !== null) assert.ok(r.end < r.total, `${show(r)} for ${where}`);
          text = `bytes ${r.start}-${r.end}/${r.total ?? "*"}`;
          break;
      }
      if (header !== undefined) assert.deepEqual(parseContentRange(text), r, `${text} for ${where}`);
    }
    assert.ok(accepted > 1000, `only ${accepted} headers were accepted`);
  });

  test("regression: positions beyond 2^53 are refused, not rounded", () => {
    // Found by the Content-Range fuzz (WARRANT_FUZZ_SEED=2276683914): "bytes 9999999999999999-9999999999999999/*"
    // parsed to start = end = 10000000000000000, a number that is not the one sent.
    for (const h of [
      "bytes 9999999999999999-9999999999999999/*",
      "bytes 9007199254740992-*/*",
      "bytes 0-9007199254740992/*",
    ])
      assert.equal(typeof parseContentRange(h), "string", h);
    assert.deepEqual(parseContentRange("bytes 9007199254740990-9007199254740990/*"), {
      kind: "chunk",
      start: 9007199254740990,
      end: 9007199254740990,
      total: null,
    });
  });

  test("parseContentRange: valid forms parse to their numbers", () => {
    const rng = Rng.for("parseContentRange valid");
    for (let i = 0; i < 5_000; i++) {
      const a = rng.int(0, 1e12);
      const b = a + rng.int(0, 1e6);
      const t = b + rng.int(1, 1e6);
      const where = replay(`parseContentRange valid case ${i}`);
      assert.deepEqual(parseContentRange(`bytes ${a}-${b}/${t}`), {
        kind: "chunk",
        start: a,
        end: b,
        total: t,
      });
      assert.deepEqual(parseContentRange(`bytes ${a}-${b}/*`), {
        kind: "chunk",
        start: a,
        end: b,
        total: null,
      });
      assert.deepEqual(parseContentRange(`bytes ${a}-*/*`), { kind: "rest", start: a }, where);
      assert.deepEqual(parseContentRange(`bytes */${t}`), { kind: "query", total: t }, where);
      assert.equal(typeof parseContentRange(`bytes ${b + 1}-${b}/${t}`), "string", where);
      assert.equal(typeof parseContentRange(`bytes ${a}-${t}/${t}`), "string", where);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// multipart/related
// ---------------------------------------------------------------------------------------------

/** A sink that takes its time (so the reader's backpressure path runs) and keeps what it got. */
function slowSink(slow = true): { sink: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      if (slow) setImmediate(cb);
      else cb();
    },
  });
  return { sink, bytes: () => Buffer.concat(chunks) };
}

/** Random split of `body` into chunks (sometimes empty ones, sometimes one byte at a time). */
function split(rng: Rng, body: Buffer, fine = true): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  // Tiny chunks only for small bodies: the reader then does a sink write per chunk.
  const mode = body.length > 4096 || !fine ? rng.int(2, 3) : rng.int(0, 3);
  while (at < body.length) {
    const n =
      mode === 0 ? 1 : mode === 1 ? rng.int(0, 8) : mode === 2 ? rng.int(1, 512) : rng.int(1, body.length);
    out.push(body.subarray(at, at + n));
    at += n;
  }
  return out;
}

const BOUNDARY_CHARS = "abcxyz0123456789'()+_,-./:=?";

function boundary(rng: Rng): string {
  return rng.pick([
    rng.chars(BOUNDARY_CHARS, rng.int(1, 70)),
    "-",
    "--",
    "===============7330845974216740156==",
    "foo_bar_baz",
    `${"-".repeat(rng.int(1, 20))}${rng.chars("0123456789", 10)}`,
  ]);
}

/** Media bytes that come close to the delimiter without containing it. */
function media(rng: Rng, b: string, eol: string, max = Number.MAX_SAFE_INTEGER): Buffer {
  const pieces: Buffer[] = [];
  const n = rng.int(0, 8);
  for (let i = 0; i < n; i++)
    pieces.push(
      rng.pick([
        Buffer.from(rng.string(20)),
        Buffer.from(`\r\n--${b.slice(0, rng.int(0, b.length - 1))}`),
        Buffer.from(`--${b}`),
        Buffer.from(`\r\n-${b}`),
        Buffer.from("\r\n\r\n"),
        Buffer.from("\n-"),
        Buffer.from([0, 0xff, 0x0d]),
        Buffer.alloc(rng.int(0, 3000), rng.int(0, 255)),
      ]),
    );
  let m = Buffer.concat(pieces).subarray(0, max);
  // A delimiter inside the data ends the part: that is the format, not a bug. So does a CR before
  // a bare-LF delimiter (it reads as a CRLF one).
  while (m.includes(`\n--${b}`)) m = m.subarray(0, m.indexOf(`\n--${b}`) + 1);
  while (eol === "\n" && m.at(-1) === 0x0d) m = m.subarray(0, -1);
  return m;
}

function multipartBody(rng: Rng, b: string, eol: string, meta: Buffer, data: Buffer) {
  const preamble = rng.bool(0.2) ? `preamble text${eol}` : "";
  const metaHeaders = rng.pick([
    `Content-Type: application/json; charset=UTF-8${eol}`,
    `content-type:application/json${eol}X-Extra:  v ${eol}`,
    "",
  ]);
  const mediaHeaders = rng.pick([`Content-Type: image/png${eol}`, `Content-Type: text/plain${eol}`, ""]);
  const pad = rng.bool(0.2) ? " \t" : "";
  const head = Buffer.from(`${preamble}--${b}${pad}${eol}${metaHeaders}${eol}`, "latin1");
  const mid = Buffer.from(`${eol}--${b}${eol}${mediaHeaders}${eol}`, "latin1");
  const close = Buffer.from(`${eol}--${b}--`, "latin1");
  const epilogue = Buffer.from(rng.pick(["", eol, `${eol}epilogue${eol}`]), "latin1");
  return {
    body: Buffer.concat([head, meta, mid, data, close, epilogue]),
    /** Any prefix at least this long holds the closing delimiter. */
    complete: head.length + meta.length + mid.length + data.length + close.length,
    mediaType: /Content-Type: (\S+)/.exec(mediaHeaders)?.[1],
  };
}

async function readAll(chunks: Buffer[], b: string, slow = true) {
  const sinks: ReturnType<typeof slowSink>[] = [];
  let metadata: Buffer | undefined;
  let mediaHeaders: Record<string, string> | undefined;
  const done = readMultipartRelated(Readable.from(chunks, { objectMode: false }), b, async (m, part) => {
    metadata = m.body;
    mediaHeaders = part.headers;
    const s = slowSink(slow);
    sinks.push(s);
    return s.sink;
  });
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("readMultipartRelated hung")), 5_000);
  });
  try {
    await Promise.race([done, hang]);
  } finally {
    clearTimeout(timer);
  }
  assert.ok(sinks.length <= 1, "onMetadata ran more than once");
  // The reader hands bytes to the sink; the caller ends it (as BlobWriter.publish does).
  if (sinks[0]) await new Promise((resolve) => sinks[0]!.sink.end(resolve));
  return { metadata, mediaHeaders, media: sinks[0]?.bytes() };
}

describe("fuzz: multipart/related reader", () => {
  test("any split of a well-formed body reads back the metadata and media exactly (CRLF and LF)", async () => {
    const rng = Rng.for("multipart splits");
    for (let i = 0; i < 150; i++) {
      const b = boundary(rng);
      const eol = rng.bool() ? "\r\n" : "\n";
      const meta = Buffer.from(JSON.stringify({ name: rng.string(20), contentType: "x/y" }));
      const data = media(rng, b, eol);
      const { body, mediaType } = multipartBody(rng, b, eol, meta, data);
      for (let k = 0; k < 3; k++) {
        const chunks = split(rng, body);
        const where = `boundary ${show(b)} eol ${show(eol)} chunks ${chunks
          .map((c) => c.length)
          .join(",")
          .slice(0, 200)} ${replay(`multipart splits case ${i}.${k}`)}`;
        let got: Awaited<ReturnType<typeof readAll>>;
        try {
          got = await readAll(chunks, b);
        } catch (err) {
          assert.fail(`${err} for ${where}`);
        }
        assert.deepEqual(got.metadata, meta, `metadata: ${where}`);
        assert.ok(
          got.media?.equals(data),
          `media differs: got ${show(got.media?.toString("latin1"))}, sent ${show(data.toString("latin1"))}: ${where}`,
        );
        assert.equal(got.mediaHeaders?.["content-type"], mediaType, where);
      }
    }
  });

  test("a body truncated at any position is an InvalidArgument, never a hang or another error", async () => {
    const rng = Rng.for("multipart truncation");
    let cases = 0;
    for (let i = 0; i < 8; i++) {
      const b = boundary(rng);
      const eol = rng.bool() ? "\r\n" : "\n";
      const meta = Buffer.from(JSON.stringify({ name: rng.string(10) }));
      const data = media(rng, b, eol, 300);
      const { body, complete } = multipartBody(rng, b, eol, meta, data);
      for (let at = 0; at <= body.length; at++) {
        cases++;
        const chunks = split(rng, body.subarray(0, at), false);
        const where = `truncated at ${at}/${body.length}, boundary ${show(b)} eol ${show(eol)} ${replay(`multipart truncation case ${i}`)}`;
        try {
          const got = await readAll(chunks, b, false);
          assert.ok(at >= complete, `accepted a truncated body: ${where}`);
          assert.ok(
            got.media?.equals(data),
            `media differs: got ${show(got.media?.toString("latin1"))}, sent ${show(data.toString("latin1"))}: ${where}`,
          );
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          assert.ok(
            err instanceof ApiError && err.code === 400 && err.status === "INVALID_ARGUMENT",
            `${err} for ${where}`,
          );
          assert.ok(at < complete, `refused a complete body (${(err as Error).message}): ${where}`);
        }
      }
    }
    assert.ok(cases > 300, `${cases} truncations`);
  });

  test("random and mutated bodies end in success or an InvalidArgument", async () => {
    const rng = Rng.for("multipart mutations");
    for (let i = 0; i < 500; i++) {
      const b = boundary(rng);
      const eol = rng.bool() ? "\r\n" : "\n";
      const meta = Buffer.from(rng.bool(0.8) ? JSON.stringify({ name: "x" }) : rng.string(50));
      let { body } = multipartBody(rng, b, eol, meta, media(rng, b, eol, 500));
      const n = rng.int(1, 4);
      for (let k = 0; k < n; k++) {
        const at = rng.int(0, body.length);
        const insert = rng.pick([
          Buffer.from(`${eol}--${b}${eol}`),
          Buffer.from(`${eol}--${b}--`),
          Buffer.from(`--${b}`),
          Buffer.from(`${eol}${eol}`),
          Buffer.from(rng.string(10)),
          Buffer.alloc(rng.int(1, 3), rng.int(0, 255)),
          Buffer.alloc(rng.pick([1, 17_000, 70_000]), 0x61),
        ]);
        const cut = rng.bool(0.3) ? rng.int(0, 5) : 0;
        body = Buffer.concat([body.subarray(0, at), insert, body.subarray(at + cut)]);
      }
      const where = `body ${show(body.toString("latin1"))} boundary ${show(b)} ${replay(`multipart mutations case ${i}`)}`;
      try {
        await readAll(split(rng, body), rng.bool(0.95) ? b : boundary(rng));
      } catch (err) {
        assert.ok(err instanceof ApiError && err.code === 400, `${err} for ${where}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// objects.list
// ---------------------------------------------------------------------------------------------

/** The Datastore's ordered scan (UTF-8 byte order, as SQLite's BINARY collation) over fixed names. */
function scanOf(names: string[], prefix: string) {
  const sorted = [...new Set(names)].filter((n) => n.startsWith(prefix)).sort(cmp);
  let calls = 0;
  const scan = async (o: { from?: string; after?: string; limit: number }): Promise<ListEntry<string>[]> => {
    calls++;
    assert.ok(o.limit > 0, "scan with a non-positive limit");
    return sorted
      .filter(
        (n) =>
          (o.from === undefined || cmp(n, o.from) >= 0) && (o.after === undefined || cmp(n, o.after) > 0),
      )
      .slice(0, o.limit)
      .map((n) => ({ key: n, name: n, value: n }));
  };
  return { scan, calls: () => calls };
}

/** GCS's listing, by brute force: filter, then roll names up to prefixes at the delimiter. */
function referenceListing(names: string[], q: Omit<ListQuery, "maxResults" | "versions" | "pageToken">) {
  const items: string[] = [];
  const prefixes = new Set<string>();
  for (const n of [...new Set(names)].sort(cmp)) {
    if (!n.startsWith(q.prefix)) continue;
    if (q.startOffset !== undefined && cmp(n, q.startOffset) < 0) continue;
    if (q.endOffset !== undefined && cmp(n, q.endOffset) >= 0) continue;
    const rest = n.slice(q.prefix.length);
    const cut = q.delimiter ? rest.indexOf(q.delimiter) : -1;
    if (cut < 0) {
      items.push(n);
      continue;
    }
    const p = q.prefix + rest.slice(0, cut + q.delimiter!.length);
    prefixes.add(p);
    if (q.includeTrailingDelimiter && p === n) items.push(n);
  }
  return { items, prefixes: [...prefixes].sort(cmp) };
}

/** A small alphabet where collisions and shared prefixes are common: "/", ASCII, and multi-byte characters. */
const NAME_CHARS = ["a", "b", "/", "/", "-", "é", "😀", "／", "\u{10FFFE}"];

function nameFrom(rng: Rng, max = 6): string {
  let s = "";
  const n = rng.int(1, max);
  for (let i = 0; i < n; i++) s += rng.pick(NAME_CHARS);
  return s;
}

describe("fuzz: objects.list paging", () => {
  test("walking every page equals a brute-force listing: no duplicates, nothing missing, pages bounded", async () => {
    const rng = Rng.for("listPage");
    for (let i = 0; i < 1500; i++) {
      const names = Array.from({ length: rng.int(0, 40) }, () => nameFrom(rng));
      const pick = () => (rng.bool(0.6) && names.length ? rng.pick(names) : nameFrom(rng, 4));
      const q = {
        prefix: rng.bool(0.6) ? "" : rng.bool() ? pick().slice(0, rng.int(1, 3)) : nameFrom(rng, 2),
        ...(rng.bool(0.6) ? { delimiter: rng.pick(["/", "/", "a/", "😀", "／", "//", "é"]) } : {}),
        ...(rng.bool(0.3) ? { startOffset: pick() } : {}),
        ...(rng.bool(0.3) ? { endOffset: pick() } : {}),
        includeTrailingDelimiter: rng.bool(0.3),
      };
      const maxResults = rng.pick([1, 1, 2, 3, 5, 1000]);
      const expected = referenceListing(names, q);
      const { scan } = scanOf(names, q.prefix);
      const where = `names ${show(names)} query ${show({ ...q, maxResults })} ${replay(`listPage case ${i}`)}`;
      const items: string[] = [];
      const prefixes: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await listPage<string>(
          { ...q, maxResults, versions: false, ...(token ? { pageToken: token } : {}) },
          scan,
        );
        pages++;
        const size = page.items.length + page.prefixes.length;
        // The one exception: with includeTrailingDelimiter an object "d/" and its prefix "d/" share a page.
        const pair = maxResults === 1 && size === 2 && page.items[0] === page.prefixes[0];
        assert.ok(size <= maxResults || pair, `page ${pages} has ${size} entries: ${where}`);
        if (page.nextPageToken) assert.ok(size > 0, `empty page ${pages} with a nextPageToken: ${where}`);
        items.push(...page.items);
        prefixes.push(...page.prefixes);
        token = page.nextPageToken;
        assert.ok(pages <= names.length + 2, `more pages than names: ${where}`);
      } while (token);
      assert.deepEqual(items, expected.items, `items: ${where}`);
      assert.deepEqual(prefixes, expected.prefixes, `prefixes: ${where}`);
    }
  });

  test("regression: after an object and its own prefix fill a page, the page ends (maxResults 1)", async () => {
    // Found by the listing fuzz (WARRANT_FUZZ_SEED=1): once "d/" and prefix "d/" had made a page of two
    // entries, `count === maxResults` never held again and the page ran to the end of the listing.
    const names = ["d/", "d/x", "e", "f"];
    const { scan } = scanOf(names, "");
    const q = { prefix: "", delimiter: "/", includeTrailingDelimiter: true, maxResults: 1, versions: false };
    const first = await listPage<string>(q, scan);
    assert.deepEqual([first.items, first.prefixes], [["d/"], ["d/"]]);
    const second = await listPage<string>({ ...q, pageToken: first.nextPageToken! }, scan);
    assert.deepEqual([second.items, second.prefixes], [["e"], []]);
    assert.ok(second.nextPageToken);
  });

  test("regression: endOffset and startOffset compare in UTF-8 order, as the names are sorted", async () => {
    // Found by the listing fuzz (WARRANT_FUZZ_SEED=1): with endOffset "😀/…", the listing stopped at
    // "／a/" (U+FF0F sorts before U+1F600 in UTF-8, after its surrogates in UTF-16).
    const names = ["b", "／a/", "😀/", "😀/b"];
    const { scan } = scanOf(names, "");
    const q = { prefix: "", includeTrailingDelimiter: false, maxResults: 10, versions: false };
    assert.deepEqual((await listPage<string>({ ...q, endOffset: "😀/b" }, scan)).items, ["b", "／a/", "😀/"]);
    assert.deepEqual((await listPage<string>({ ...q, startOffset: "／" }, scan)).items, [
      "／a/",
      "😀/",
      "😀/b",
    ]);
    assert.deepEqual(
      (await listPage<string>({ ...q, prefix: "／", startOffset: "😀" }, scanOf(names, "／").scan)).items,
      [],
    );
  });

  test("a page token is refused by a different listing, and garbage tokens are InvalidArgument", async () => {
    const rng = Rng.for("listPage tokens");
    const names = Array.from({ length: 30 }, () => nameFrom(rng));
    const { scan } = scanOf(names, "");
    const base = { prefix: "", includeTrailingDelimiter: false, versions: false, maxResults: 1 };
    const first = await listPage<string>(base, scan);
    assert.ok(first.nextPageToken);
    await assert.rejects(
      listPage<string>({ ...base, delimiter: "/", pageToken: first.nextPageToken }, scan),
      (e) => e instanceof ApiError && e.code === 400,
    );
    for (let i = 0; i < 2000; i++) {
      const token = rng.pick([
        rng.string(40),
        Buffer.from(rng.string(40)).toString("base64url"),
        Buffer.from(JSON.stringify(rng.json(2))).toString("base64url"),
        Buffer.from(JSON.stringify({ a: rng.json(1), q: rng.string(16) })).toString("base64url"),
        first.nextPageToken!.slice(0, rng.int(0, first.nextPageToken!.length)),
      ]);
      const where = `token ${show(token)} ${replay(`listPage tokens case ${i}`)}`;
      try {
        await listPage<string>({ ...base, pageToken: token }, scan);
      } catch (err) {
        assert.ok(err instanceof ApiError && err.code === 400, `${err} for ${where}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Naming rules
// ---------------------------------------------------------------------------------------------

/** Google's object naming rules, spelled out independently of the implementation. */
function objectNameOk(name: string): boolean {
  const bytes = Buffer.from(name, "utf8");
  if (bytes.length < 1 || bytes.length > 1024) return false;
  if (bytes.toString("utf8") !== name) return false; // lone surrogates have no UTF-8 form
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f) return false;
    if (c === 0x10ffff) return false; // Warrant's one deviation: the bound of its prefix scans
  }
  return name !== "." && name !== ".." && !name.startsWith(".well-known/acme-challenge/");
}

/** Google's bucket naming rules (Warrant has no domain verification for dotted names). */
function bucketNameOk(name: string): boolean {
  if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name) || name.length < 3) return false;
  const parts = name.split(".");
  if (parts.length === 1 ? name.length > 63 : name.length > 222 || parts.some((p) => p.length > 63))
    return false;
  if (name.includes("..")) return false;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return false;
  return !name.startsWith("goog") && !/g[o0][o0]gle/.test(name);
}

describe("fuzz: naming rules", () => {
  test("objectNameProblem agrees with Google's rules, and accepted names survive path encoding", () => {
    const rng = Rng.for("objectNameProblem");
    for (let i = 0; i < 20_000; i++) {
      const name = rng.pick([
        () => rng.string(60),
        () => nameFrom(rng, 10),
        () => rng.pick([".", "..", "./", "../a", "a/../b", "%2e%2e", ".well-known/acme-challenge/x", " "]),
        () => "a".repeat(rng.int(1020, 1030)),
        () => "é".repeat(rng.int(510, 514)),
        () => `${"😀".repeat(rng.int(254, 257))}`,
        () => `${rng.string(10)}${String.fromCharCode(rng.int(0, 0x20))}${rng.string(10)}`,
        () => `a${rng.pick(["\ud800", "\udfff", "\udbff\udfff", "\u007f", "\u0085", "\u2028", "\ufeff"])}`,
      ])();
      const where = `${show(name)} (${name.length} chars) ${replay(`objectNameProblem case ${i}`)}`;
      const problem = objectNameProblem(name);
      assert.equal(problem === null, objectNameOk(name), `${problem} for ${where}`);
      if (problem !== null) assert.ok(problem.length < 200, where);
      else assert.equal(decodeURIComponent(encodeObjectName(name)), name, where);
    }
    for (const v of [undefined, null, 1, {}, [], ""]) assert.notEqual(objectNameProblem(v), null);
  });

  test("bucketNameProblem agrees with Google's rules", () => {
    const rng = Rng.for("bucketNameProblem");
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const name = rng.pick([
        () => rng.chars("abz019-_.", rng.int(0, 70)),
        () => rng.chars("abcdefghijklmnopqrstuvwxyz0123456789", rng.int(1, 66)),
        () => `${rng.int(0, 300)}.${rng.int(0, 300)}.${rng.int(0, 300)}.${rng.int(0, 300)}`,
        () =>
          rng.pick(["goog", "google", "g00gle", "go0gle", "my-google-b", "googl", "xgoogx"]) +
          rng.chars("ab", 2),
        () => rng.string(20),
        () => rng.chars("aAéZ.-", rng.int(1, 10)),
      ])();
      const where = `${show(name)} ${replay(`bucketNameProblem case ${i}`)}`;
      const problem = bucketNameProblem(name);
      if (problem === null) accepted++;
      assert.equal(problem === null, bucketNameOk(name), `${problem} for ${where}`);
    }
    assert.ok(accepted > 1000, `${accepted} accepted`);
    for (const v of [undefined, null, 1, {}, [], ""]) assert.notEqual(bucketNameProblem(v), null);
  });
});
