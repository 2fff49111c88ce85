/**
 * The console's storage pieces. First the resumable upload's byte accounting (console/src/upload.ts,
 * pure), then the same module's I/O against a real Warrant server in Node, with requests cut by the
 * test: before the chunk leaves, after the server kept it but before its answer arrives, and in the
 * middle of the chunk's body. Each time the upload asks the session what it kept
 * (`Content-Range: bytes *\/N`) and finishes with an object byte-identical to the file.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { type Harness, startHarness } from "../support/harness.js";
import {
  assertMoving,
  checkPage,
  chromiumMissing,
  grant,
  launch,
  PASSWORD,
  sampleProgress,
  signedIn,
  type UserBrowser,
} from "./fleet-support.js";
import { ADMIN, CookieJar, consoleSignIn, userWithPassword } from "./support.js";
import { loadUploadModule, type UploadModule } from "./upload-module.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("base64");

let U: UploadModule;
before(async () => {
  U = await loadUploadModule();
});

describe("resumable upload: byte accounting", () => {
  test("chunks are positive multiples of 256 KiB; about 20 per upload, between 256 KiB and 8 MiB", () => {
    assert.equal(U.CHUNK_UNIT, 262144);
    assert.equal(U.alignChunk(1), 262144);
    assert.equal(U.alignChunk(0), 262144);
    assert.equal(U.alignChunk(Number.NaN), 262144);
    assert.equal(U.alignChunk(600 * KiB), 512 * KiB);
    assert.equal(U.alignChunk(MiB), MiB);
    assert.equal(U.chooseChunkSize(0), 256 * KiB);
    assert.equal(U.chooseChunkSize(1000), 256 * KiB);
    assert.equal(U.chooseChunkSize(6 * MiB), 512 * KiB);
    assert.equal(U.chooseChunkSize(20 * MiB), MiB);
    assert.equal(U.chooseChunkSize(10 * 1024 * MiB), 8 * MiB);
    for (const n of [1, 300 * KiB, 5 * MiB + 7, 123 * MiB, 4096 * MiB])
      assert.equal(U.chooseChunkSize(n) % U.CHUNK_UNIT, 0, String(n));
  });

  test("Range header: bytes=0-N means N+1 kept; none means nothing kept; anything else is refused", () => {
    assert.equal(U.persistedFromRange(null), 0);
    assert.equal(U.persistedFromRange(""), 0);
    assert.equal(U.persistedFromRange("bytes=0-262143"), 262144);
    assert.equal(U.persistedFromRange("bytes=0-0"), 1);
    assert.throws(() => U.persistedFromRange("bytes=5-10"), /unexpected Range/);
    assert.throws(() => U.persistedFromRange("0-10"), /unexpected Range/);
    assert.throws(() => U.persistedFromRange("bytes=0-"), /unexpected Range/);
  });

  test("next chunk: aligned, total unknown until the last, which carries it; an empty file is */0", () => {
    const c = 256 * KiB;
    assert.deepEqual(U.nextChunk(0, 600 * KiB, c), {
      start: 0,
      end: c,
      last: false,
      contentRange: "bytes 0-262143/*",
    });
    assert.deepEqual(U.nextChunk(2 * c, 600 * KiB, c), {
      start: 2 * c,
      end: 600 * KiB,
      last: true,
      contentRange: `bytes ${2 * c}-${600 * KiB - 1}/${600 * KiB}`,
    });
    // A file of exactly one chunk is one final chunk.
    assert.equal(U.nextChunk(0, c, c).contentRange, `bytes 0-${c - 1}/${c}`);
    assert.deepEqual(U.nextChunk(0, 0, c), { start: 0, end: 0, last: true, contentRange: "bytes */0" });
    // Resuming where the server says, even mid-way through what was sent, keeps alignment of the
    // chunk's size (the server counts only whole units, so its offsets are multiples too).
    assert.equal(U.nextChunk(c, 10 * c, 3 * c + 5).end, c + 3 * c);
    assert.throws(() => U.nextChunk(-1, 10, c), /Cannot resume/);
    assert.throws(() => U.nextChunk(11, 10, c), /Cannot resume/);
    assert.throws(() => U.nextChunk(1.5, 10, c), /Cannot resume/);
    assert.equal(U.statusQueryRange(1234), "bytes */1234");
  });

  test("walking a file chunk by chunk covers every byte once", () => {
    for (const total of [1, 256 * KiB, 256 * KiB + 1, 3 * MiB + 17]) {
      const chunk = U.chooseChunkSize(total);
      let at = 0;
      let n = 0;
      for (;;) {
        const c = U.nextChunk(at, total, chunk);
        assert.equal(c.start, at);
        if (!c.last) assert.equal((c.end - c.start) % U.CHUNK_UNIT, 0);
        at = c.end;
        n++;
        if (c.last) break;
      }
      assert.equal(at, total);
      assert.equal(n, Math.ceil(total / chunk));
    }
  });

  test("what the server claims is checked: never past the file, never past what was sent", () => {
    assert.equal(U.checkPersisted(0, 100, 50), 0);
    assert.equal(U.checkPersisted(50, 100, 50), 50);
    assert.throws(() => U.checkPersisted(101, 100, 101), /claims 101 bytes of a 100-byte file/);
    assert.throws(() => U.checkPersisted(60, 100, 50), /only 50 were sent/);
  });

  test("progress reaches 1 only when the upload completed; backoff doubles up to 8 s", () => {
    assert.equal(U.fractionDone(0, 0, false), 0);
    assert.equal(U.fractionDone(50, 100, false), 0.5);
    assert.ok(U.fractionDone(100, 100, false) < 1);
    assert.equal(U.fractionDone(100, 100, true), 1);
    assert.deepEqual([1, 2, 3, 6, 7, 20].map(U.backoffMs), [250, 500, 1000, 8000, 8000, 8000]);
  });

  test("the session URI must be under the base it was asked from", () => {
    assert.equal(
      U.sessionPath(
        "http://h:1/console/api/upload/storage/v1/b/b/o?uploadType=resumable&upload_id=x",
        "/console/api",
        "http://h:1",
      ),
      "/upload/storage/v1/b/b/o?uploadType=resumable&upload_id=x",
    );
    assert.throws(
      () => U.sessionPath("http://evil:1/console/api/upload/x", "/console/api", "http://h:1"),
      /unexpected address/,
    );
    assert.throws(() => U.sessionPath("http://h:1/upload/x", "/console/api", "http://h:1"), /unexpected/);
  });
});

describe("resumable upload against a real server, with the network cut", () => {
  let h: Harness;
  const BUCKET = "console-upload-test";
  before(async () => {
    h = await startHarness({ agents: false });
    const r = await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: BUCKET } });
    assert.equal(r.status, 200, r.text);
  });
  after(() => h.close());

  /** fetch, recording each PUT's Content-Range, with a hook that may cut a request. */
  function recordingFetch(
    cut: (n: number, init: RequestInit, range: string) => "before" | "after" | "mid" | null,
  ) {
    const ranges: string[] = [];
    let n = 0;
    const f = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
      if (init.method !== "PUT") return fetch(input, init);
      const range = (init.headers as Record<string, string>)["Content-Range"]!;
      ranges.push(range);
      const how = cut(n++, init, range);
      if (how === "before") throw new TypeError("fetch failed (cut by the test before sending)");
      if (how === "after") {
        const res = await fetch(input, init);
        await res.arrayBuffer();
        throw new TypeError("fetch failed (answer lost, cut by the test)");
      }
      if (how === "mid") {
        // Send the first 300 KiB of the chunk, then break the body: the connection is reset mid-chunk.
        const bytes = new Uint8Array(await (init.body as Blob).arrayBuffer());
        const ctl = new AbortController();
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(bytes.subarray(0, 300 * KiB));
          },
          pull() {
            return new Promise((resolve) =>
              setTimeout(() => {
                ctl.abort();
                resolve();
              }, 200),
            );
          },
        });
        try {
          await fetch(input, { ...init, body, signal: ctl.signal, duplex: "half" } as RequestInit);
        } catch {
          // What a browser's fetch gives when the connection breaks.
          throw new TypeError("fetch failed (connection cut mid-chunk by the test)");
        }
        throw new Error("the cut request completed");
      }
      return fetch(input, init);
    }) as typeof fetch;
    return { f, ranges };
  }

  async function uploadWith(
    name: string,
    data: Buffer,
    cut: Parameters<typeof recordingFetch>[0],
    via: { base: string; headers: Record<string, string> } = {
      base: h.url,
      headers: { Authorization: `Bearer ${h.adminToken}` },
    },
  ) {
    const { f, ranges } = recordingFetch(cut);
    const progress: number[] = [];
    const phases: string[] = [];
    const up = new U.ResumableUpload({
      bucket: BUCKET,
      name,
      data: new Blob([new Uint8Array(data)]),
      contentType: "application/octet-stream",
      chunkBytes: 512 * KiB,
      base: via.base,
      headers: via.headers,
      fetch: f,
      sleep: () => Promise.resolve(),
      onProgress: (p) => {
        progress.push(p.persisted);
        phases.push(p.phase);
      },
    });
    const obj = (await up.run()) as { name: string; size: string; md5Hash: string };
    return { obj, ranges, progress, phases };
  }

  async function storedMd5(name: string) {
    const r = await h.call("GET", `/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}`);
    assert.equal(r.status, 200, r.text);
    const bytes = await fetch(`${h.url}/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}?alt=media`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    return { meta: r.body, md5: md5(new Uint8Array(await bytes.arrayBuffer())) };
  }

  test("uninterrupted: every chunk 512 KiB, total named only by the last, progress per chunk", async () => {
    const data = randomBytes(3 * MiB + 1000);
    const { obj, ranges, progress, phases } = await uploadWith("plain.bin", data, () => null);
    assert.equal(obj.size, String(data.length));
    assert.equal(obj.md5Hash, md5(data));
    assert.equal(ranges.length, 7);
    assert.equal(ranges[0], `bytes 0-${512 * KiB - 1}/*`);
    assert.equal(ranges[6], `bytes ${6 * 512 * KiB}-${data.length - 1}/${data.length}`);
    // Progress: 0, then one step a chunk, each the server's confirmed bytes, then the total.
    assert.deepEqual(progress, [0, 0, 1, 2, 3, 4, 5, 6].map((k) => k * 512 * KiB).concat([data.length]));
    assert.equal(phases.at(-1), "done");
    assert.equal((await storedMd5("plain.bin")).md5, md5(data));
  });

  test("a chunk cut before it left: the status query says what was kept; the upload resumes from there", async () => {
    const data = randomBytes(2 * MiB + 5);
    const { obj, ranges, phases } = await uploadWith("cut-before.bin", data, (n) =>
      n === 2 ? "before" : null,
    );
    assert.equal(obj.md5Hash, md5(data));
    // Chunks 0 and 1, the cut chunk 2, the status query, chunk 2 again, then 3 and the last.
    assert.equal(ranges[3], `bytes */${data.length}`);
    assert.equal(ranges[4], ranges[2]);
    assert.ok(phases.includes("recovering"));
    assert.equal((await storedMd5("cut-before.bin")).md5, md5(data));
  });

  test("a chunk the server kept whose answer was lost: the upload resumes after it, not at it", async () => {
    const data = randomBytes(2 * MiB + 5);
    const { obj, ranges } = await uploadWith("cut-after.bin", data, (n) => (n === 1 ? "after" : null));
    assert.equal(obj.md5Hash, md5(data));
    assert.equal(ranges[2], `bytes */${data.length}`);
    // The server had chunk 1: the next PUT is chunk 2, not chunk 1 again.
    assert.equal(ranges[3], `bytes ${1024 * KiB}-${1536 * KiB - 1}/*`);
    assert.equal((await storedMd5("cut-after.bin")).md5, md5(data));
  });

  test("a chunk cut mid-body: the server kept whole 256 KiB units at most; the upload resumes from its Range", async () => {
    const data = randomBytes(2 * MiB + 5);
    const { obj, ranges } = await uploadWith("cut-mid.bin", data, (n) => (n === 1 ? "mid" : null));
    assert.equal(obj.md5Hash, md5(data));
    assert.equal(ranges[2], `bytes */${data.length}`);
    // Resumed at a multiple of 256 KiB between the start of the cut chunk and its 300 KiB.
    const resumedAt = Number(/^bytes (\d+)-/.exec(ranges[3]!)![1]);
    assert.ok(resumedAt === 512 * KiB || resumedAt === 768 * KiB, ranges[3]);
    assert.equal((await storedMd5("cut-mid.bin")).md5, md5(data));
  });

  test("through the console's forwarder, signed in: a chunk cut mid-body is resumed from what the API kept", async () => {
    await userWithPassword(h, ADMIN, PASSWORD);
    const jar = new CookieJar();
    const signed = await consoleSignIn(h, ADMIN, PASSWORD, jar);
    assert.equal(signed.status, 303);
    const via = {
      base: `${h.url}/console/api`,
      headers: { cookie: jar.header(), "X-Warrant-Console": "1", Origin: h.url },
    };
    const data = randomBytes(2 * MiB + 5);
    const { obj, ranges } = await uploadWith("via-console.bin", data, (n) => (n === 2 ? "mid" : null), via);
    assert.equal(obj.md5Hash, md5(data));
    assert.equal(ranges[3], `bytes */${data.length}`);
    const resumedAt = Number(/^bytes (\d+)-/.exec(ranges[4]!)![1]);
    assert.ok(resumedAt === 1024 * KiB || resumedAt === 1280 * KiB, ranges[4]);
    assert.equal((await storedMd5("via-console.bin")).md5, md5(data));
  });

  test("a cancelled upload ends its session on the server: the session URI answers 404 afterwards", async () => {
    const ctl = new AbortController();
    const up = new U.ResumableUpload({
      bucket: BUCKET,
      name: "cancelled.bin",
      data: new Blob([new Uint8Array(randomBytes(2 * MiB))]),
      chunkBytes: 256 * KiB,
      base: h.url,
      headers: { Authorization: `Bearer ${h.adminToken}` },
      signal: ctl.signal,
      onProgress: (p) => {
        if (p.persisted >= 512 * KiB) ctl.abort();
      },
    });
    await assert.rejects(up.run(), { name: "AbortError" });
    assert.ok(up.sessionUri, "the session had started");
    const status = await fetch(`${h.url}${up.sessionUri}`, {
      method: "PUT",
      headers: { "Content-Range": "bytes */2097152" },
    });
    assert.equal(status.status, 404, await status.text());
    assert.equal((await h.call("GET", `/storage/v1/b/${BUCKET}/o/cancelled.bin`)).status, 404);
  });

  test("a denial is the API's error, not a retry; repeated network errors give up with where it stopped", async () => {
    const denied = new U.ResumableUpload({
      bucket: "no-such-bucket-anywhere",
      name: "x",
      data: new Blob([new Uint8Array(10)]),
      base: h.url,
      headers: { Authorization: `Bearer ${h.adminToken}` },
    });
    await assert.rejects(denied.run(), /404/);
    const data = randomBytes(MiB);
    await assert.rejects(
      uploadWith("never.bin", data, (n) => (n >= 1 ? "before" : null)),
      /stopped after 6 network errors in a row at byte 524288 of 1048576/,
    );
  });
});

describe("the storage page in Chromium", { skip: chromiumMissing() ?? false }, () => {
  let h: Harness;
  let browser: Browser;
  let tab: UserBrowser;
  const BUCKET = "console-browser-bucket";
  const P = "demo-project";
  before(async () => {
    h = await startHarness({ agents: false });
    browser = await launch();
    tab = await signedIn(h, browser, "admin@warrant.local");
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  test("create a bucket, upload into a folder, navigate by prefix, download, delete", async () => {
    const { page } = tab;
    await page.goto(`${h.url}/console/storage?project=${P}`);
    await page.getByRole("heading", { name: /^Storage/ }).waitFor();
    await page.getByLabel(/Bucket name/).fill(BUCKET);
    await page.getByRole("button", { name: "Create bucket" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Created bucket ${BUCKET}` })
      .waitFor();
    assert.equal((await h.call("GET", `/storage/v1/b/${BUCKET}`)).status, 200);
    await page.locator(`[data-testid=bucket-row][data-name=${BUCKET}]`).waitFor();
    await checkPage(page, "storage-buckets");

    await page.getByTestId("bucket-row").getByRole("link", { name: BUCKET }).click();
    await page.getByText("This bucket is empty").waitFor();
    const text = "hello from the console\n";
    await page.getByLabel("File", { exact: true }).setInputFiles({
      name: "hello.txt",
      mimeType: "text/plain",
      buffer: Buffer.from(text),
    });
    await page.getByLabel(/Object name/).fill("docs/notes/hello.txt");
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await page.getByTestId("upload-done").waitFor();
    const stored = await h.call(
      "GET",
      `/storage/v1/b/${BUCKET}/o/${encodeURIComponent("docs/notes/hello.txt")}`,
    );
    assert.equal(stored.status, 200, stored.text);
    assert.equal(stored.body.contentType, "text/plain");
    assert.equal(stored.body.md5Hash, md5(Buffer.from(text)));

    // The bucket's root shows the folder, not the object; the folder's link goes one level down.
    await page.locator("[data-testid=folder-row][data-prefix='docs/']").waitFor();
    assert.equal(await page.getByTestId("object-row").count(), 0);
    await page.getByRole("link", { name: "docs/" }).click();
    await page.getByRole("link", { name: "notes/" }).click();
    assert.match(page.url(), /prefix=docs%2Fnotes%2F/);
    const row = page.locator("[data-testid=object-row][data-name='docs/notes/hello.txt']");
    await row.waitFor();
    assert.deepEqual(
      await page.getByRole("navigation", { name: "Folder" }).getByRole("link").allTextContents(),
      ["Buckets", BUCKET, "docs", "notes"],
    );
    await checkPage(page, "storage-objects");

    // Download: through the console's back end, alt=media, the same bytes.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.getByRole("link", { name: /Download/ }).click(),
    ]);
    assert.equal(download.suggestedFilename(), "hello.txt");
    const path = await download.path();
    assert.equal(readFileSync(path!, "utf8"), text);

    // Delete asks once more, then the object is gone from the API and the folder.
    await row.getByRole("button", { name: "Delete docs/notes/hello.txt" }).click();
    await row.getByRole("button", { name: "Delete hello.txt?" }).click();
    await page.getByTestId("folder-empty").waitFor();
    assert.equal(
      (await h.call("GET", `/storage/v1/b/${BUCKET}/o/${encodeURIComponent("docs/notes/hello.txt")}`)).status,
      404,
    );
    // The breadcrumb leads back to the bucket list.
    await page.getByRole("navigation", { name: "Folder" }).getByRole("link", { name: "Buckets" }).click();
    await page.locator(`[data-testid=bucket-row][data-name=${BUCKET}]`).waitFor();
    tab.assertNoErrors();
  });

  test("a 6 MiB upload survives two cut chunk requests: the bar moves and the object is whole", async () => {
    const { page } = tab;
    await page.goto(`${h.url}/console/storage?project=${P}&bucket=${BUCKET}`);
    await page.getByRole("heading", { name: `Bucket ${BUCKET}` }).waitFor();
    const data = randomBytes(6 * MiB + 123);
    // Cut the 3rd chunk before it leaves the browser, and the 6th after the server kept it (its
    // answer never reaches the page).
    let chunk = 0;
    const cut: string[] = [];
    await page.route("**/console/api/upload/**", async (route) => {
      const req = route.request();
      const range = req.headers()["content-range"] ?? "";
      if (req.method() !== "PUT" || range.startsWith("bytes */")) return route.continue();
      chunk++;
      if (chunk === 3) {
        cut.push(`before ${range}`);
        return route.abort("connectionreset");
      }
      if (chunk === 6) {
        const res = await route.fetch();
        cut.push(`after ${range} (server answered ${res.status()})`);
        return route.abort("connectionreset");
      }
      return route.continue();
    });
    await page.getByLabel("File", { exact: true }).setInputFiles({
      name: "big.bin",
      mimeType: "application/octet-stream",
      buffer: data,
    });
    const values = await sampleProgress(page, async () => {
      await page.getByRole("button", { name: "Upload", exact: true }).click();
      await page.getByTestId("upload-done").waitFor({ timeout: 60_000 });
    });
    await page.unroute("**/console/api/upload/**");
    assert.equal(cut.length, 2, cut.join("; "));
    assert.match(cut[1]!, /server answered 308/);
    assertMoving(values, data.length);
    await page.getByText("resumed after 2 network errors").waitFor();
    const stored = await h.call("GET", `/storage/v1/b/${BUCKET}/o/big.bin`);
    assert.equal(stored.body.size, String(data.length));
    assert.equal(stored.body.md5Hash, md5(data));
    // Chromium reports the two cut requests; nothing else may be logged.
    const resets = tab.errors.filter((e) => /net::ERR_CONNECTION_RESET/.test(e));
    assert.equal(resets.length, 2, tab.errors.join("\n"));
    tab.errors.splice(0, tab.errors.length, ...tab.errors.filter((e) => !resets.includes(e)));
    tab.assertNoErrors();
  });

  test("cancelling an upload stops it and ends its session: no object", async () => {
    const { page } = tab;
    await page.goto(`${h.url}/console/storage?project=${P}&bucket=${BUCKET}`);
    await page.getByRole("heading", { name: `Bucket ${BUCKET}` }).waitFor();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 5,
      downloadThroughput: -1,
      uploadThroughput: 512 * KiB,
    });
    const deletes: number[] = [];
    page.on("response", (r) => {
      if (r.request().method() === "DELETE" && r.url().includes("upload_id=")) deletes.push(r.status());
    });
    await page.getByLabel("File", { exact: true }).setInputFiles({
      name: "cancelled.bin",
      mimeType: "application/octet-stream",
      buffer: randomBytes(4 * MiB),
    });
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    const bar = page.locator("[data-testid=upload-progress] progress");
    await page.waitForFunction(
      () =>
        Number(document.querySelector("[data-testid=upload-progress] progress")?.getAttribute("value")) > 0,
    );
    assert.ok(Number(await bar.getAttribute("value")) < 4 * MiB);
    await page.getByRole("button", { name: "Cancel upload" }).click();
    await page.getByText("The upload was cancelled.").waitFor();
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    // The session was ended on the server (DELETE on its URI, answered 499 as at GCS).
    for (let i = 0; i < 100 && deletes.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(deletes, [499]);
    assert.equal((await h.call("GET", `/storage/v1/b/${BUCKET}/o/cancelled.bin`)).status, 404);
    assert.ok(await page.getByRole("button", { name: "Upload", exact: true }).isEnabled());
    tab.assertNoErrors();
  });

  test("delete a bucket: refused while it holds an object (the API's 409), done once it is empty", async () => {
    const { page } = tab;
    const EMPTY = "console-doomed-bucket";
    assert.equal((await h.call("POST", `/storage/v1/b?project=${P}`, { body: { name: EMPTY } })).status, 200);
    const put = await fetch(`${h.url}/upload/storage/v1/b/${EMPTY}/o?uploadType=media&name=left.txt`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "text/plain" },
      body: "left behind",
    });
    assert.equal(put.status, 200);
    await page.goto(`${h.url}/console/storage?project=${P}&bucket=${EMPTY}`);
    await page.locator("[data-testid=object-row][data-name='left.txt']").waitFor();
    await page.getByRole("button", { name: "Delete bucket", exact: true }).click();
    await page.getByRole("button", { name: `Delete bucket ${EMPTY}?` }).click();
    const err = page.getByRole("region", { name: "Delete this bucket" }).getByTestId("api-error");
    await err.waitFor();
    assert.match(String(await err.textContent()), /409/);
    assert.equal((await h.call("GET", `/storage/v1/b/${EMPTY}`)).status, 200);
    const row = page.locator("[data-testid=object-row][data-name='left.txt']");
    await row.getByRole("button", { name: "Delete left.txt" }).click();
    await row.getByRole("button", { name: "Delete left.txt?" }).click();
    await page.getByTestId("folder-empty").waitFor();
    await page.getByRole("button", { name: "Delete bucket", exact: true }).click();
    await page.getByRole("button", { name: `Delete bucket ${EMPTY}?` }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Deleted bucket ${EMPTY}` })
      .waitFor();
    assert.equal((await h.call("GET", `/storage/v1/b/${EMPTY}`)).status, 404);
    tab.assertNoErrors();
  });

  test("a user who may only read gets the explained denial when uploading", async () => {
    await grant(h, "roles/storage.objectViewer", "user:rita@example.com");
    const rita = await signedIn(h, browser, "rita@example.com");
    const { page } = rita;
    await page.goto(`${h.url}/console/storage?project=${P}&bucket=${BUCKET}`);
    await page.locator("[data-testid=object-row][data-name='big.bin']").waitFor();
    await page.getByLabel("File", { exact: true }).setInputFiles({
      name: "nope.txt",
      mimeType: "text/plain",
      buffer: Buffer.from("nope"),
    });
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    const err = page.getByTestId("api-error");
    await err.waitFor();
    assert.equal(await err.getAttribute("data-status"), "PERMISSION_DENIED");
    const why = page.getByTestId("denial-explanation");
    assert.match(String(await why.textContent()), /storage\.objects\.create/);
    assert.match(String(await why.textContent()), /user:rita@example\.com/);
    assert.match(
      String(await why.textContent()),
      /roles\/storage\.objectCreator|roles\/storage\.objectAdmin/,
    );
    await checkPage(page, "storage-upload-denied");
    assert.equal((await h.call("GET", `/storage/v1/b/${BUCKET}/o/nope.txt`)).status, 404);
    rita.assertNoErrors();
    await rita.context.close();
  });
});
