/**
 * gsutil (Cloud SDK, unchanged) over HTTPS against `serve --tls` — its JSON API is HTTPS-only — on
 * an instance (the metadata server, no login). boto's `gs_json_host`/`gs_json_port` point at the
 * API port; `CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE` (which the wrapper turns into boto's
 * `ca_certificates_file`) is the bundle `warrant env --proxy` names: system bundle + Warrant's CA.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type Harness, startHarness } from "../support/harness.js";
import { GSUTIL, GSUTIL_MISSING } from "../support/tools.js";

const run = promisify(execFile);
const skip = GSUTIL ? false : GSUTIL_MISSING;
const VM = "projects/demo-project/zones/us-central1-a/instances/demo-vm";

describe("gsutil over HTTPS (serve --tls)", { skip }, () => {
  let h: Harness;
  let dir: string;
  before(async () => {
    h = await startHarness({ tls: true });
    dir = mkdtempSync(join(tmpdir(), "warrant-gsutil-"));
    assert.equal(
      (await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: "gsutil-tls" } })).status,
      200,
    );
    for (let i = 0; i < 100 && !h.server.metadataServers()[VM]; i++)
      await new Promise((r) => setTimeout(r, 50));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gsutil(args: string[], caFile: string) {
    const state = mkdtempSync(join(dir, "state-"));
    const boto = join(state, "boto.cfg");
    const { hostname, port } = new URL(h.server.httpsUrl!);
    writeFileSync(
      boto,
      `[Credentials]\ngs_json_host = ${hostname}\ngs_json_port = ${port}\n[Boto]\nnum_retries = 0\nmax_retry_delay = 1\n` +
        `[GSUtil]\nprefer_api = json\nstate_dir = ${state}\n`,
    );
    const mds = h.server.metadataServers()[VM]!;
    try {
      const { stdout, stderr } = await run(GSUTIL!, args, {
        env: {
          PATH: process.env.PATH,
          HOME: state,
          BOTO_CONFIG: boto,
          CLOUDSDK_CONFIG: mkdtempSync(join(state, "config-")),
          GCE_METADATA_ROOT: mds,
          GCE_METADATA_HOST: mds,
          GCE_METADATA_IP: mds,
          CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE: caFile,
          CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
          CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
          CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
          NO_PROXY: "127.0.0.0/8,localhost",
          no_proxy: "127.0.0.0/8,localhost",
        },
        cwd: state,
        timeout: 120_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  test("gsutil ls, cp up and down over HTTPS trusting the bundle with Warrant's CA", async () => {
    const bundle = h.server.caBundleFile!;
    const ls = await gsutil(["ls"], bundle);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^gs:\/\/gsutil-tls\/$/m);
    const src = join(dir, "hello.txt");
    writeFileSync(src, "hello over tls\n");
    const up = await gsutil(["cp", src, "gs://gsutil-tls/dir/hello.txt"], bundle);
    assert.equal(up.code, 0, up.stderr);
    const obj = await h.call("GET", "/storage/v1/b/gsutil-tls/o/dir%2Fhello.txt?alt=media");
    assert.equal(obj.text, "hello over tls\n");
    const dst = join(dir, "back.txt");
    const down = await gsutil(["cp", "gs://gsutil-tls/dir/hello.txt", dst], bundle);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(readFileSync(dst, "utf8"), "hello over tls\n");
  });

  test("without Warrant's CA, gsutil refuses the certificate", async () => {
    const r = await gsutil(["ls"], "/etc/ssl/certs/ca-certificates.crt");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /CERTIFICATE_VERIFY_FAILED/);
  });
});
