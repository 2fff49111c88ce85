/**
 * Attack: `roles/storage.objectCreator` may create objects but not replace them (that needs
 * `storage.objects.delete`). The server used to decide this when an upload started, so a creator
 * who started an upload for a name that did not exist yet could replace the object someone else
 * wrote there meanwhile. The decision now belongs to the commit, with the preconditions.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync } from "node:fs";
import { type ClientRequest, request } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const B = "payroll-bucket";
const CREATOR = "user:creator@example.com";

interface Reply {
  status: number;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON replies
  json: any;
  headers: Record<string, string | string[] | undefined>;
}

/** Starts a request whose body the test writes and ends itself. */
function open(
  h: Harness,
  method: string,
  path: string,
  token: string,
  headers: Record<string, string | number> = {},
): { req: ClientRequest; reply: Promise<Reply> } {
  let req!: ClientRequest;
  const reply = new Promise<Reply>((resolve, reject) => {
    req = request(
      new URL(path, h.url),
      { method, headers: { authorization: `Bearer ${token}`, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {}
          resolve({ status: res.statusCode!, body, json, headers: res.headers });
        });
      },
    );
    req.on("error", reject);
  });
  return { req, reply };
}

function send(h: Harness, method: string, path: string, token: string, body: string, headers = {}) {
  const { req, reply } = open(h, method, path, token, headers);
  req.end(body);
  return reply;
}

async function until(what: string, cond: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("an objectCreator cannot replace an object written while its upload was in flight", () => {
  let h: Harness;
  let creator: string;
  const tmpDir = () => join(h.stateDir, "storage", "tmp");
  const tmpFiles = () => (existsSync(tmpDir()) ? readdirSync(tmpDir()) : []);

  const media = (name: string, body: string, token = h.adminToken) =>
    send(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=media&name=${name}`, token, body, {
      "content-type": "text/plain",
    });
  const content = async (name: string) => {
    const r = await h.call("GET", `/storage/v1/b/${B}/o/${name}?alt=media`);
    assert.equal(r.status, 200, r.text);
    return r.text;
  };

  before(async () => {
    h = await startHarness();
    assert.equal(
      (await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: B } })).status,
      200,
    );
    const pol = await h.call("GET", `/storage/v1/b/${B}/iam`);
    pol.body.bindings.push(
      { role: "roles/storage.objectCreator", members: [CREATOR] },
      // Lets the creator read sources for copy and compose; still no storage.objects.delete.
      { role: "roles/storage.objectViewer", members: [CREATOR] },
    );
    assert.equal((await h.call("PUT", `/storage/v1/b/${B}/iam`, { body: pol.body })).status, 200);
    creator = await tokenAs(h, CREATOR);
  });
  after(() => h.close());

  test("resumable: session started while the name was free, finished after someone wrote it → 403", async () => {
    const init = await send(
      h,
      "POST",
      `/upload/storage/v1/b/${B}/o?uploadType=resumable&name=payroll.csv`,
      creator,
      "{}",
      { "content-type": "application/json" },
    );
    assert.equal(init.status, 200, init.body);
    const session = init.headers.location as string;

    assert.equal((await media("payroll.csv", "alice,100\n")).status, 200);

    const done = await send(
      h,
      "PUT",
      new URL(session).pathname + new URL(session).search,
      creator,
      "mallory,1000000\n",
    );
    assert.equal(done.status, 403, done.body);
    assert.match(
      done.json.error.message,
      /creator@example\.com does not have storage\.objects\.delete access/,
    );
    assert.equal(await content("payroll.csv"), "alice,100\n");
    // The refused bytes are gone and the session is over.
    assert.deepEqual(readdirSync(join(h.stateDir, "storage", "uploads")), []);
    const again = await send(h, "PUT", new URL(session).pathname + new URL(session).search, creator, "x");
    assert.equal(again.status, 404);
  });

  test("media: upload admitted while the name was free, object written before its last byte → 403", async () => {
    const before = new Set(tmpFiles());
    const { req, reply } = open(
      h,
      "POST",
      `/upload/storage/v1/b/${B}/o?uploadType=media&name=race-media.txt`,
      creator,
      {
        "content-type": "text/plain",
        "transfer-encoding": "chunked",
      },
    );
    req.write("mallory ");
    // The temp file exists once the upload has been admitted.
    await until("the upload to be admitted", () => tmpFiles().some((f) => !before.has(f)));
    assert.equal((await media("race-media.txt", "original")).status, 200);
    req.end("wins");
    const r = await reply;
    assert.equal(r.status, 403, r.body);
    assert.match(r.json.error.message, /storage\.objects\.delete/);
    assert.equal(await content("race-media.txt"), "original");
  });

  test("multipart: same race → 403, original intact", async () => {
    const boundary = "race-boundary";
    const { req, reply } = open(h, "POST", `/upload/storage/v1/b/${B}/o?uploadType=multipart`, creator, {
      "content-type": `multipart/related; boundary=${boundary}`,
      "transfer-encoding": "chunked",
    });
    req.write(
      `--${boundary}\r\nContent-Type: application/json\r\n\r\n{"name":"race-multipart.txt"}\r\n--${boundary}\r\nContent-Type: text/plain\r\n\r\n`,
    );
    req.write("m".repeat(64 * 1024));
    // Media bytes reach the temp file only after the metadata part was admitted.
    await until("media bytes on disk", () =>
      tmpFiles().some((f) => {
        try {
          return statSync(join(tmpDir(), f)).size > 0;
        } catch {
          return false;
        }
      }),
    );
    assert.equal((await media("race-multipart.txt", "original")).status, 200);
    req.end(`\r\n--${boundary}--\r\n`);
    const r = await reply;
    assert.equal(r.status, 403, r.body);
    assert.match(r.json.error.message, /storage\.objects\.delete/);
    assert.equal(await content("race-multipart.txt"), "original");
  });

  test("copy, rewrite and compose onto an existing destination → 403, original intact", async () => {
    assert.equal((await media("src.txt", "source bytes")).status, 200);
    assert.equal((await media("dest.txt", "original")).status, 200);
    for (const verb of ["copyTo", "rewriteTo"]) {
      const r = await send(
        h,
        "POST",
        `/storage/v1/b/${B}/o/src.txt/${verb}/b/${B}/o/dest.txt`,
        creator,
        "{}",
        {
          "content-type": "application/json",
        },
      );
      assert.equal(r.status, 403, `${verb}: ${r.body}`);
      assert.match(r.json.error.message, /storage\.objects\.delete/);
    }
    const c = await send(
      h,
      "POST",
      `/storage/v1/b/${B}/o/dest.txt/compose`,
      creator,
      JSON.stringify({ sourceObjects: [{ name: "src.txt" }, { name: "src.txt" }] }),
      { "content-type": "application/json" },
    );
    assert.equal(c.status, 403, c.body);
    assert.equal(await content("dest.txt"), "original");
  });

  test("an objectCreator still creates new objects by every route", async () => {
    assert.equal((await media("new-media.txt", "m", creator)).status, 200);
    const init = await send(
      h,
      "POST",
      `/upload/storage/v1/b/${B}/o?uploadType=resumable&name=new-resumable.txt`,
      creator,
      "{}",
      { "content-type": "application/json" },
    );
    const session = new URL(init.headers.location as string);
    const done = await send(h, "PUT", session.pathname + session.search, creator, "r");
    assert.equal(done.status, 200, done.body);
    const copy = await send(
      h,
      "POST",
      `/storage/v1/b/${B}/o/src.txt/copyTo/b/${B}/o/new-copy.txt`,
      creator,
      "{}",
      {
        "content-type": "application/json",
      },
    );
    assert.equal(copy.status, 200, copy.body);
    assert.equal(await content("new-resumable.txt"), "r");
    assert.equal(await content("new-copy.txt"), "source bytes");
  });
});
