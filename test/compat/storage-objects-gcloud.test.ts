/**
 * Objects with the real gcloud (Debian google-cloud-cli), unchanged and authenticated only by an
 * instance's metadata server: `gcloud storage cp` both ways (a small file goes up as one multipart
 * request, a 12 MiB one through a resumable session; downloads follow `mediaLink` with a Range),
 * `cat`, `ls` in its forms, `objects describe`, `rm`; parallel composite uploads and sliced
 * downloads when configured. Then the seed's promise: what each instance may do is what its service
 * account's roles and its scopes allow, and gcloud prints Cloud Storage's own error.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type Harness, startHarness } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING, GSUTIL, GSUTIL_MISSING } from "../support/tools.js";

const run = promisify(execFile);
const skip = GCLOUD ? false : GCLOUD_MISSING;
const ZONE = "us-central1-a";
const INSTANCES = `/compute/v1/projects/demo-project/zones/${ZONE}/instances`;
const B = "gcloud-objects";
const SCOPE = "https://www.googleapis.com/auth/";
const DEMO_SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const sa = (id: string) => `${id}@demo-project.iam.gserviceaccount.com`;
const md5 = (b: Buffer) => createHash("md5").update(b).digest("base64");
const BIG = 12 * 1024 * 1024;

interface AuditEntry {
  kind: string;
  principal?: string;
  method?: string;
  path?: string;
  status?: number;
}

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
  /** `METHOD PATH STATUS` of the storage requests the command made, in order. */
  calls: string[];
  principals: Set<string>;
}

describe("gcloud storage objects on Warrant instances", { skip }, () => {
  let h: Harness;
  let dir: string;
  let small: Buffer;
  let big: Buffer;

  function audit(): AuditEntry[] {
    return readFileSync(join(h.stateDir, "audit.log"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEntry);
  }

  let marks = 0;
  /**
   * The audit log is written asynchronously: a request that names a fresh marker, once it is in the
   * log, proves every earlier entry is too. Returns the marker's index.
   */
  async function auditMark(): Promise<number> {
    const path = `/storage/v1/b/audit-marker-${++marks}`;
    assert.equal((await h.call("GET", path)).status, 404);
    for (let i = 0; i < 200; i++) {
      const at = audit().findIndex((e) => e.path === path);
      if (at >= 0) return at;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`the audit log never recorded ${path}`);
  }

  async function createInstance(name: string, email: string, scopes: string[]) {
    const r = await h.call("POST", INSTANCES, { body: { name, serviceAccounts: [{ email, scopes }] } });
    assert.equal(r.status, 200, r.text);
  }

  async function grantOnBucket(member: string, role: string) {
    const pol = await h.call("GET", `/storage/v1/b/${B}/iam`);
    assert.equal(pol.status, 200, pol.text);
    pol.body.bindings.push({ role, members: [member] });
    const r = await h.call("PUT", `/storage/v1/b/${B}/iam`, { body: pol.body });
    assert.equal(r.status, 200, r.text);
  }

  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-gcs-objects-"));
    small = Buffer.from("hello from gcloud\n");
    big = randomBytes(BIG);
    writeFileSync(join(dir, "small.txt"), small);
    writeFileSync(join(dir, "big.bin"), big);

    const bucket = await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: B } });
    assert.equal(bucket.status, 200, bucket.text);
    for (const id of ["writer-sa", "viewer-sa", "idle-sa"]) {
      const r = await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
        body: { accountId: id },
      });
      assert.equal(r.status, 200, r.text);
    }
    await grantOnBucket(`serviceAccount:${sa("writer-sa")}`, "roles/storage.objectAdmin");
    await grantOnBucket(`serviceAccount:${sa("viewer-sa")}`, "roles/storage.objectViewer");

    await createInstance("writer-vm", sa("writer-sa"), [`${SCOPE}cloud-platform`]);
    await createInstance("viewer-vm", sa("viewer-sa"), [`${SCOPE}cloud-platform`]);
    await createInstance("idle-vm", sa("idle-sa"), [`${SCOPE}cloud-platform`]);
    // demo-sa holds roles/storage.admin on demo-project; this instance has only the read-only scope.
    await createInstance("readonly-vm", DEMO_SA, [`${SCOPE}devstorage.read_only`]);
    const wanted = ["writer-vm", "viewer-vm", "idle-vm", "readonly-vm"].map(
      (n) => `${INSTANCES.slice(12)}/${n}`,
    );
    for (let i = 0; i < 200 && !wanted.every((w) => h.server.metadataServers()[w]); i++)
      await new Promise((r) => setTimeout(r, 50));
    for (const w of wanted) assert.ok(h.server.metadataServers()[w], `no metadata server for ${w}`);
  });
  after(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `tool` as `instance`: only its metadata server, a fresh config and the storage override. */
  async function as(
    instance: string,
    args: string[],
    extra: NodeJS.ProcessEnv = {},
    tool: string = GCLOUD!,
  ): Promise<Run> {
    const mds = h.server.metadataServers()[`projects/demo-project/zones/${ZONE}/instances/${instance}`];
    assert.ok(mds, `metadata server of ${instance}`);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      CLOUDSDK_CONFIG: mkdtempSync(join(dir, "config-")),
      GCE_METADATA_ROOT: mds,
      GCE_METADATA_HOST: mds,
      GCE_METADATA_IP: mds,
      CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
      CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE: `${h.url}/`,
      // Fail fast instead of retrying a 4xx/5xx for minutes.
      CLOUDSDK_STORAGE_MAX_RETRIES: "1",
      NO_PROXY: "127.0.0.0/8,localhost",
      no_proxy: "127.0.0.0/8,localhost",
      ...extra,
    };
    const from = await auditMark();
    let out: Omit<Run, "calls" | "principals">;
    try {
      const { stdout, stderr } = await run(tool, args, {
        env,
        timeout: 150_000,
        killSignal: "SIGKILL",
        maxBuffer: 64 * 1024 * 1024,
        encoding: "utf8",
      });
      out = { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; signal?: string; stdout?: string; stderr?: string };
      out = {
        code: e.code ?? (e.signal ? `killed by ${e.signal}` : 1),
        stdout: e.stdout ?? "",
        stderr: e.stderr ?? "",
      };
    }
    const to = await auditMark();
    const entries = audit()
      .slice(from + 1, to)
      .filter((e) => e.kind === "request" && /^\/(storage|upload|resumable|download)\//.test(e.path ?? ""));
    return {
      ...out,
      calls: entries.map((e) => `${e.method} ${e.path} ${e.status}`),
      principals: new Set(entries.map((e) => e.principal ?? "")),
    };
  }

  /** The message for a failed assertion: what gcloud printed and what it asked Warrant. */
  const why = (r: Run) => `exit ${r.code}\nstderr:\n${r.stderr}\ncalls:\n${r.calls.join("\n")}`;

  const objectPath = (name: string) => `/storage/v1/b/${B}/o/${encodeURIComponent(name)}`;

  async function stored(name: string) {
    return h.call("GET", objectPath(name));
  }

  test("cp up and down: a small file in one multipart request, 12 MiB through a resumable session", {
    timeout: 300_000,
  }, async () => {
    const up = await as("demo-vm", ["storage", "cp", join(dir, "small.txt"), `gs://${B}/dir/small.txt`]);
    assert.equal(up.code, 0, why(up));
    assert.match(up.stderr, new RegExp(`Copying file://.*/small\\.txt to gs://${B}/dir/small\\.txt`));
    assert.deepEqual([...up.principals], [`serviceAccount:${DEMO_SA}`]);
    // gcloud looks for an object, then a prefix, of that name first: a JSON 404 says "neither".
    assert.deepEqual(
      up.calls,
      [
        `GET /storage/v1/b/${B}/o/dir%2Fsmall.txt 404`,
        `GET /storage/v1/b/${B}/o 200`,
        `POST /upload/storage/v1/b/${B}/o 200`,
      ],
      why(up),
    );
    const meta = await stored("dir/small.txt");
    assert.equal(meta.status, 200, meta.text);
    assert.equal(meta.body.size, String(small.length));
    assert.equal(meta.body.md5Hash, md5(small));
    assert.equal(meta.body.contentType, "text/plain");

    const bigUp = await as("demo-vm", ["storage", "cp", join(dir, "big.bin"), `gs://${B}/big.bin`]);
    assert.equal(bigUp.code, 0, why(bigUp));
    // Above gcloud's 8 MiB resumable threshold: a session, then every byte in one PUT to it.
    assert.deepEqual(
      bigUp.calls,
      [
        `GET /storage/v1/b/${B}/o/big.bin 404`,
        `GET /storage/v1/b/${B}/o 200`,
        `POST /resumable/upload/storage/v1/b/${B}/o 200`,
        `PUT /upload/storage/v1/b/${B}/o 200`,
      ],
      why(bigUp),
    );
    assert.equal((await stored("big.bin")).body.md5Hash, md5(big));

    for (const [name, local] of [
      ["dir/small.txt", small],
      ["big.bin", big],
    ] as const) {
      const target = join(dir, `${name.replace("/", "_")}.down`);
      const down = await as("demo-vm", ["storage", "cp", `gs://${B}/${name}`, target]);
      assert.equal(down.code, 0, why(down));
      assert.match(down.stderr, new RegExp(`Copying gs://${B}/${name} to file://`));
      // Metadata, then `mediaLink` with a Range covering the object: one request below the
      // sliced-download threshold (150 MiB).
      assert.deepEqual(
        down.calls,
        [
          `GET /storage/v1/b/${B}/o/${encodeURIComponent(name)} 200`,
          `GET /download/storage/v1/b/${B}/o/${encodeURIComponent(name)} 206`,
        ],
        why(down),
      );
      assert.ok(readFileSync(target).equals(local), `${name}: the downloaded bytes differ`);
    }
  });

  test("cat, ls (bucket, prefix, -l, -r) and objects describe", { timeout: 300_000 }, async () => {
    // A bucket of its own, so the listings hold exactly these objects.
    const L = "gcloud-listing";
    assert.equal(
      (await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: L } })).status,
      200,
    );
    for (const [name, data] of [
      ["cat.txt", "meow\n"],
      ["dir/sub/deep.txt", "deep\n"],
      ["dir/other.txt", "other\n"],
    ] as const) {
      const r = await h.call(
        "POST",
        `/upload/storage/v1/b/${L}/o?uploadType=media&name=${encodeURIComponent(name)}`,
        {
          body: data,
          headers: { "content-type": "text/plain" },
        },
      );
      assert.equal(r.status, 200, r.text);
    }

    const cat = await as("demo-vm", ["storage", "cat", `gs://${L}/cat.txt`]);
    assert.equal(cat.code, 0, why(cat));
    assert.equal(cat.stdout, "meow\n");
    assert.deepEqual(cat.calls, [
      `GET /storage/v1/b/${L}/o/cat.txt 200`,
      `GET /download/storage/v1/b/${L}/o/cat.txt 206`,
    ]);

    const ls = await as("demo-vm", ["storage", "ls", `gs://${L}`]);
    assert.equal(ls.code, 0, why(ls));
    assert.deepEqual(ls.stdout.trim().split("\n"), [`gs://${L}/cat.txt`, `gs://${L}/dir/`]);

    const prefix = await as("demo-vm", ["storage", "ls", `gs://${L}/dir/`]);
    assert.equal(prefix.code, 0, why(prefix));
    assert.deepEqual(prefix.stdout.trim().split("\n"), [`gs://${L}/dir/other.txt`, `gs://${L}/dir/sub/`]);
    assert.equal(prefix.calls[0], `GET /storage/v1/b/${L}/o/dir%2F 404`, why(prefix));

    const long = await as("demo-vm", ["storage", "ls", "-l", `gs://${L}`]);
    assert.equal(long.code, 0, why(long));
    const lines = long.stdout.trim().split("\n");
    assert.match(
      lines[0]!,
      new RegExp(`^\\s*5\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\s+gs://${L}/cat\\.txt$`),
    );
    assert.match(lines[1]!, new RegExp(`^\\s+gs://${L}/dir/$`));
    assert.equal(lines[2], "TOTAL: 1 objects, 5 bytes (5.00B)");

    const recursive = await as("demo-vm", ["storage", "ls", "-r", `gs://${L}`]);
    assert.equal(recursive.code, 0, why(recursive));
    assert.equal(
      recursive.stdout,
      [
        `gs://${L}/:`,
        `gs://${L}/cat.txt`,
        "",
        `gs://${L}/dir/:`,
        `gs://${L}/dir/other.txt`,
        "",
        `gs://${L}/dir/sub/:`,
        `gs://${L}/dir/sub/deep.txt`,
        "",
      ].join("\n"),
    );

    const described = await as("demo-vm", [
      "storage",
      "objects",
      "describe",
      `gs://${L}/cat.txt`,
      "--format=json",
    ]);
    assert.equal(described.code, 0, why(described));
    const d = JSON.parse(described.stdout);
    const meta = (await h.call("GET", `/storage/v1/b/${L}/o/cat.txt`)).body;
    assert.equal(d.name, "cat.txt");
    assert.equal(d.bucket, L);
    assert.equal(d.size, 5);
    assert.equal(d.content_type, "text/plain");
    assert.equal(d.md5_hash, meta.md5Hash);
    assert.equal(d.crc32c_hash, meta.crc32c);
    assert.equal(String(d.generation), meta.generation);
    assert.equal(d.storage_url, `gs://${L}/cat.txt#${meta.generation}`);

    const missing = await as("demo-vm", ["storage", "objects", "describe", `gs://${L}/nope.txt`]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      new RegExp(`ERROR: \\(gcloud\\.storage\\.objects\\.describe\\) gs://${L}/nope\\.txt not found: 404\\.`),
    );
  });

  test("rm deletes the object", { timeout: 300_000 }, async () => {
    const r = await h.call("POST", `/upload/storage/v1/b/${B}/o?uploadType=media&name=doomed.txt`, {
      body: "bye",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(r.status, 200, r.text);
    const rm = await as("demo-vm", ["storage", "rm", `gs://${B}/doomed.txt`]);
    assert.equal(rm.code, 0, why(rm));
    assert.match(rm.stderr, new RegExp(`Removing gs://${B}/doomed\\.txt\\.\\.\\.`));
    assert.deepEqual(rm.calls, [
      `GET /storage/v1/b/${B}/o/doomed.txt 200`,
      `DELETE /storage/v1/b/${B}/o/doomed.txt 204`,
    ]);
    assert.equal((await stored("doomed.txt")).status, 404);

    const again = await as("demo-vm", ["storage", "rm", `gs://${B}/doomed.txt`]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      new RegExp(`The following URLs matched no objects or files:\\n-?\\s*gs://${B}/doomed\\.txt`),
    );
  });

  test("configured for parallel composite uploads and sliced downloads: compose, cleanup, ranges", {
    timeout: 300_000,
  }, async () => {
    // Properties only (gcloud's defaults start at 150 MiB): 4 MiB components, uploaded resumably.
    const env = {
      CLOUDSDK_STORAGE_PARALLEL_COMPOSITE_UPLOAD_ENABLED: "True",
      CLOUDSDK_STORAGE_PARALLEL_COMPOSITE_UPLOAD_THRESHOLD: "5M",
      CLOUDSDK_STORAGE_PARALLEL_COMPOSITE_UPLOAD_COMPONENT_SIZE: "4M",
      CLOUDSDK_STORAGE_RESUMABLE_THRESHOLD: "1M",
      CLOUDSDK_STORAGE_SLICED_OBJECT_DOWNLOAD_THRESHOLD: "5M",
      CLOUDSDK_STORAGE_SLICED_OBJECT_DOWNLOAD_COMPONENT_SIZE: "4M",
    };
    const up = await as("demo-vm", ["storage", "cp", join(dir, "big.bin"), `gs://${B}/composed.bin`], env);
    assert.equal(up.code, 0, why(up));
    const count = (re: RegExp) => up.calls.filter((c) => re.test(c)).length;
    assert.equal(count(new RegExp(`^GET /storage/v1/b/${B} 200$`)), 1, `compatibility check\n${why(up)}`);
    // One resumable session per component, each filled by one PUT; then compose; then cleanup.
    const components = count(new RegExp(`^POST /resumable/upload/storage/v1/b/${B}/o 200$`));
    assert.ok(components >= 3, why(up));
    assert.equal(count(new RegExp(`^PUT /upload/storage/v1/b/${B}/o 200$`)), components, why(up));
    assert.equal(count(new RegExp(`^POST /storage/v1/b/${B}/o/composed\\.bin/compose 200$`)), 1, why(up));
    assert.equal(
      count(new RegExp(`^DELETE /storage/v1/b/${B}/o/gcloud%2Ftmp%2Fparallel_composite_uploads%2F.* 204$`)),
      components,
      why(up),
    );
    assert.ok(
      up.calls.indexOf(`POST /storage/v1/b/${B}/o/composed.bin/compose 200`) <
        up.calls.findIndex((c) => c.startsWith("DELETE")),
      why(up),
    );
    const composed = (await stored("composed.bin")).body;
    assert.equal(composed.componentCount, components);
    assert.equal(composed.size, String(BIG));
    const listed = await h.call("GET", `/storage/v1/b/${B}/o?prefix=gcloud%2F`);
    assert.equal(listed.body.items, undefined, "the temporary components are gone");

    const target = join(dir, "composed.down");
    const down = await as("demo-vm", ["storage", "cp", `gs://${B}/composed.bin`, target], env);
    assert.equal(down.code, 0, why(down));
    // Slices: ranged GETs of `mediaLink` in parallel, written into place.
    assert.ok(
      down.calls.filter((c) => c === `GET /download/storage/v1/b/${B}/o/composed.bin 206`).length >= 3,
      why(down),
    );
    assert.ok(readFileSync(target).equals(big), "the sliced download reassembles the same bytes");
  });

  test("roles/storage.objectAdmin on the bucket: cp and rm manage objects", {
    timeout: 300_000,
  }, async () => {
    const up = await as("writer-vm", ["storage", "cp", join(dir, "small.txt"), `gs://${B}/writer/a.txt`]);
    assert.equal(up.code, 0, why(up));
    assert.deepEqual([...up.principals], [`serviceAccount:${sa("writer-sa")}`]);
    // Overwriting needs storage.objects.delete too, which objectAdmin has.
    const again = await as("writer-vm", ["storage", "cp", join(dir, "big.bin"), `gs://${B}/writer/a.txt`]);
    assert.equal(again.code, 0, why(again));
    assert.equal((await stored("writer/a.txt")).body.md5Hash, md5(big));
    const ls = await as("writer-vm", ["storage", "ls", `gs://${B}/writer/`]);
    assert.equal(ls.code, 0, why(ls));
    assert.equal(ls.stdout.trim(), `gs://${B}/writer/a.txt`);
    const rm = await as("writer-vm", ["storage", "rm", `gs://${B}/writer/a.txt`]);
    assert.equal(rm.code, 0, why(rm));
    assert.equal((await stored("writer/a.txt")).status, 404);
    // The role is on the bucket only: listing the project's buckets is not part of it.
    const buckets = await as("writer-vm", ["storage", "ls"]);
    assert.equal(buckets.code, 1);
    assert.match(buckets.stderr, /does not have storage\.buckets\.list access to the Google Cloud project/);
  });

  test("roles/storage.objectViewer: cat works, cp up fails with 403 naming storage.objects.create", {
    timeout: 300_000,
  }, async () => {
    const seed = await h.call("POST", `/upload/storage/v1/b/${B}/o?uploadType=media&name=shared.txt`, {
      body: "shared\n",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(seed.status, 200, seed.text);
    const cat = await as("viewer-vm", ["storage", "cat", `gs://${B}/shared.txt`]);
    assert.equal(cat.code, 0, why(cat));
    assert.equal(cat.stdout, "shared\n");

    const up = await as("viewer-vm", ["storage", "cp", join(dir, "small.txt"), `gs://${B}/viewer.txt`]);
    assert.equal(up.code, 1, why(up));
    assert.ok(
      up.stderr.includes(
        `${sa("viewer-sa")} does not have storage.objects.create access to the Google Cloud Storage object. Permission 'storage.objects.create' denied on resource (or it may not exist).`,
      ),
      why(up),
    );
    assert.ok(up.calls.includes(`POST /upload/storage/v1/b/${B}/o 403`), why(up));
    assert.equal((await stored("viewer.txt")).status, 404, "nothing was written");

    const rm = await as("viewer-vm", ["storage", "rm", `gs://${B}/shared.txt`]);
    assert.equal(rm.code, 1, why(rm));
    assert.match(rm.stderr, /does not have storage\.objects\.delete access/);
    assert.equal((await stored("shared.txt")).status, 200, "nothing was deleted");
  });

  test("devstorage.read_only scope with roles/storage.admin: reads work, uploads lack the scope", {
    timeout: 300_000,
  }, async () => {
    const cat = await as("readonly-vm", ["storage", "cat", `gs://${B}/shared.txt`]);
    assert.equal(cat.code, 0, why(cat));
    assert.equal(cat.stdout, "shared\n");
    // The 12 MiB file: refused when gcloud opens the resumable session, before any byte is sent.
    const up = await as("readonly-vm", ["storage", "cp", join(dir, "big.bin"), `gs://${B}/ro.bin`]);
    assert.equal(up.code, 1, why(up));
    assert.match(up.stderr, /Request had insufficient authentication scopes\./, why(up));
    assert.match(up.stderr, /storage\.objects\.create needs one of: /, why(up));
    assert.match(
      up.stderr,
      /the token has: https:\/\/www\.googleapis\.com\/auth\/devstorage\.read_only/,
      why(up),
    );
    assert.ok(up.calls.includes(`POST /resumable/upload/storage/v1/b/${B}/o 403`), why(up));
    assert.equal((await stored("ro.bin")).status, 404, "nothing was written");
  });

  test("no storage role: ls fails naming storage.buckets.list, or storage.objects.list for a bucket", {
    timeout: 300_000,
  }, async () => {
    const buckets = await as("idle-vm", ["storage", "ls"]);
    assert.equal(buckets.code, 1, why(buckets));
    assert.match(
      buckets.stderr,
      /idle-sa@demo-project\.iam\.gserviceaccount\.com does not have storage\.buckets\.list access to the Google Cloud project\./,
    );
    assert.equal(buckets.stdout, "");
    const objects = await as("idle-vm", ["storage", "ls", `gs://${B}`]);
    assert.equal(objects.code, 1, why(objects));
    assert.match(
      objects.stderr,
      /idle-sa@demo-project\.iam\.gserviceaccount\.com does not have storage\.objects\.list access to the Google Cloud Storage bucket\./,
    );
  });

  test("gsutil through its gcloud shim (use_gcloud_storage), over plain HTTP", {
    timeout: 300_000,
    skip: GSUTIL ? false : GSUTIL_MISSING,
  }, async () => {
    const boto = join(dir, "boto-shim.cfg");
    writeFileSync(boto, `[GSUtil]\nuse_gcloud_storage = True\nstate_dir = ${join(dir, "gsutil-state")}\n`);
    const env = { BOTO_CONFIG: boto };
    const up = await as("writer-vm", ["cp", join(dir, "small.txt"), `gs://${B}/gsutil/a.txt`], env, GSUTIL);
    assert.equal(up.code, 0, why(up));
    assert.ok(up.calls.includes(`POST /upload/storage/v1/b/${B}/o 200`), why(up));
    const cat = await as("writer-vm", ["cat", `gs://${B}/gsutil/a.txt`], env, GSUTIL);
    assert.equal(cat.code, 0, why(cat));
    assert.equal(cat.stdout, small.toString());
    const ls = await as("writer-vm", ["ls", `gs://${B}/gsutil/`], env, GSUTIL);
    assert.equal(ls.code, 0, why(ls));
    assert.equal(ls.stdout.trim(), `gs://${B}/gsutil/a.txt`);
    const denied = await as(
      "viewer-vm",
      ["cp", join(dir, "small.txt"), `gs://${B}/gsutil/b.txt`],
      env,
      GSUTIL,
    );
    assert.equal(denied.code, 1, why(denied));
    assert.match(denied.stderr, /does not have storage\.objects\.create access/);
  });

  // gsutil's own JSON API client (not the gcloud shim) hard-codes https:// (gslib/gcs_json_api.py),
  // so it cannot be tested over the plain HTTP this file serves: test/compat/gsutil-tls.test.ts runs
  // it against `serve --tls`.
});
