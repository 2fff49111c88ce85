import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { crc32c } from "@node-rs/crc32";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";
import { eventually } from "../support/poll.js";

const B = "objects-bucket";
const md5 = (b: Buffer) => createHash("md5").update(b).digest("base64");
const crc = (b: Buffer) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(b));
  return out.toString("base64");
};

/** The audit log's entries (one JSON object a line). */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON entries
const auditEntries = (h: Harness): any[] =>
  readFileSync(join(h.stateDir, "audit.log"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON replies
  json: any;
}

/** Raw HTTP (node:http), so tests control every header and byte. */
function raw(
  h: Harness,
  method: string,
  path: string,
  o: { token?: string | null; headers?: Record<string, string | number>; body?: Buffer | string } = {},
): Promise<RawReply> {
  const url = new URL(path, h.url);
  const headers: Record<string, string | number> = { ...o.headers };
  const token = o.token === undefined ? h.adminToken : o.token;
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = JSON.parse(body.toString("utf8"));
        } catch {}
        resolve({ status: res.statusCode!, headers: res.headers, body, json });
      });
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

const upload = (
  h: Harness,
  name: string,
  data: Buffer | string,
  extra: Record<string, string> = {},
  token?: string | null,
) =>
  raw(
    h,
    "POST",
    `/upload/storage/v1/b/${B}/o?uploadType=media&name=${encodeURIComponent(name)}${extra.query ?? ""}`,
    {
      ...(token !== undefined ? { token } : {}),
      headers: {
        "content-type": extra.contentType ?? "text/plain",
        ...(extra.hash ? { "x-goog-hash": extra.hash } : {}),
      },
      body: data,
    },
  );

function multipartBody(boundary: string, meta: unknown, data: Buffer, eol = "\r\n") {
  return Buffer.concat([
    Buffer.from(
      `--${boundary}${eol}Content-Type: application/json; charset=UTF-8${eol}${eol}${JSON.stringify(meta)}${eol}--${boundary}${eol}Content-Type: image/png${eol}${eol}`,
    ),
    data,
    Buffer.from(`${eol}--${boundary}--${eol}`),
  ]);
}

describe("Cloud Storage objects", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    const r = await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: B } });
    assert.equal(r.status, 200, r.text);
  });
  after(() => h.close());

  test("media upload, metadata and download: JSON as GCS's, hashes computed", async () => {
    const r = await upload(h, "a.txt", "hello");
    assert.equal(r.status, 200, r.body.toString());
    const o = r.json;
    assert.equal(o.kind, "storage#object");
    assert.equal(o.name, "a.txt");
    assert.equal(o.bucket, B);
    assert.equal(o.size, "5");
    assert.equal(o.md5Hash, "XUFAKrxLKna5cZ2REBfFkg==");
    assert.equal(o.crc32c, "mnG7TA==");
    assert.equal(o.contentType, "text/plain");
    assert.equal(o.metageneration, "1");
    assert.match(o.generation, /^\d{16}$/);
    assert.equal(o.id, `${B}/a.txt/${o.generation}`);
    assert.equal(o.selfLink, `${h.url}/storage/v1/b/${B}/o/a.txt`);
    assert.equal(
      o.mediaLink,
      `${h.url}/download/storage/v1/b/${B}/o/a.txt?generation=${o.generation}&alt=media`,
    );

    const meta = await h.call("GET", `/storage/v1/b/${B}/o/a.txt`);
    assert.deepEqual(meta.body, o);
    const media = await raw(h, "GET", `/storage/v1/b/${B}/o/a.txt?alt=media`);
    assert.equal(media.status, 200);
    assert.equal(media.body.toString(), "hello");
    assert.equal(media.headers["content-type"], "text/plain");
    assert.equal(media.headers["x-goog-hash"], `crc32c=${o.crc32c},md5=${o.md5Hash}`);
    assert.equal(media.headers["x-goog-generation"], o.generation);
    const link = await raw(h, "GET", new URL(o.mediaLink).pathname + new URL(o.mediaLink).search);
    assert.equal(link.body.toString(), "hello");
  });

  test("Range downloads: 206 with Content-Range, suffix, open-ended, 416", async () => {
    const data = randomBytes(1000);
    await upload(h, "range.bin", data);
    const cases: [string, number, number][] = [
      ["bytes=0-9", 0, 9],
      ["bytes=990-", 990, 999],
      ["bytes=-10", 990, 999],
      ["bytes=500-5000", 500, 999],
    ];
    for (const [range, start, end] of cases) {
      const r = await raw(h, "GET", `/storage/v1/b/${B}/o/range.bin?alt=media`, { headers: { range } });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers["content-range"], `bytes ${start}-${end}/1000`, range);
      assert.deepEqual(r.body, data.subarray(start, end + 1), range);
    }
    const bad = await raw(h, "GET", `/storage/v1/b/${B}/o/range.bin?alt=media`, {
      headers: { range: "bytes=1000-" },
    });
    assert.equal(bad.status, 416);
    assert.equal(bad.json.error.errors[0].reason, "requestedRangeNotSatisfiable");
    assert.equal(bad.headers["content-range"], "bytes */1000");
  });

  test("multipart upload (CRLF and bare LF), metadata part sets name, type and custom metadata", async () => {
    const data = randomBytes(300_000);
    for (const [eol, name] of [
      ["\r\n", "dir/mp-crlf.png"],
      ["\n", "dir/mp-lf.png"],
    ] as const) {
      const body = multipartBody("b0undary", { name, metadata: { k: "v" }, md5Hash: md5(data) }, data, eol);
      const r = await raw(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=multipart`, {
        headers: { "content-type": 'multipart/related; boundary="b0undary"' },
        body,
      });
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.json.name, name);
      assert.equal(r.json.contentType, "image/png");
      assert.deepEqual(r.json.metadata, { k: "v" });
      assert.equal(r.json.size, String(data.length));
      assert.equal(r.json.crc32c, crc(data));
      const back = await raw(h, "GET", `/storage/v1/b/${B}/o/${encodeURIComponent(name)}?alt=media`);
      assert.deepEqual(back.body, data, eol === "\n" ? "LF" : "CRLF");
    }
  });

  test("multipart boundary in single quotes, as gcloud sends it (apitools' boundary=%r)", async () => {
    const boundary = "===============8534404871211636941==";
    const body = multipartBody(boundary, { name: "dir/mp-gcloud.txt" }, Buffer.from("hello world\n"), "\n");
    const r = await raw(h, "POST", `/upload/storage/v1/b/${B}/o?alt=json&uploadType=multipart`, {
      headers: { "content-type": `multipart/related; boundary='${boundary}'` },
      body,
    });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.json.size, "12");
  });

  test("declared hashes are checked: a mismatch is a 400 and writes nothing", async () => {
    const bad = await upload(h, "hash.txt", "hello", { hash: `md5=${md5(Buffer.from("other"))}` });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /MD5/);
    assert.equal((await h.call("GET", `/storage/v1/b/${B}/o/hash.txt`)).status, 404);
    const good = await upload(h, "hash.txt", "hello", {
      hash: `crc32c=mnG7TA==,md5=XUFAKrxLKna5cZ2REBfFkg==`,
    });
    assert.equal(good.status, 200);
    const mp = multipartBody("x", { name: "hash2.txt", crc32c: "AAAAAA==" }, Buffer.from("hello"));
    const r = await raw(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=multipart`, {
      headers: { "content-type": "multipart/related; boundary=x" },
      body: mp,
    });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /CRC32C/);
    assert.equal((await h.call("GET", `/storage/v1/b/${B}/o/hash2.txt`)).status, 404);
  });

  test("listing: prefix, delimiter → prefixes, maxResults counts prefixes, stable pages, offsets", async () => {
    const names = ["l/a", "l/b/1", "l/b/2", "l/c", "l/d/1", "l/e", "l/f/x/y", "l/g"];
    for (const n of names) assert.equal((await upload(h, n, n)).status, 200);
    const all = await h.call("GET", `/storage/v1/b/${B}/o?prefix=l/&delimiter=/`);
    assert.deepEqual(
      all.body.items.map((o: { name: string }) => o.name),
      ["l/a", "l/c", "l/e", "l/g"],
    );
    assert.deepEqual(all.body.prefixes, ["l/b/", "l/d/", "l/f/"]);
    assert.equal(all.body.nextPageToken, undefined);

    // Pages of 2 entries (items + prefixes) walk the same sequence with no repeats.
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await h.call(
        "GET",
        `/storage/v1/b/${B}/o?prefix=l/&delimiter=/&maxResults=2${token ? `&pageToken=${token}` : ""}`,
      );
      assert.equal(r.status, 200, r.text);
      const entries = [
        ...(r.body.items ?? []).map((o: { name: string }) => o.name),
        ...(r.body.prefixes ?? []),
      ];
      assert.ok(entries.length <= 2, JSON.stringify(r.body));
      seen.push(...entries);
      token = r.body.nextPageToken;
      pages++;
    } while (token && pages < 20);
    assert.deepEqual(seen.sort(), ["l/a", "l/b/", "l/c", "l/d/", "l/e", "l/f/", "l/g"]);
    assert.equal(pages, 4);

    const flat = await h.call("GET", `/storage/v1/b/${B}/o?prefix=l/b`);
    assert.deepEqual(
      flat.body.items.map((o: { name: string }) => o.name),
      ["l/b/1", "l/b/2"],
    );
    assert.equal(flat.body.prefixes, undefined, "no prefixes key when empty");
    const window = await h.call("GET", `/storage/v1/b/${B}/o?prefix=l/&startOffset=l/c&endOffset=l/f`);
    assert.deepEqual(
      window.body.items.map((o: { name: string }) => o.name),
      ["l/c", "l/d/1", "l/e"],
    );
    const none = await h.call("GET", `/storage/v1/b/${B}/o?prefix=zzz`);
    assert.deepEqual(none.body, { kind: "storage#objects" });
    // A token is bound to its listing.
    const p = await h.call("GET", `/storage/v1/b/${B}/o?prefix=l/&maxResults=1`);
    const mixed = await h.call("GET", `/storage/v1/b/${B}/o?prefix=m/&pageToken=${p.body.nextPageToken}`);
    assert.equal(mixed.status, 400);
    // Booleans in any case (gsutil sends False, gcloud True).
    const g = await h.call(
      "GET",
      `/storage/v1/b/${B}/o?prefix=l/a&versions=False&includeFoldersAsPrefixes=True`,
    );
    assert.equal(g.body.items.length, 1);
  });

  test("includeTrailingDelimiter lists a folder object as item and prefix", async () => {
    await upload(h, "t/dir/", "");
    await upload(h, "t/dir/x", "x");
    const r = await h.call("GET", `/storage/v1/b/${B}/o?prefix=t/&delimiter=/&includeTrailingDelimiter=true`);
    assert.deepEqual(
      r.body.items.map((o: { name: string }) => o.name),
      ["t/dir/"],
    );
    assert.deepEqual(r.body.prefixes, ["t/dir/"]);
  });

  test("preconditions: ifGenerationMatch=0 creates only; stale generation → 412", async () => {
    const first = await upload(h, "pre.txt", "one", { query: "&ifGenerationMatch=0" });
    assert.equal(first.status, 200);
    const again = await upload(h, "pre.txt", "two", { query: "&ifGenerationMatch=0" });
    assert.equal(again.status, 412);
    assert.equal(again.json.error.errors[0].reason, "conditionNotMet");
    const ok = await upload(h, "pre.txt", "two", { query: `&ifGenerationMatch=${first.json.generation}` });
    assert.equal(ok.status, 200);
    assert.notEqual(ok.json.generation, first.json.generation);
    const stale = await upload(h, "pre.txt", "three", {
      query: `&ifGenerationMatch=${first.json.generation}`,
    });
    assert.equal(stale.status, 412);
    const body = await raw(h, "GET", `/storage/v1/b/${B}/o/pre.txt?alt=media`);
    assert.equal(body.body.toString(), "two");
    const patched = await h.call("PATCH", `/storage/v1/b/${B}/o/pre.txt?ifMetagenerationMatch=1`, {
      body: { metadata: { a: "1" }, contentType: "text/x-test" },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.metageneration, "2");
    assert.deepEqual(patched.body.metadata, { a: "1" });
    assert.equal(patched.body.contentType, "text/x-test");
    const stalePatch = await h.call("PATCH", `/storage/v1/b/${B}/o/pre.txt?ifMetagenerationMatch=1`, {
      body: { metadata: { a: "2" } },
    });
    assert.equal(stalePatch.status, 412);
    const delStale = await h.call("DELETE", `/storage/v1/b/${B}/o/pre.txt?ifGenerationMatch=1`);
    assert.equal(delStale.status, 412);
  });

  test("racing create-only uploads: exactly one wins", async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        upload(h, "race.txt", `writer ${i}`, { query: "&ifGenerationMatch=0" }),
      ),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 412, 412, 412, 412, 412, 412, 412]);
  });

  test("delete, 404 JSON for missing objects (gcloud's prefix detection), non-empty bucket is 409", async () => {
    await upload(h, "del.txt", "x");
    // The bucket's 409 needs an object of this test's own, whatever other tests left.
    assert.equal((await upload(h, "del-keep.txt", "x")).status, 200);
    const missing = await h.call("GET", `/storage/v1/b/${B}/o/nope%2F?alt=json&projection=noAcl`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, `No such object: ${B}/nope/`);
    assert.equal((await h.call("DELETE", `/storage/v1/b/${B}/o/del.txt`)).status, 204);
    assert.equal((await h.call("DELETE", `/storage/v1/b/${B}/o/del.txt`)).status, 404);
    const busy = await h.call("DELETE", `/storage/v1/b/${B}`);
    assert.equal(busy.status, 409);
    assert.equal(busy.body.error.errors[0].reason, "conflict");
  });

  test("copy, rewrite and compose compute the new object's hashes", async () => {
    await upload(h, "c/one", "hello ", { contentType: "text/x-one" });
    await upload(h, "c/two", "world");
    const copy = await h.call("POST", `/storage/v1/b/${B}/o/c%2Fone/copyTo/b/${B}/o/c%2Fcopy`, { body: {} });
    assert.equal(copy.status, 200, copy.text);
    assert.equal(copy.body.contentType, "text/x-one", "a copy keeps the source's metadata");
    assert.equal(copy.body.md5Hash, md5(Buffer.from("hello ")));
    const rw = await h.call("POST", `/storage/v1/b/${B}/o/c%2Fone/rewriteTo/b/${B}/o/c%2Frw`, {
      body: { contentType: "text/plain" },
    });
    assert.equal(rw.body.kind, "storage#rewriteResponse");
    assert.equal(rw.body.done, true);
    assert.equal(rw.body.totalBytesRewritten, "6");
    assert.equal(rw.body.resource.contentType, "text/plain");
    const composed = await h.call("POST", `/storage/v1/b/${B}/o/c%2Fall/compose`, {
      body: {
        sourceObjects: [{ name: "c/one" }, { name: "c/two" }],
        destination: { contentType: "text/plain" },
      },
    });
    assert.equal(composed.status, 200, composed.text);
    assert.equal(composed.body.size, "11");
    assert.equal(composed.body.componentCount, 2);
    assert.equal(composed.body.md5Hash, undefined, "composite objects have no MD5, as at GCS");
    assert.equal(composed.body.crc32c, crc(Buffer.from("hello world")));
    const data = await raw(h, "GET", `/storage/v1/b/${B}/o/c%2Fall?alt=media`);
    assert.equal(data.body.toString(), "hello world");
  });

  test("versioned bucket: overwrites and deletes keep noncurrent generations", async () => {
    await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: "versioned-bucket" } });
    const v = await h.call("PATCH", "/storage/v1/b/versioned-bucket", {
      body: { versioning: { enabled: true } },
    });
    assert.deepEqual(v.body.versioning, { enabled: true });
    const put = (data: string) =>
      raw(h, "POST", "/upload/storage/v1/b/versioned-bucket/o?uploadType=media&name=v.txt", { body: data });
    const g1 = (await put("one")).json.generation;
    const g2 = (await put("two")).json.generation;
    const list = await h.call("GET", "/storage/v1/b/versioned-bucket/o?versions=true");
    assert.deepEqual(
      list.body.items.map((o: { generation: string }) => o.generation),
      [g1, g2],
    );
    assert.ok(list.body.items[0].timeDeleted);
    const old = await raw(h, "GET", `/storage/v1/b/versioned-bucket/o/v.txt?alt=media&generation=${g1}`);
    assert.equal(old.body.toString(), "one");
    assert.equal((await h.call("DELETE", "/storage/v1/b/versioned-bucket/o/v.txt")).status, 204);
    assert.equal((await h.call("GET", "/storage/v1/b/versioned-bucket/o/v.txt")).status, 404);
    const after = await h.call("GET", "/storage/v1/b/versioned-bucket/o?versions=true");
    assert.equal(after.body.items.length, 2);
    const live = await h.call("GET", "/storage/v1/b/versioned-bucket/o");
    assert.equal(live.body.items, undefined);
  });

  test("bad input: object names, uploadType, Content-Range, truncated multipart; nothing written", async () => {
    for (const name of ["", ".", "..", "a\nb", "x".repeat(1025), "\u0001"]) {
      const r = await upload(h, name, "x");
      assert.ok(r.status === 400, `${JSON.stringify(name.slice(0, 10))}: ${r.status}`);
      assert.ok(r.json.error.message, "Google-shaped error");
    }
    // A lone surrogate (JSON) and bytes that are not UTF-8 (query).
    const surrogate = multipartBody("s", { name: "\ud800" }, Buffer.from("x"));
    const lone = await raw(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=multipart`, {
      headers: { "content-type": "multipart/related; boundary=s" },
      body: Buffer.from(surrogate.toString("utf8").replace("\ufffd", "\\ud800")),
    });
    assert.equal(lone.status, 400, lone.body.toString());
    // Fields that come back as download headers must be header-safe (fuzz seed 922476044).
    const snowman = multipartBody("u", { name: "typed.txt", contentType: "text/\u2603" }, Buffer.from("x"));
    const typed = await raw(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=multipart`, {
      headers: { "content-type": "multipart/related; boundary=u" },
      body: snowman,
    });
    assert.equal(typed.status, 400, typed.body.toString());
    assert.match(typed.json.error.message, /contentType: only printable ASCII/);
    const notUtf8 = await raw(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=media&name=%FF%FE`, {
      body: "x",
    });
    assert.equal(notUtf8.status, 400, notUtf8.body.toString());
    const badUtf8 = await raw(h, "GET", `/storage/v1/b/${B}/o/%FF%FE`);
    assert.ok(badUtf8.status >= 400 && badUtf8.status < 500);
    assert.equal((await raw(h, "POST", `/upload/storage/v1/b/${B}/o?name=x`, { body: "x" })).status, 400);
    assert.equal(
      (await raw(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=weird&name=x`, { body: "x" })).status,
      400,
    );
    const data = randomBytes(100_000);
    const truncated = multipartBody("zz", { name: "trunc.bin" }, data).subarray(0, 60_000);
    const t = await raw(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=multipart`, {
      headers: { "content-type": "multipart/related; boundary=zz" },
      body: truncated,
    });
    assert.equal(t.status, 400);
    assert.match(t.json.error.message, /closing boundary/);
    assert.equal((await h.call("GET", `/storage/v1/b/${B}/o/trunc.bin`)).status, 404);
    // No temp file survives a failed upload.
    assert.deepEqual(readdirSync(join(h.stateDir, "storage", "tmp")), []);
  });

  test("an interrupted upload leaves no object and no temp file", async () => {
    const tmpDir = join(h.stateDir, "storage", "tmp");
    await new Promise<void>((resolve) => {
      const req = request(new URL(`/upload/storage/v1/b/${B}/o?uploadType=media&name=cut.bin`, h.url), {
        method: "POST",
        headers: { authorization: `Bearer ${h.adminToken}`, "content-length": 1_000_000 },
      });
      req.on("error", () => resolve());
      req.write(randomBytes(200_000), () => setTimeout(() => req.destroy(), 100));
    });
    // The server notices the cut asynchronously: wait for the temp file to go, with a deadline.
    await eventually(
      "the cut upload's temp file removed",
      () => readdirSync(tmpDir),
      (files) => files.length === 0,
    );
    assert.equal((await h.call("GET", `/storage/v1/b/${B}/o/cut.bin`)).status, 404);
    // Audited as the client's abort (499), once, and never as a stored object.
    const cut = (e: { method: string; checks?: { resource: string }[] }) =>
      e.method === "POST" && (e.checks ?? []).some((c) => c.resource.endsWith("/objects/cut.bin"));
    const audited = await eventually(
      "the cut upload audited",
      () => auditEntries(h).filter(cut),
      (es) => es.length > 0,
    );
    assert.deepEqual(
      audited.map((e) => e.status),
      [499],
    );
  });
});

describe("Cloud Storage resumable uploads (GCS's protocol rules)", () => {
  let h: Harness;
  const K = 256 * 1024;
  before(async () => {
    h = await startHarness();
    await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: B } });
  });
  after(() => h.close());

  async function start(name: string, extra: Record<string, string> = {}, query = "") {
    const r = await raw(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=resumable${query}`, {
      headers: { "content-type": "application/json", ...extra },
      body: JSON.stringify({ name, metadata: { via: "resumable" } }),
    });
    assert.equal(r.status, 200, r.body.toString());
    const location = r.headers.location as string;
    assert.ok(location.startsWith(`${h.url}/upload/storage/v1/b/${B}/o?`), location);
    const u = new URL(location);
    return u.pathname + u.search;
  }
  const put = (session: string, range: string | undefined, body?: Buffer, token: string | null = null) =>
    raw(h, "PUT", session, {
      token,
      headers: range ? { "content-range": range } : {},
      ...(body ? { body } : {}),
    });

  test("chunks of 256 KiB: 308 with exact Range, status queries, resume, final 200", async () => {
    const data = randomBytes(3 * K + 1234);
    const s = await start("r/chunked.bin", { "x-upload-content-type": "application/x-test" });
    const q0 = await put(s, "bytes */*");
    assert.equal(q0.status, 308);
    assert.equal(q0.headers.range, undefined, "no Range when nothing is persisted");
    const c1 = await put(s, `bytes 0-${K - 1}/*`, data.subarray(0, K));
    assert.equal(c1.status, 308);
    assert.equal(c1.headers.range, `bytes=0-${K - 1}`);
    // A retry overlapping persisted bytes is placed by offset, not appended.
    const c2 = await put(s, `bytes 0-${2 * K - 1}/*`, data.subarray(0, 2 * K));
    assert.equal(c2.headers.range, `bytes=0-${2 * K - 1}`);
    // A gap is refused.
    const gap = await put(s, `bytes ${3 * K}-${4 * K - 1}/*`, data.subarray(0, K));
    assert.equal(gap.status, 400);
    // A status query with the total does not finalise while bytes are missing.
    const q1 = await put(s, `bytes */${data.length}`);
    assert.equal(q1.status, 308);
    assert.equal(q1.headers.range, `bytes=0-${2 * K - 1}`);
    // A non-multiple chunk counts only whole 256 KiB units.
    const odd = await put(s, `bytes ${2 * K}-${3 * K + 99}/*`, data.subarray(2 * K, 3 * K + 100));
    assert.equal(odd.headers.range, `bytes=0-${3 * K - 1}`);
    const nonEmptyQuery = await put(s, "bytes */*", Buffer.from("x"));
    assert.equal(nonEmptyQuery.status, 400);
    const last = await put(s, `bytes ${3 * K}-${data.length - 1}/${data.length}`, data.subarray(3 * K));
    assert.equal(last.status, 200, last.body.toString());
    assert.equal(last.json.size, String(data.length));
    assert.equal(last.json.md5Hash, md5(data));
    assert.equal(last.json.contentType, "application/x-test");
    assert.deepEqual(last.json.metadata, { via: "resumable" });
    // Queries after completion answer with the object.
    const done = await put(s, "bytes */*");
    assert.equal(done.status, 200);
    assert.equal(done.json.generation, last.json.generation);
    const back = await raw(h, "GET", `/storage/v1/b/${B}/o/r%2Fchunked.bin?alt=media`);
    assert.deepEqual(back.body, data);
  });

  test("Node's single shot (bytes 0-*/*), interrupted then resumed", async () => {
    const data = randomBytes(2 * K + 10);
    const s = await start("r/node.bin");
    const whole = await put(s, "bytes 0-*/*", data);
    assert.equal(whole.status, 200, whole.body.toString());
    assert.equal(whole.json.crc32c, crc(data));

    const s2 = await start("r/resumed.bin");
    await new Promise<void>((resolve) => {
      const req = request(new URL(s2, h.url), {
        method: "PUT",
        headers: { "content-range": "bytes 0-*/*", "content-length": data.length },
      });
      req.on("error", () => resolve());
      req.write(data.subarray(0, K + 5), () => setTimeout(() => req.destroy(), 100));
    });
    // Wait until the server has finished with the cut request (audited as the client's 499).
    const sessionPath = new URL(s2, h.url).pathname;
    await eventually(
      "the cut chunk audited",
      () => auditEntries(h).filter((e) => e.method === "PUT" && e.path === sessionPath),
      (es) => es.some((e) => e.status === 499),
    );
    // K + 5 bytes arrived before the cut. Warrant credits no byte of a request that failed
    // (docs/storage.md), so nothing is persisted and the client resumes from 0. (GCS would keep
    // the K bytes of the whole 256 KiB unit; either way never the 5 of the unfinished one.)
    const q = await put(s2, "bytes */*");
    assert.equal(q.status, 308);
    assert.equal(q.headers.range, undefined, "nothing of the failed request is credited");
    const persisted = 0;
    const rest = await put(s2, `bytes ${persisted}-*/*`, data.subarray(persisted));
    assert.equal(rest.status, 200, rest.body.toString());
    assert.equal(rest.json.md5Hash, md5(data));
  });

  test("a query declaring the persisted total finalises; empty objects; cancel → 499", async () => {
    const s = await start("r/empty.bin");
    const r = await put(s, "bytes */0");
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.json.size, "0");
    const c = await start("r/cancel.bin");
    const del = await raw(h, "DELETE", c, { token: null });
    assert.equal(del.status, 499);
    assert.equal((await put(c, "bytes */*")).status, 404);
    assert.equal((await h.call("GET", `/storage/v1/b/${B}/o/r%2Fcancel.bin`)).status, 404);
  });

  test("bad Content-Range, mismatched totals, unknown sessions", async () => {
    const s = await start("r/bad.bin");
    for (const range of [
      "bytes 5-1/10",
      "bytes 0-9/5",
      "bites 0-1/2",
      "bytes 0-1/*x",
      `bytes 0-${"9".repeat(30)}/*`,
    ]) {
      const r = await put(s, range, Buffer.alloc(2));
      assert.equal(r.status, 400, range);
    }
    const lie = await put(s, "bytes 0-9/10", Buffer.alloc(4));
    assert.equal(lie.status, 400, "Content-Length disagrees with Content-Range");
    assert.equal(
      (await put(`/upload/storage/v1/b/${B}/o?uploadType=resumable&upload_id=nope`, "bytes */*")).status,
      404,
    );
    const u = new URL(s, h.url);
    u.searchParams.set("upload_id", `${u.searchParams.get("upload_id")!.slice(0, -2)}AA`);
    assert.equal(
      (await put(u.pathname + u.search, "bytes */*")).status,
      404,
      "ids are not guessable by prefix",
    );
  });

  test("preconditions apply to resumable uploads; alternative spellings accepted", async () => {
    await raw(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=media&name=r%2Fonce`, { body: "x" });
    const refused = await raw(
      h,
      "POST",
      `/upload/storage/v1/b/${B}/o?uploadType=resumable&ifGenerationMatch=0`,
      {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "r/once" }),
      },
    );
    assert.equal(refused.status, 412);
    const alt = await raw(h, "POST", `/resumable/upload/storage/v1/b/${B}/o?name=r%2Falt`, {});
    assert.equal(alt.status, 200);
    assert.ok(alt.headers.location);
    const proto = await raw(h, "POST", `/upload/storage/v1/b/${B}/o?name=r%2Fproto`, {
      headers: { "x-goog-upload-protocol": "resumable" },
    });
    assert.equal(proto.status, 200);
  });

  test("a restart keeps sessions; temp files of unfinished simple uploads are cleared", async () => {
    const data = randomBytes(K + 7);
    // An object of this test's own, whose blob the sweep must keep.
    const keep = randomBytes(2 * K + 10);
    const done = await put(await start("r/kept.bin"), "bytes 0-*/*", keep);
    assert.equal(done.status, 200, done.body.toString());
    const s = await start("r/restart.bin");
    assert.equal((await put(s, `bytes 0-${K - 1}/*`, data.subarray(0, K))).status, 308);
    // What a crash leaves behind: a blob no object refers to, a session file without a session.
    const storage = join(h.stateDir, "storage");
    const orphanBlob = join(storage, "blobs", "zz", "zzzzzzzzzzzzzzzzzzzzzz");
    const orphanUpload = join(storage, "uploads", "yyyyyyyyyyyyyyyyyyyyyy");
    mkdirSync(dirname(orphanBlob), { recursive: true });
    writeFileSync(orphanBlob, "orphan");
    writeFileSync(orphanUpload, "orphan");
    const past = new Date(Date.now() - 60_000);
    utimesSync(orphanBlob, past, past);
    utimesSync(orphanUpload, past, past);
    await h.restart();
    await eventually(
      "the orphans swept after the restart",
      () => [existsSync(orphanBlob), existsSync(orphanUpload)],
      (left) => !left[0] && !left[1],
    );
    const kept = await raw(h, "GET", `/storage/v1/b/${B}/o/r%2Fkept.bin?alt=media`);
    assert.equal(kept.status, 200, "referenced blobs survive the sweep");
    assert.deepEqual(kept.body, keep);
    const q = await put(s, "bytes */*");
    assert.equal(q.headers.range, `bytes=0-${K - 1}`);
    const fin = await put(s, `bytes ${K}-${data.length - 1}/${data.length}`, data.subarray(K));
    assert.equal(fin.status, 200, fin.body.toString());
    assert.equal(fin.json.md5Hash, md5(data), "hash recomputed from disk after the restart");
    assert.ok(existsSync(join(h.stateDir, "storage", "blobs")));
  });
});

describe("Cloud Storage objects: enforcement", () => {
  let h: Harness;
  const RO = "https://www.googleapis.com/auth/devstorage.read_only";
  before(async () => {
    h = await startHarness();
    await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: B } });
    await upload(h, "seen.txt", "visible");
  });
  after(() => h.close());

  async function grantOnBucket(member: string, role: string) {
    const pol = await h.call("GET", `/storage/v1/b/${B}/iam`);
    pol.body.bindings.push({ role, members: [member] });
    const r = await h.call("PUT", `/storage/v1/b/${B}/iam`, { body: pol.body });
    assert.equal(r.status, 200, r.text);
  }

  test("objectViewer reads and lists but gets 403 naming storage.objects.create on upload", async () => {
    await grantOnBucket("user:viewer@example.com", "roles/storage.objectViewer");
    const t = await tokenAs(h, "user:viewer@example.com");
    assert.equal((await h.call("GET", `/storage/v1/b/${B}/o`, { token: t })).status, 200);
    const media = await raw(h, "GET", `/storage/v1/b/${B}/o/seen.txt?alt=media`, { token: t });
    assert.equal(media.body.toString(), "visible");
    const up = await upload(h, "no.txt", "x", {}, t);
    assert.equal(up.status, 403);
    assert.match(
      up.json.error.message,
      /viewer@example\.com does not have storage\.objects\.create access to the Google Cloud Storage object/,
    );
    const init = await raw(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=resumable&name=no.txt`, {
      token: t,
    });
    assert.equal(init.status, 403);
  });

  test("objectCreator can create but not overwrite (needs storage.objects.delete)", async () => {
    await grantOnBucket("user:creator@example.com", "roles/storage.objectCreator");
    const t = await tokenAs(h, "user:creator@example.com");
    assert.equal((await upload(h, "created.txt", "x", {}, t)).status, 200);
    const over = await upload(h, "created.txt", "y", {}, t);
    assert.equal(over.status, 403);
    assert.match(over.json.error.message, /storage\.objects\.delete/);
  });

  test("a read-only scope cannot upload even as storage admin", async () => {
    const t = await tokenAs(h, "user:admin@warrant.local", [RO]);
    assert.equal((await h.call("GET", `/storage/v1/b/${B}/o`, { token: t })).status, 200);
    const up = await upload(h, "scoped.txt", "x", {}, t);
    assert.equal(up.status, 403);
    assert.equal(up.json.error.errors[0].reason, "insufficientPermissions");
  });

  test("allUsers objectViewer: anonymous reads work, anonymous writes are 401", async () => {
    const anon = await raw(h, "GET", `/storage/v1/b/${B}/o/seen.txt?alt=media`, { token: null });
    assert.equal(anon.status, 401);
    assert.match(anon.json.error.message, /^Anonymous caller does not have storage\.objects\.get access/);
    await grantOnBucket("allUsers", "roles/storage.objectViewer");
    const ok = await raw(h, "GET", `/storage/v1/b/${B}/o/seen.txt?alt=media`, { token: null });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), "visible");
    const w = await upload(h, "anon.txt", "x", {}, null);
    assert.equal(w.status, 401);
    assert.equal(w.json.error.errors[0].reason, "required");
  });

  test("no role at all: listing objects is 403 naming storage.objects.list", async () => {
    await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: "private-bucket" } });
    const t = await tokenAs(h, "user:nobody@example.com");
    const r = await h.call("GET", "/storage/v1/b/private-bucket/o", { token: t });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /storage\.objects\.list/);
  });
});
