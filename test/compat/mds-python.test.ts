/**
 * Python google-auth (the copy bundled with the Cloud SDK, run with the SDK's Python) on a Warrant
 * instance: with GCE_METADATA_HOST/GCE_METADATA_IP pointing at the demo-vm's metadata-server agent
 * and no credentials file anywhere, Application Default Credentials are the instance's.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { type Harness, startHarness } from "../support/harness.js";
import { SDK_PYTHON, SDK_PYTHON_MISSING } from "../support/tools.js";

const skip = SDK_PYTHON_MISSING;
const SDK = SDK_PYTHON?.sdk ?? "";
const PYTHON = SDK_PYTHON?.python ?? "";
const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const INSTANCE = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
const AUDIENCE = "https://aud.example.com";

const SCRIPT = `
import json, sys
import google.auth
import google.oauth2.id_token
from google.auth import compute_engine
from google.auth.transport.requests import Request
audience = sys.argv[1]
creds, project = google.auth.default()
out = {
    "class": type(creds).__module__ + "." + type(creds).__name__,
    "is_compute": isinstance(creds, compute_engine.Credentials),
    "project": project,
}
creds.refresh(Request())
out["token"] = creds.token
out["email"] = creds.service_account_email
out["expiry"] = creds.expiry.isoformat() if creds.expiry else None
out["id_token"] = google.oauth2.id_token.fetch_id_token(Request(), audience)
print(json.dumps(out))
`;

describe("Python google-auth on a Warrant instance (metadata server)", { skip }, () => {
  let h: Harness;
  let dir: string;
  let mds: string;
  before(async () => {
    h = await startHarness();
    const address = h.server.metadataServers()[INSTANCE];
    assert.ok(address, `no metadata server for ${INSTANCE}: ${JSON.stringify(h.server.metadataServers())}`);
    mds = address;
    dir = mkdtempSync(join(tmpdir(), "warrant-mds-py-"));
  });
  after(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("google.auth.default() is the instance's compute_engine.Credentials; tokens and ID tokens are Warrant's", {
    timeout: 120_000,
  }, async () => {
    writeFileSync(join(dir, "probe.py"), SCRIPT);
    const config = join(dir, "cloudsdk-config");
    mkdirSync(config);
    // No GOOGLE_APPLICATION_CREDENTIALS, no GOOGLE_CLOUD_PROJECT, an empty CLOUDSDK_CONFIG and a HOME
    // without ~/.config/gcloud: the metadata server is the only source left.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      CLOUDSDK_CONFIG: config,
      PYTHONPATH: `${SDK}/lib/third_party`,
      GCE_METADATA_HOST: mds,
      GCE_METADATA_IP: mds,
      NO_PROXY: "127.0.0.0/8,localhost",
      no_proxy: "127.0.0.0/8,localhost",
    };
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)(PYTHON, [join(dir, "probe.py"), AUDIENCE], {
        env,
        timeout: 90_000,
        killSignal: "SIGKILL",
      }));
    } catch (err) {
      const e = err as { stderr?: string; signal?: string };
      assert.fail(`python failed (${e.signal ?? "exit"}): ${e.stderr}`);
    }
    const out = JSON.parse(stdout);
    assert.equal(out.class, "google.auth.compute_engine.credentials.Credentials", stdout);
    assert.equal(out.is_compute, true);
    assert.equal(out.project, "demo-project");
    assert.equal(out.email, SA);

    const res = await fetch(`${h.url}/tokeninfo?access_token=${encodeURIComponent(out.token)}`);
    const info = (await res.json()) as Record<string, string>;
    assert.equal(res.status, 200, JSON.stringify(info));
    assert.equal(info.email, SA);
    assert.match(info.scope ?? "", /(^| )https:\/\/www\.googleapis\.com\/auth\/cloud-platform( |$)/);

    const jwks = createRemoteJWKSet(new URL(`${h.url}/oauth2/v3/certs`));
    const { payload } = await jwtVerify(out.id_token, jwks, {
      issuer: "https://accounts.google.com",
      audience: AUDIENCE,
      algorithms: ["RS256"],
    });
    // fetch_id_token asks the metadata server for format=full.
    assert.equal(payload.email, SA);
    assert.equal(payload.email_verified, true);
    const gce = (payload.google as { compute_engine?: Record<string, unknown> } | undefined)?.compute_engine;
    assert.ok(gce, `no google.compute_engine claims: ${JSON.stringify(decodeJwt(out.id_token))}`);
    assert.equal(gce.instance_name, "demo-vm");
    assert.equal(gce.project_id, "demo-project");
    assert.equal(gce.zone, "us-central1-a");
    assert.equal(typeof gce.instance_id, "string");
    assert.equal(typeof gce.project_number, "number");
  });
});
