/**
 * Attack (denial of service): a multipart upload whose body ends inside the media part, once the
 * media was large enough that a write to the temp file was still in flight when the upload was
 * refused. Destroying the temp file's stream made that write fail after its listeners were gone, and
 * an unheard stream error ended the whole server process (found by the storage fuzzer, which saw "no
 * reply"). Now the refusal is a 400, the server keeps answering, and no temp file is left behind.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";

const B = "truncated-bucket";
const BOUNDARY = ",aa+y84a90z67.c++b9/";

describe("attack: a truncated multipart upload crashes the server", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    const made = await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: B } });
    assert.equal(made.status, 200, made.text);
  });
  after(() => h.close());

  test("bodies cut inside a large media part are refused with 400; the server stays up", async () => {
    const whole = Buffer.from(
      `--${BOUNDARY}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{"name":"cut.bin"}\r\n` +
        `--${BOUNDARY}\r\nContent-Type: application/octet-stream\r\n\r\n${"y".repeat(400_000)}\r\n--${BOUNDARY}--\r\n`,
    );
    // Cuts on both sides of the 64 KiB read size and well past the 1 MiB-free write buffer.
    for (const cut of [65_536, 70_000, 86_596, 131_072, 200_000, 399_000]) {
      const r = await fetch(`${h.url}/upload/storage/v1/b/${B}/o?uploadType=multipart`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${h.adminToken}`,
          "content-type": `multipart/related; boundary=${BOUNDARY}`,
        },
        body: whole.subarray(0, cut),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await r.json()) as { error: { code: number; message: string } };
      assert.equal(r.status, 400, `cut at ${cut}`);
      assert.equal(body.error.code, 400);
      assert.match(body.error.message, /ended before the closing boundary/);
    }
    const missing = await h.call("GET", `/storage/v1/b/${B}/o/cut.bin`);
    assert.equal(missing.status, 404, "no object was made from a truncated body");
    const project = await h.call("GET", "/v1/projects/demo-project");
    assert.equal(project.status, 200, "the server still answers");
    // The temp files of the refused uploads are gone (removal finishes just after the reply).
    const tmp = join(h.stateDir, "storage", "tmp");
    const deadline = Date.now() + 5000;
    let left = readdirSync(tmp);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((ok) => setTimeout(ok, 50));
      left = readdirSync(tmp);
    }
    assert.deepEqual(left, [], "no temp file is left behind");
  });
});
