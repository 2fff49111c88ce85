/**
 * The real `gcloud` (Cloud SDK, Debian package google-cloud-cli) on a Warrant instance: pointed at the
 * demo-vm's metadata-server agent only through its documented environment variables, it recognises
 * the instance's service account on its own — no key file, no token file, no project property.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { type Harness, startHarness } from "../support/harness.js";
import { GCLOUD, GCLOUD_MISSING } from "../support/tools.js";

const run = promisify(execFile);
const skip = GCLOUD ? false : GCLOUD_MISSING;
const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const INSTANCE = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
const AUDIENCE = "https://aud.example.com";

describe("gcloud on a Warrant instance (metadata server)", { skip }, () => {
  let h: Harness;
  let dir: string;
  let mds: string;
  let configs = 0;

  before(async () => {
    h = await startHarness();
    const address = h.server.metadataServers()[INSTANCE];
    assert.ok(address, `no metadata server for ${INSTANCE}: ${JSON.stringify(h.server.metadataServers())}`);
    mds = address;
    dir = mkdtempSync(join(tmpdir(), "warrant-mds-gcloud-"));
  });
  after(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh, empty CLOUDSDK_CONFIG: gcloud caches GCE detection and tokens there. */
  function freshConfig(): string {
    const config = join(dir, `config-${++configs}`);
    mkdirSync(config);
    return config;
  }

  async function gcloud(args: string[], config: string, extra: NodeJS.ProcessEnv = {}) {
    // Only what the instance provides: no GOOGLE_APPLICATION_CREDENTIALS, no CLOUDSDK_CORE_PROJECT,
    // no token file; HOME holds no ADC file.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      CLOUDSDK_CONFIG: config,
      GCE_METADATA_ROOT: mds,
      GCE_METADATA_HOST: mds,
      GCE_METADATA_IP: mds,
      CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
      NO_PROXY: "127.0.0.0/8,localhost",
      no_proxy: "127.0.0.0/8,localhost",
      ...extra,
    };
    try {
      const { stdout, stderr } = await run(GCLOUD!, args, { env, timeout: 90_000, killSignal: "SIGKILL" });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; signal?: string; stdout?: string; stderr?: string };
      const code = e.code ?? (e.signal ? `killed by ${e.signal}` : 1);
      return { code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  test("gcloud auth list shows the instance's service account as the active account", {
    timeout: 120_000,
  }, async () => {
    const config = freshConfig();
    const r = await gcloud(["auth", "list"], config);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout + r.stderr;
    assert.match(out, /^\*\s+demo-sa@demo-project\.iam\.gserviceaccount\.com\s*$/m, out);
    assert.doesNotMatch(out, /No credentialed accounts/);
    // gcloud decided it is on GCE, and cached that decision in the fresh config.
    assert.ok(readdirSync(config).includes("gce"), `no gce cache in ${readdirSync(config).join(",")}`);
  });

  test("gcloud auth print-access-token prints a Warrant token for demo-sa", {
    timeout: 120_000,
  }, async () => {
    const r = await gcloud(["auth", "print-access-token"], freshConfig());
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.ok(token.length > 0, "no token printed");
    const res = await fetch(`${h.url}/tokeninfo?access_token=${encodeURIComponent(token)}`);
    const info = (await res.json()) as Record<string, string>;
    assert.equal(res.status, 200, JSON.stringify(info));
    assert.equal(info.email, SA);
    assert.match(info.scope ?? "", /(^| )https:\/\/www\.googleapis\.com\/auth\/cloud-platform( |$)/);
    assert.ok(Number(info.expires_in) > 300, `expires_in ${info.expires_in}`);
  });

  test("gcloud auth print-identity-token prints an ID token that verifies against Warrant's certs", {
    timeout: 120_000,
  }, async () => {
    const r = await gcloud(["auth", "print-identity-token", `--audiences=${AUDIENCE}`], freshConfig());
    assert.equal(r.code, 0, r.stderr);
    const jwt = r.stdout.trim();
    assert.match(jwt, /^[\w-]+\.[\w-]+\.[\w-]+$/, `not a compact JWS: ${jwt}`);
    const jwks = createRemoteJWKSet(new URL(`${h.url}/oauth2/v3/certs`));
    const { payload, protectedHeader } = await jwtVerify(jwt, jwks, {
      issuer: "https://accounts.google.com",
      audience: AUDIENCE,
      algorithms: ["RS256"],
    });
    assert.equal(protectedHeader.alg, "RS256");
    assert.ok(protectedHeader.kid, "the ID token names its signing key");
    assert.match(String(payload.sub), /^\d{21}$/);
    assert.equal(payload.azp, payload.sub);
    assert.ok((payload.exp ?? 0) - (payload.iat ?? 0) <= 3600);
  });

  test("gcloud config list takes the project and the account from the metadata server", {
    timeout: 120_000,
  }, async () => {
    const r = await gcloud(["config", "list", "--format=json"], freshConfig());
    assert.equal(r.code, 0, r.stderr);
    const config = JSON.parse(r.stdout) as { core?: { project?: string; account?: string } };
    assert.equal(config.core?.project, "demo-project", r.stdout);
    assert.equal(config.core?.account, SA, r.stdout);
  });

  test("gcloud compute instances list works with the instance's own credentials", {
    timeout: 120_000,
  }, async () => {
    // demo-sa holds roles/compute.viewer; gcloud finds account, project and token on its own.
    const r = await gcloud(["compute", "instances", "list", "--format=value(name)"], freshConfig(), {
      CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: `${h.url}/compute/v1/`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["demo-vm"]);
  });
});
