/**
 * The real `@google-cloud/storage` (7.22, unchanged) on a Warrant instance: Application Default
 * Credentials from the instance's metadata server, no key file. google-auth-library memoises GCE
 * detection per process, so each scenario runs in a child Node process with a clean environment.
 * The child records every HTTP request it sends (method, path, Content-Range, Range, whether it
 * carried Authorization) through `node:diagnostics_channel`, which observes without changing the client.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type Harness, startHarness } from "../support/harness.js";

/**
 * CRC32C (Castagnoli) as GCS encodes it: the big-endian 4 bytes in base64. Computed here bit by
 * bit, independently of the library the server uses, so the two cannot agree by sharing a bug.
 */
function crc32cBase64(data: Buffer | string): string {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(data)) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}
// RFC 3720's check value for "123456789".
assert.equal(crc32cBase64("123456789"), Buffer.from("e3069283", "hex").toString("base64"));

const SA = "serviceAccount:demo-sa@demo-project.iam.gserviceaccount.com";
const ADMIN = "user:admin@warrant.local";
const ZONE = "us-central1-a";
const instanceName = (vm: string) => `projects/demo-project/zones/${ZONE}/instances/${vm}`;
const BUCKET = "node-client-bucket";
const SEED_BUCKET = "node-seed-bucket";
const CHUNK = 256 * 1024 * 4;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * Runs in the child. argv: the library's module URL, the scenario as JSON. Prints one JSON line:
 * what each step returned (errors as {code, message}) and the requests the client sent.
 */
const SCRIPT = `
import dc from "node:diagnostics_channel";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
const requests = [];
dc.subscribe("http.client.request.start", ({ request: r }) => {
  // node-fetch (under gaxios) stores header values as arrays.
  const h = (n) => { const v = r.getHeader(n); return (Array.isArray(v) ? v[0] : v) ?? null; };
  requests.push({
    method: r.method, host: r.host, path: r.path, auth: Boolean(h("authorization")),
    contentRange: h("content-range"), range: h("range"), contentType: h("content-type")?.split(";")[0] ?? null,
  });
});
const [libUrl, json] = process.argv.slice(2);
const cfg = JSON.parse(json);
const { Storage } = await import(libUrl);
const sha = (b) => createHash("sha256").update(b).digest("hex");
const out = {};
const fail = (e) => ({
  error: { code: e.code ?? null, status: e.response?.status ?? null, message: String(e.message), body: e.response?.data ?? null },
});
async function step(name, fn) {
  try { out[name] = (await fn()) ?? null; } catch (e) { out[name] = fail(e); }
}
const storage = new Storage({
  ...(cfg.apiEndpoint ? { apiEndpoint: cfg.apiEndpoint } : {}),
  ...(cfg.auth ? { useAuthWithCustomEndpoint: true } : {}),
  projectId: "demo-project",
});
const collect = async (stream) => { const c = []; for await (const x of stream) c.push(x); return Buffer.concat(c); };

if (cfg.mode === "main") {
  const big = readFileSync(cfg.bigFile);
  const bucket = storage.bucket(cfg.bucket);
  await step("getBuckets", async () => (await storage.getBuckets())[0].map((b) => b.name));
  await step("createBucket", async () => {
    const [b, meta] = await storage.createBucket(cfg.bucket);
    return { name: b.name, kind: meta.kind, id: meta.id };
  });
  await step("simple", async () => {
    const f = bucket.file("dir/small.txt");
    await f.save(Buffer.from(cfg.small), { resumable: false, contentType: "text/plain", validation: "md5" });
    const g = bucket.file("dir/small-crc.txt");
    await g.save(Buffer.from(cfg.small), { resumable: false });
    const [meta] = await f.getMetadata();
    return { size: meta.size, md5Hash: meta.md5Hash, crc32c: meta.crc32c, contentType: meta.contentType, crcSize: g.metadata.size };
  });
  // 7.22 drops useAuthWithCustomEndpoint on the way to createWriteStream's resumable upload.
  await step("resumableNoUri", async () => {
    await bucket.file("dir/anonymous.bin").save(big.subarray(0, 1024), { resumable: true });
    return "uploaded";
  });
  await step("resumableSingleShot", async () => {
    const f = bucket.file("dir/big.bin");
    const [uri] = await f.createResumableUpload({ metadata: { contentType: "application/x-big" } });
    await f.save(big, { resumable: true, uri, validation: "md5" });
    return { uri, size: String(f.metadata.size), md5Hash: f.metadata.md5Hash, crc32c: f.metadata.crc32c, contentType: f.metadata.contentType };
  });
  await step("resumableChunked", async () => {
    const f = bucket.file("dir/chunked.bin");
    const [uri] = await f.createResumableUpload();
    await f.save(big, { resumable: true, uri, chunkSize: cfg.chunkSize });
    return { size: String(f.metadata.size), crc32c: f.metadata.crc32c };
  });
  await step("bucketUpload", async () => {
    const f = bucket.file("dir/uploaded.bin");
    const [uri] = await f.createResumableUpload();
    const [file, meta] = await bucket.upload(cfg.bigFile, { destination: f, uri, validation: "crc32c" });
    return { name: file.name, size: String(meta.size) };
  });
  await step("download", async () => {
    const r = {};
    for (const n of ["dir/big.bin", "dir/chunked.bin", "dir/uploaded.bin", "dir/small.txt"]) {
      const [data] = await bucket.file(n).download({ validation: true });
      r[n] = { size: data.length, sha256: sha(data) };
    }
    return r;
  });
  await step("ranged", async () => {
    const data = await collect(bucket.file("dir/big.bin").createReadStream({ start: cfg.range[0], end: cfg.range[1] }));
    return { size: data.length, sha256: sha(data) };
  });
  await step("listSetup", async () => {
    await Promise.all(cfg.listNames.map((n) => bucket.file(n).save(Buffer.from(n), { resumable: false })));
  });
  await step("listPages", async () => {
    const pages = [];
    let query = { prefix: "list/", delimiter: "/", maxResults: cfg.pageSize, autoPaginate: false };
    while (query && pages.length < 50) {
      const [files, next, api] = await bucket.getFiles(query);
      pages.push({ items: files.map((f) => f.name), prefixes: api.prefixes ?? [], next: Boolean(next) });
      query = next;
    }
    return pages;
  });
  await step("listAuto", async () => {
    const [files] = await bucket.getFiles({ prefix: "list/", delimiter: "/" });
    return files.map((f) => f.name);
  });
  await step("deleteFiles", async () => {
    const [files] = await bucket.getFiles();
    for (const f of files) await f.delete();
    const [exists] = await bucket.file("dir/big.bin").exists();
    return { deleted: files.map((f) => f.name), existsAfter: exists };
  });
  await step("deleteBucket", async () => {
    await bucket.delete();
    return { existsAfter: (await bucket.exists())[0] };
  });
} else if (cfg.mode === "denied") {
  await step("getBuckets", async () => (await storage.getBuckets())[0].map((b) => b.name));
  await step("getFiles", async () => (await storage.bucket(cfg.bucket).getFiles())[0].map((f) => f.name));
} else if (cfg.mode === "emulator") {
  const bucket = storage.bucket(cfg.bucket);
  await step("getBuckets", async () => (await storage.getBuckets())[0].map((b) => b.name));
  if (cfg.auth) {
    await step("simple", async () => {
      const f = bucket.file("emu/hello.txt");
      await f.save(Buffer.from(cfg.small), { resumable: false, validation: "md5" });
      return { size: f.metadata.size };
    });
    await step("resumable", async () => {
      const f = bucket.file("emu/resumable.bin");
      const [uri] = await f.createResumableUpload();
      const data = Buffer.alloc(300 * 1024, 7);
      await f.save(data, { resumable: true, uri });
      return { uri, size: String(f.metadata.size) };
    });
    await step("download", async () => (await bucket.file("emu/hello.txt").download())[0].toString());
    await step("getFiles", async () => (await bucket.getFiles({ prefix: "emu/" }))[0].map((f) => f.name));
    await step("delete", async () => {
      for (const n of ["emu/hello.txt", "emu/resumable.bin"]) await bucket.file(n).delete();
    });
  }
}
out.requests = requests;
console.log(JSON.stringify(out));
`;

interface ChildRequest {
  method: string;
  host: string;
  path: string;
  auth: boolean;
  contentRange: string | null;
  range: string | null;
  contentType: string | null;
}
// biome-ignore lint/suspicious/noExplicitAny: the child's results are read field by field
type ChildOut = Record<string, any> & { requests: ChildRequest[] };

interface AuditEntry {
  time: string;
  kind: string;
  principal: string;
  method: string;
  path: string;
  status: number;
}

describe("@google-cloud/storage (real Node client) on a Warrant instance", () => {
  let h: Harness;
  let dir: string;
  let script: string;
  let big: Buffer;
  let bigFile: string;

  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-storage-node-"));
    script = join(dir, "client.mjs");
    writeFileSync(script, SCRIPT);
    // More than 10 MiB, and not a multiple of the chunk size: the last chunk is short.
    big = randomBytes(10 * 1024 * 1024 + 12_345);
    bigFile = join(dir, "big.bin");
    writeFileSync(bigFile, big);
    const r = await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: SEED_BUCKET } });
    assert.equal(r.status, 200, r.text);
  });
  after(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function waitForMds(vm: string): Promise<string> {
    for (let i = 0; i < 200; i++) {
      const address = h.server.metadataServers()[instanceName(vm)];
      if (address) return address;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`no metadata server for ${vm}: ${JSON.stringify(h.server.metadataServers())}`);
  }

  /** Runs the client in a fresh Node process whose only credentials are the instance's metadata server. */
  async function runClient(vm: string, scenario: Record<string, unknown>, extraEnv: NodeJS.ProcessEnv = {}) {
    const mds = await waitForMds(vm);
    const home = mkdtempSync(join(dir, "home-"));
    const config = join(home, "cloudsdk-config");
    mkdirSync(config);
    // No GOOGLE_APPLICATION_CREDENTIALS, no gcloud configuration under HOME: the metadata server is
    // the only source of credentials. GCE_METADATA_IP wins over GCE_METADATA_HOST; both are set.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      CLOUDSDK_CONFIG: config,
      GCE_METADATA_HOST: mds,
      GCE_METADATA_IP: mds,
      NO_PROXY: "127.0.0.0/8,localhost",
      no_proxy: "127.0.0.0/8,localhost",
      ...extraEnv,
    };
    const started = new Date().toISOString();
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)(
        process.execPath,
        [script, import.meta.resolve("@google-cloud/storage"), JSON.stringify(scenario)],
        { cwd: home, env, timeout: 150_000, killSignal: "SIGKILL", maxBuffer: 64 << 20 },
      ));
    } catch (err) {
      const e = err as { stderr?: string; signal?: string };
      assert.fail(`node child failed (${e.signal ?? "exit"}): ${e.stderr}`);
    }
    const out = JSON.parse(stdout) as ChildOut;
    const api = out.requests.filter((r) => r.host === "127.0.0.1");
    const audit = await auditSince(started, api.length);
    return { out, api, metadata: out.requests.filter((r) => r.host !== "127.0.0.1"), audit };
  }

  /** The storage requests audited since `time` (not the admin's), once at least `count` have landed. */
  async function auditSince(time: string, count: number): Promise<AuditEntry[]> {
    const storagePath = /^\/(storage\/v1\/|upload\/|download\/|b(\/|$))/;
    let entries: AuditEntry[] = [];
    for (let i = 0; i < 100; i++) {
      entries = readFileSync(join(h.stateDir, "audit.log"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as AuditEntry)
        .filter(
          (e) => e.kind === "request" && e.time >= time && storagePath.test(e.path) && e.principal !== ADMIN,
        );
      if (entries.length >= count) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return entries;
  }

  test("ADC from demo-vm: buckets, simple and resumable uploads, downloads, paged listings, deletes", {
    timeout: 180_000,
  }, async (t) => {
    const listNames = [
      ...Array.from({ length: 5 }, (_, i) => `list/top-${i}.txt`),
      ...["a", "b", "c", "d", "e", "f"].flatMap((d) => [`list/dir-${d}/one.txt`, `list/dir-${d}/two.txt`]),
    ];
    const small = "hello from the real Node client\n";
    const range: [number, number] = [CHUNK - 100, 3 * CHUNK + 99];
    const { out, api, metadata, audit } = await runClient("demo-vm", {
      mode: "main",
      apiEndpoint: h.url,
      auth: true,
      bucket: BUCKET,
      bigFile,
      small,
      chunkSize: CHUNK,
      range,
      listNames,
      pageSize: 3,
    });

    // Credentials: the token came from demo-vm's metadata server, with the client's storage scopes.
    assert.equal(metadata[0]?.path, "/computeMetadata/v1/instance");
    assert.ok(
      metadata.some(
        (r) =>
          r.path.startsWith("/computeMetadata/v1/instance/service-accounts/default/token?scopes=") &&
          r.path.includes("devstorage.full_control"),
      ),
      JSON.stringify(metadata),
    );

    assert.ok(Array.isArray(out.getBuckets), JSON.stringify(out.getBuckets));
    assert.ok(out.getBuckets.includes(SEED_BUCKET));
    assert.deepEqual(out.createBucket, { name: BUCKET, kind: "storage#bucket", id: BUCKET });

    // Simple upload: `save({resumable: false})` is a multipart upload; md5 and crc32c validated by the client.
    assert.deepEqual(out.simple, {
      size: String(small.length),
      md5Hash: createHash("md5").update(small).digest("base64"),
      crc32c: crc32cBase64(small),
      contentType: "text/plain",
      crcSize: String(small.length),
    });
    const multipart = api.filter((r) => r.method === "POST" && r.path.includes("uploadType=multipart"));
    assert.equal(multipart.length, 2 + listNames.length, JSON.stringify(multipart));
    assert.ok(
      multipart.every((r) => r.contentType === "multipart/related" && r.auth),
      JSON.stringify(multipart),
    );

    // @google-cloud/storage 7.22 does not pass useAuthWithCustomEndpoint to createWriteStream's
    // resumable upload: it starts the session with no Authorization, and Warrant refuses the anonymous caller.
    const anonymous = api.find((r) => r.method === "POST" && r.path.includes("name=dir%2Fanonymous.bin"));
    if (out.resumableNoUri === "uploaded")
      t.diagnostic("this client version authenticates resumable uploads");
    else {
      // A GaxiosError from the resumable-upload module: the status is on the response.
      assert.equal(out.resumableNoUri.error.status, 401, JSON.stringify(out.resumableNoUri));
      assert.match(
        JSON.stringify(out.resumableNoUri.error.body),
        /Anonymous caller does not have storage\.objects\.create/,
      );
      assert.equal(anonymous?.auth, false);
      const refused = audit.find((e) => e.method === "POST" && e.status === 401);
      assert.equal(refused?.principal, "allUsers");
    }

    // Resumable, single shot: one PUT with `bytes 0-*/*` after the client's status query.
    assert.equal(out.resumableSingleShot.size, String(big.length), JSON.stringify(out.resumableSingleShot));
    assert.equal(out.resumableSingleShot.md5Hash, createHash("md5").update(big).digest("base64"));
    assert.equal(out.resumableSingleShot.crc32c, crc32cBase64(big));
    assert.equal(out.resumableSingleShot.contentType, "application/x-big");
    assert.ok(out.resumableSingleShot.uri.startsWith(`${h.url}/upload/storage/v1/b/${BUCKET}/o?`));
    const singlePuts = api.filter((r) => r.method === "PUT" && r.path.includes("name=dir%2Fbig.bin"));
    assert.deepEqual(
      singlePuts.map((r) => r.contentRange),
      ["bytes */*", "bytes 0-*/*"],
    );

    // Resumable, chunked (chunkSize 1 MiB): every chunk but the last answered 308, then the total.
    assert.equal(out.resumableChunked.size, String(big.length), JSON.stringify(out.resumableChunked));
    assert.equal(
      out.resumableChunked.crc32c,
      crc32cBase64(big),
      "the chunks' checksum is the whole object's",
    );
    const chunkPuts = api.filter((r) => r.method === "PUT" && r.path.includes("name=dir%2Fchunked.bin"));
    const chunks = Math.ceil(big.length / CHUNK);
    assert.equal(chunkPuts.length, 1 + chunks, JSON.stringify(chunkPuts.map((r) => r.contentRange)));
    assert.equal(chunkPuts[0]!.contentRange, "bytes */*");
    assert.equal(chunkPuts[1]!.contentRange, `bytes 0-${CHUNK - 1}/*`);
    assert.equal(
      chunkPuts.at(-1)!.contentRange,
      `bytes ${(chunks - 1) * CHUNK}-${big.length - 1}/${big.length}`,
    );
    const chunkAudit = audit.filter(
      (e) => e.method === "PUT" && e.path === `/upload/storage/v1/b/${BUCKET}/o`,
    );
    assert.ok(chunkAudit.filter((e) => e.status === 308).length >= chunks - 1, JSON.stringify(chunkAudit));

    assert.deepEqual(out.bucketUpload, { name: "dir/uploaded.bin", size: String(big.length) });

    // Downloads: bytes equal, the client's own crc32c and md5 checks on.
    const whole = { size: big.length, sha256: sha256(big) };
    assert.deepEqual(out.download, {
      "dir/big.bin": whole,
      "dir/chunked.bin": whole,
      "dir/uploaded.bin": whole,
      "dir/small.txt": { size: small.length, sha256: sha256(Buffer.from(small)) },
    });
    const expected = big.subarray(range[0], range[1] + 1);
    assert.deepEqual(out.ranged, { size: expected.length, sha256: sha256(expected) });
    assert.ok(api.some((r) => r.range === `bytes=${range[0]}-${range[1]}`));

    // Listing with a delimiter, 3 entries a page: items and prefixes complete, none repeated.
    assert.equal(out.listSetup, null, JSON.stringify(out.listSetup));
    const pages = out.listPages as { items: string[]; prefixes: string[]; next: boolean }[];
    assert.ok(Array.isArray(pages), JSON.stringify(pages));
    assert.ok(pages.length >= 4, JSON.stringify(pages));
    assert.ok(pages.every((p) => p.items.length + p.prefixes.length <= 3));
    assert.ok(pages.slice(0, -1).every((p) => p.next) && !pages.at(-1)!.next);
    const items = pages.flatMap((p) => p.items);
    const prefixes = pages.flatMap((p) => p.prefixes);
    assert.deepEqual(
      items,
      Array.from({ length: 5 }, (_, i) => `list/top-${i}.txt`),
    );
    assert.deepEqual(
      prefixes,
      ["a", "b", "c", "d", "e", "f"].map((d) => `list/dir-${d}/`),
    );
    assert.deepEqual(out.listAuto, items);
    const listCalls = api.filter(
      (r) => r.method === "GET" && r.path.startsWith(`/storage/v1/b/${BUCKET}/o?`),
    );
    assert.ok(listCalls.slice(1, pages.length).every((r) => r.path.includes("pageToken=")));

    assert.equal(out.deleteFiles.existsAfter, false, JSON.stringify(out.deleteFiles));
    assert.equal(
      out.deleteFiles.deleted.length,
      5 + listNames.length + (out.resumableNoUri === "uploaded" ? 1 : 0),
    );
    assert.deepEqual(out.deleteBucket, { existsAfter: false });

    // The audit log: every request the client sent to the API, each one as demo-sa, except the
    // chunk PUTs (the session URI is their credential) and the anonymous session start above.
    assert.equal(audit.length, api.length, JSON.stringify({ audit, api }));
    for (const e of audit) {
      if (e.method === "PUT" && e.path.startsWith("/upload/")) continue;
      if (anonymous && e.method === "POST" && e.status === 401) continue;
      assert.equal(e.principal, SA, JSON.stringify(e));
    }
    assert.ok(audit.some((e) => e.method === "GET" && e.path === "/storage/v1/b" && e.principal === SA));
    assert.ok(
      audit.some((e) => e.method === "DELETE" && e.path === `/storage/v1/b/${BUCKET}` && e.status === 204),
    );
    const shape = (r: ChildRequest) => {
      const [path, query = ""] = r.path.split("?");
      const kind = /(?:^|&)(uploadType=\w+|alt=media)/.exec(query)?.[1];
      return `${r.method} ${path!.replace(/\/o\/[^/]+$/, "/o/{object}")}${kind ? `?${kind}` : ""}`;
    };
    t.diagnostic(`the client sent: ${[...new Set(api.map(shape))].join("; ")}`);
  });

  test("an instance whose account has no storage role gets the client's ApiError 403 naming the permission", {
    timeout: 120_000,
  }, async () => {
    const op = await h.call("POST", `/compute/v1/projects/demo-project/zones/${ZONE}/instances`, {
      body: {
        name: "no-storage-vm",
        serviceAccounts: [{ email: "default", scopes: ["https://www.googleapis.com/auth/cloud-platform"] }],
      },
    });
    assert.equal(op.status, 200, op.text);
    const vm = await h.call("GET", `/compute/v1/projects/demo-project/zones/${ZONE}/instances/no-storage-vm`);
    const email = vm.body.serviceAccounts[0].email as string;
    assert.match(email, /^\d+-compute@developer\.gserviceaccount\.com$/);

    const { out, audit } = await runClient("no-storage-vm", {
      mode: "denied",
      apiEndpoint: h.url,
      auth: true,
      bucket: SEED_BUCKET,
    });
    assert.equal(out.getBuckets.error?.code, 403, JSON.stringify(out.getBuckets));
    assert.match(
      out.getBuckets.error.message,
      new RegExp(`^${email.replace(/\./g, "\\.")} does not have storage\\.buckets\\.list access`),
    );
    assert.equal(out.getFiles.error?.code, 403, JSON.stringify(out.getFiles));
    assert.match(out.getFiles.error.message, /storage\.objects\.list/);
    assert.deepEqual(
      audit.map((e) => [e.principal, e.status]),
      [
        [`serviceAccount:${email}`, 403],
        [`serviceAccount:${email}`, 403],
      ],
    );
  });

  test("STORAGE_EMULATOR_HOST: paths without /storage/v1; credentials only with useAuthWithCustomEndpoint", {
    timeout: 120_000,
  }, async () => {
    const env = { STORAGE_EMULATOR_HOST: h.url };
    const small = "via STORAGE_EMULATOR_HOST\n";
    const authed = await runClient(
      "demo-vm",
      { mode: "emulator", auth: true, bucket: SEED_BUCKET, small },
      env,
    );
    const { out, api, audit } = authed;
    assert.ok(out.getBuckets.includes?.(SEED_BUCKET), JSON.stringify(out.getBuckets));
    assert.deepEqual(out.simple, { size: String(small.length) });
    assert.equal(out.resumable.size, String(300 * 1024), JSON.stringify(out.resumable));
    assert.equal(out.download, small);
    assert.deepEqual(out.getFiles, ["emu/hello.txt", "emu/resumable.bin"]);
    assert.equal(out.delete, null, JSON.stringify(out.delete));
    // JSON calls use the emulator host verbatim as the base; uploads keep /upload/storage/v1.
    assert.ok(api.some((r) => r.method === "GET" && r.path === "/b?project=demo-project"));
    assert.ok(api.some((r) => r.method === "GET" && r.path.startsWith(`/b/${SEED_BUCKET}/o?`)));
    assert.ok(
      api.some((r) => r.method === "POST" && r.path.startsWith(`/upload/storage/v1/b/${SEED_BUCKET}/o?`)),
    );
    assert.ok(api.every((r) => !r.path.startsWith("/storage/v1/")));
    assert.equal(audit.length, api.length);
    assert.ok(
      audit.every((e) => e.principal === SA || (e.method === "PUT" && e.path.startsWith("/upload/"))),
    );

    // Without useAuthWithCustomEndpoint the client sends no credentials at all: anonymous, refused.
    const anon = await runClient("demo-vm", { mode: "emulator", auth: false, bucket: SEED_BUCKET }, env);
    assert.equal(anon.out.getBuckets.error?.code, 401, JSON.stringify(anon.out.getBuckets));
    assert.match(anon.out.getBuckets.error.message, /Anonymous caller does not have storage\.buckets\.list/);
    assert.equal(anon.metadata.length, 0, "no metadata-server traffic without useAuthWithCustomEndpoint");
    assert.ok(anon.api.every((r) => !r.auth));
    assert.deepEqual(
      anon.audit.map((e) => [e.principal, e.path, e.status]),
      [["allUsers", "/b", 401]],
    );
  });
});
