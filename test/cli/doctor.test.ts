/**
 * `warrant doctor` in four shells against a real server: the admin's (`warrant env`), an instance's
 * (`warrant env --instance`), one with a stale GOOGLE_APPLICATION_CREDENTIALS, and one with a proxy
 * variable but no CA. Each names the credential in use and each problem with its fix.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { runCli } from "./helpers.js";

const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const INSTANCE = "projects/demo-project/zones/us-central1-a/instances/demo-vm";

/** The finding lines of one problem: its text line and the fix line after it. */
function problemWith(out: string, text: RegExp): { text: string; fix: string } {
  const lines = out.split("\n");
  const i = lines.findIndex((l) => l.includes("PROBLEM") && text.test(l));
  assert.ok(i >= 0, `no PROBLEM matching ${text} in:\n${out}`);
  const fix = lines[i + 1] ?? "";
  assert.match(fix, /^\s+fix: /, `the problem has no fix line:\n${out}`);
  return { text: lines[i]!, fix };
}

describe("warrant doctor", () => {
  let h: Harness;
  let dir: string;
  let admin: Record<string, string>;
  let instance: Record<string, string>;

  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-doctor-"));
    mkdirSync(join(dir, "gcloud"));
    const base = {
      HOME: dir,
      CLOUDSDK_CONFIG: join(dir, "gcloud"),
      WARRANT_STATE_DIR: join(dir, "no-server-here"),
      WARRANT_CONFIG_DIR: join(dir, "warrant-config"),
      // Never probe the link-local address from a test.
      METADATA_SERVER_DETECTION: "none",
    };
    // What `eval "$(warrant env)"` exports.
    admin = {
      ...base,
      WARRANT_ENDPOINT: h.url,
      WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
      WARRANT_PROJECT: "demo-project",
    };
    // What `eval "$(warrant env --instance demo-vm)"` exports.
    const mds = h.server.metadataServers()[INSTANCE]!;
    const { METADATA_SERVER_DETECTION: _, ...noDetection } = base;
    instance = {
      ...noDetection,
      GCE_METADATA_HOST: mds,
      GCE_METADATA_IP: mds,
      GCE_METADATA_ROOT: mds,
      WARRANT_ENDPOINT: h.url,
      WARRANT_CREDENTIAL_SOURCE: "adc",
      CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: `${h.url}/`,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE: `${h.url}/`,
      GOOGLE_CLOUD_PROJECT: "demo-project",
    };
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("admin shell: the admin credential file as admin@warrant.local with its roles; ADC picks nothing; no problem", async () => {
    const r = await runCli(["doctor"], { env: admin, cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `ok +credential in use: ${h.server.adminCredentialFile.replace(/[.]/g, "\\.")} — acts as admin@warrant\\.local`,
      ),
    );
    assert.match(r.stdout, /1\. GOOGLE_APPLICATION_CREDENTIALS: not set/);
    assert.match(r.stdout, /2\. well-known file .*application_default_credentials\.json: does not exist/);
    assert.match(
      r.stdout,
      /3\. metadata server http:\/\/169\.254\.169\.254: not used \(METADATA_SERVER_DETECTION=none\)/,
    );
    assert.match(r.stdout, /ADC picks: nothing/);
    assert.match(r.stdout, /ok +roles on projects\/demo-project: .*roles\/owner/);
    assert.match(r.stdout, /ok +clock: within \d+ s of the server's/);
    assert.match(r.stdout, /No problems found\./);
    assert.doesNotMatch(r.stdout + r.stderr, /PROBLEM/);
  });

  test("instance shell: the metadata server, as the instance's account, with its scopes", async () => {
    const r = await runCli(["doctor"], { env: instance, cwd: dir });
    assert.match(
      r.stdout,
      new RegExp(
        `ok +credential in use: metadata server \\(http://${instance.GCE_METADATA_HOST}\\) — acts as ${SA}`,
      ),
    );
    assert.match(
      r.stdout,
      new RegExp(`ok +ADC picks: metadata server \\(http://${instance.GCE_METADATA_HOST}\\)`),
    );
    assert.match(r.stdout, new RegExp(`answers as ${SA.replace(/\./g, "\\.")} \\(project demo-project\\)`));
    assert.match(r.stdout, /scopes: https:\/\/www\.googleapis\.com\/auth\/cloud-platform/);
    assert.match(r.stdout, new RegExp(`identity: ${SA.replace(/\./g, "\\.")}`));
    assert.match(r.stdout, /gcloud uses: the metadata server at .* \(GCE_METADATA_ROOT\)/);
    // Its policy is not readable as the instance, but what it may do is.
    assert.match(r.stdout, /cannot read its IAM policy as demo-sa@.* \(403 PERMISSION_DENIED\)/);
    assert.match(
      r.stdout,
      /permissions on projects\/demo-project \(of \d+ common ones\): .*storage\.buckets\.list/,
    );
    assert.equal(r.code, 0, r.stdout);
  });

  test("stale GOOGLE_APPLICATION_CREDENTIALS: named as the problem, with the fix and what ADC would use instead", async () => {
    const stale = join(dir, "deleted-key.json");
    const r = await runCli(["doctor"], {
      env: { ...instance, GOOGLE_APPLICATION_CREDENTIALS: stale },
      cwd: dir,
    });
    assert.equal(r.code, 1);
    const p = problemWith(r.stdout, /GOOGLE_APPLICATION_CREDENTIALS names/);
    assert.match(p.text, new RegExp(`${stale.replace(/[.]/g, "\\.")}, which does not exist \\(stale\\)`));
    assert.match(
      p.fix,
      /unset GOOGLE_APPLICATION_CREDENTIALS \(ADC then uses the metadata server http:\/\/127\.0\.0\.\d+:\d+\)/,
    );
    // The CLI itself fails the same way (it uses ADC here), and says so.
    problemWith(r.stdout, /the warrant CLI has no working credential: .*deleted-key\.json/);
    assert.match(r.stdout, /ADC picks: nothing — it fails: Cannot read credential file .*deleted-key\.json/);
    // In the admin's shell the CLI still works (its own credential), and says which; ADC's problem stays.
    const a = await runCli(["doctor"], {
      env: { ...admin, GOOGLE_APPLICATION_CREDENTIALS: stale },
      cwd: dir,
    });
    assert.equal(a.code, 1);
    assert.match(a.stdout, /ok +credential in use: .*admin-credentials\.json — acts as admin@warrant\.local/);
    const q = problemWith(
      a.stdout,
      /GOOGLE_APPLICATION_CREDENTIALS names .*deleted-key\.json, which does not exist/,
    );
    assert.match(q.fix, /unset GOOGLE_APPLICATION_CREDENTIALS \(ADC then uses nothing/);
  });

  test("proxy variable but no CA: the problem names the CA variables and the fix", async () => {
    const r = await runCli(["doctor"], {
      env: { ...admin, HTTPS_PROXY: "http://127.0.0.1:3128" },
      cwd: dir,
    });
    assert.equal(r.code, 1);
    // The credential in use is still named.
    assert.match(r.stdout, /credential in use: .*admin-credentials\.json — acts as admin@warrant\.local/);
    const p = problemWith(r.stdout, /HTTPS_PROXY is set but no CA variable is/);
    assert.match(p.text, /NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE, SSL_CERT_FILE/);
    assert.match(p.fix, /eval "\$\(warrant env --proxy\)"/);
    const n = problemWith(r.stdout, /NO_PROXY does not list 127\.0\.0\.1/);
    assert.match(n.fix, /export NO_PROXY=127\.0\.0\.1,localhost/);
    const g = problemWith(r.stdout, /CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE is not/);
    assert.match(g.fix, /warrant env --proxy/);
    // A CA variable naming a missing file is its own problem.
    const missing = join(dir, "gone-ca.pem");
    const r2 = await runCli(["doctor"], {
      env: {
        ...admin,
        HTTPS_PROXY: "http://127.0.0.1:3128",
        NODE_EXTRA_CA_CERTS: missing,
        NO_PROXY: "127.0.0.1",
      },
      cwd: dir,
    });
    problemWith(
      r2.stdout,
      new RegExp(`NODE_EXTRA_CA_CERTS=${missing.replace(/[.]/g, "\\.")} does not exist`),
    );
    problemWith(r2.stdout, /not REQUESTS_CA_BUNDLE \(Python requests \/ google-auth\)/);
    assert.doesNotMatch(r2.stdout, /NO_PROXY does not list/);
  });

  test("a corrupt credential file is a problem with a fix; --format=json lists the findings", async () => {
    const corrupt = join(dir, "half-written.json");
    writeFileSync(corrupt, '{"type": "service_account", "client_email": ');
    const r = await runCli(["doctor", "--format=json"], {
      env: { ...admin, GOOGLE_APPLICATION_CREDENTIALS: corrupt },
      cwd: dir,
    });
    assert.equal(r.code, 1);
    const { sections } = JSON.parse(r.stdout) as {
      sections: { title: string; findings: { level: string; text: string; fix?: string }[] }[];
    };
    const adc = sections.find((s) => s.title.startsWith("Application Default Credentials"))!;
    const p = adc.findings.find((f) => f.level === "problem")!;
    assert.match(p.text, /it fails: Credential file .*half-written\.json is not valid JSON/);
    assert.match(p.fix ?? "", /repair or replace .*half-written\.json/);
    const cli = sections.find((s) => s.title === "Warrant CLI")!;
    assert.ok(
      cli.findings.some(
        (f) => f.level === "ok" && /credential in use: .*admin-credentials\.json/.test(f.text),
      ),
    );
  });

  test("a clock skewed against the server's is a problem with its fix", async () => {
    // The server's answers pass through unchanged but for Date, ten minutes ahead: as if this
    // machine's clock were ten minutes behind.
    const skewed = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const upstream = await fetch(`${h.url}${req.url}`, {
        method: req.method!,
        headers: Object.fromEntries(
          Object.entries(req.headers).filter(([k, v]) => typeof v === "string" && k !== "host"),
        ) as Record<string, string>,
        ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
      });
      res.setHeader("date", new Date(Date.now() + 600_000).toUTCString());
      res.setHeader("content-type", upstream.headers.get("content-type") ?? "application/json");
      res.writeHead(upstream.status);
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise<void>((r) => skewed.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(skewed.address() as AddressInfo).port}`;
      const r = await runCli(["doctor"], { env: { ...admin, WARRANT_ENDPOINT: url }, cwd: dir });
      assert.equal(r.code, 1);
      const p = problemWith(r.stdout, /clock: this machine is (59\d|60\d) s behind the server/);
      assert.match(p.fix, /timedatectl set-ntp true/);
    } finally {
      await new Promise((r) => skewed.close(r));
    }
  });

  test("gcloud's view: an expired access-token file and overrides pointing at another server", async () => {
    const tokenFile = join(dir, "gcloud-access-token");
    writeFileSync(tokenFile, "ya29.not-a-token-the-server-issued");
    const r = await runCli(["doctor"], {
      env: {
        ...admin,
        CLOUDSDK_AUTH_ACCESS_TOKEN_FILE: tokenFile,
        CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: "http://127.0.0.1:9/",
        CLOUDSDK_CORE_PROJECT: "other-project",
      },
      cwd: dir,
    });
    assert.equal(r.code, 1);
    const t = problemWith(r.stdout, /no longer accepts \(expired or revoked\)/);
    assert.match(t.fix, /warrant env --gcloud/);
    problemWith(r.stdout, /CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM=http:\/\/127\.0\.0\.1:9\/ points elsewhere/);
    problemWith(
      r.stdout,
      /gcloud's project other-project differs from warrant's demo-project \(WARRANT_PROJECT\)/,
    );
    assert.doesNotMatch(r.stdout, /not-a-token-the-server-issued/);
  });
});
