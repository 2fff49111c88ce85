/**
 * Attack: abuse byte ranges — ask for many overlapping ranges to amplify a download, push numbers
 * past what a double holds, probe an unreadable object's size through 416's `Content-Range`, or
 * send resumable-upload chunks whose `Content-Range` lies about their bytes. Downloads never
 * answer more than the object once, refuse before any range logic when the caller may not read,
 * and a lying chunk is a 400 that commits nothing.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const P = "demo-project";
const B = "range-abuse";
const SIZE = 1000;

describe("attack: range abuse", () => {
  let h: Harness;
  const data = randomBytes(SIZE);
  const get = async (range: string, token?: string | null, method = "GET") => {
    const headers: Record<string, string> = { range };
    const t = token === undefined ? h.adminToken : token;
    if (t) headers.authorization = `Bearer ${t}`;
    const r = await fetch(`${h.url}/storage/v1/b/${B}/o/data.bin?alt=media`, { method, headers });
    return {
      status: r.status,
      contentRange: r.headers.get("content-range"),
      body: Buffer.from(await r.arrayBuffer()),
    };
  };

  before(async () => {
    h = await startHarness({ agents: false });
    assert.equal((await h.call("POST", `/storage/v1/b?project=${P}`, { body: { name: B } })).status, 200);
    const up = await fetch(`${h.url}/upload/storage/v1/b/${B}/o?uploadType=media&name=data.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/octet-stream" },
      body: data,
    });
    assert.equal(up.status, 200);
  });
  after(() => h.close());

  test("many or overlapping ranges are not amplified: the object is served once, whole", async () => {
    for (const range of [
      "bytes=0-0,0-0,0-0",
      `bytes=${Array.from({ length: 1000 }, () => "0-999").join(",")}`,
      "bytes=0-499,250-999",
    ]) {
      const r = await get(range);
      assert.equal(r.status, 200, range.slice(0, 30));
      assert.equal(r.body.length, SIZE);
      assert.deepEqual(r.body, data);
    }
  });

  test("numbers past 2^53 and reversed ranges never wrap or underflow", async () => {
    const huge = "9".repeat(30);
    const cases: [string, number, number | null][] = [
      [`bytes=0-${huge}`, 206, SIZE],
      [`bytes=-${huge}`, 206, SIZE],
      [`bytes=${huge}-`, 200, SIZE],
      ["bytes=500-100", 200, SIZE],
      ["bytes=-0", 416, null],
      ["bytes=1000-", 416, null],
      ["bytes=abc-def", 200, SIZE],
      ["items=0-10", 200, SIZE],
    ];
    for (const [range, status, length] of cases) {
      const r = await get(range);
      assert.equal(r.status, status, range.slice(0, 40));
      if (length !== null) assert.equal(r.body.length, length, range.slice(0, 40));
      if (status === 206) assert.equal(r.contentRange, `bytes 0-${SIZE - 1}/${SIZE}`);
    }
  });

  test("a caller who may not read learns nothing, not even the size, from a range", async () => {
    const nobody = await tokenAs(h, "user:nobody@example.com");
    for (const [token, status] of [
      [nobody, 403],
      [null, 401],
    ] as const) {
      for (const range of ["bytes=999999-", "bytes=0-0", "bytes=-1"]) {
        const r = await get(range, token);
        assert.equal(r.status, status, `${range} as ${token ? "nobody" : "anonymous"}`);
        assert.equal(r.contentRange, null);
        assert.ok(!r.body.includes(data.subarray(0, 16)), "no object bytes");
        assert.doesNotMatch(r.body.toString("utf8"), new RegExp(`\\b${SIZE}\\b`), "not the size");
      }
    }
  });

  test("resumable chunks whose Content-Range lies are refused, and nothing is committed", async () => {
    const start = await fetch(`${h.url}/upload/storage/v1/b/${B}/o?uploadType=resumable&name=chunked.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(start.status, 200);
    const session = start.headers.get("location")!;
    const put = (contentRange: string, body: Buffer) =>
      fetch(session, {
        method: "PUT",
        headers: { "content-range": contentRange },
        body: new Uint8Array(body),
      });
    for (const [range, body] of [
      ["bytes 0-999/1000", randomBytes(10)],
      ["bytes 0-9/5", randomBytes(10)],
      ["bytes 9-0/*", randomBytes(10)],
      [`bytes 0-9/${"9".repeat(20)}`, randomBytes(10)],
      ["bytes 500-509/*", randomBytes(10)],
      ["bytes -1-9/*", randomBytes(10)],
    ] as const) {
      const r = await put(range, body);
      assert.ok(r.status === 400 || r.status === 416 || r.status === 503, `${range}: ${r.status}`);
      await r.arrayBuffer();
    }
    const listed = await h.call("GET", `/storage/v1/b/${B}/o?prefix=chunked`);
    assert.equal(listed.body.items, undefined, "no object was committed");
    // The session is intact: an honest chunk still completes it.
    const done = await put("bytes 0-9/10", randomBytes(10));
    assert.equal(done.status, 200, await done.text());
  });
});
