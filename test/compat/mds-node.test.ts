/**
 * The real Node `google-auth-library` on a Warrant instance, and the raw metadata-server flow with
 * plain fetch. The library memoises GCE detection and reads GCE_METADATA_HOST/GCE_METADATA_IP per
 * process, so it runs in a child Node process with a fresh environment.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { type Harness, startHarness } from "../support/harness.js";

const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const INSTANCE = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
const AUDIENCE = "https://aud.example.com";
const TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token";

/** Runs in the child; argv: the library's module URL, the audience. Prints one JSON line. */
const SCRIPT = `
const [libUrl, audience] = process.argv.slice(2);
const { GoogleAuth } = await import(libUrl);
const auth = new GoogleAuth();
const client = await auth.getClient();
const out = { clientClass: client.constructor.name };
out.accessToken = await auth.getAccessToken();
out.projectId = await auth.getProjectId();
out.computeIdToken = await client.fetchIdToken(audience);
const idClient = await auth.getIdTokenClient(audience);
out.providerIdToken = await idClient.idTokenProvider.fetchIdToken(audience);
const headers = await idClient.getRequestHeaders();
out.idAuthorization =
  typeof headers.get === "function" ? headers.get("authorization") : headers.Authorization ?? headers.authorization;
console.log(JSON.stringify(out));
`;

describe("Node google-auth-library on a Warrant instance (metadata server)", () => {
  let h: Harness;
  let dir: string;
  let mds: string;
  before(async () => {
    h = await startHarness();
    const address = h.server.metadataServers()[INSTANCE];
    assert.ok(address, `no metadata server for ${INSTANCE}: ${JSON.stringify(h.server.metadataServers())}`);
    mds = address;
    dir = mkdtempSync(join(tmpdir(), "warrant-mds-node-"));
  });
  after(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function tokenInfo(token: string) {
    const res = await fetch(`${h.url}/tokeninfo?access_token=${encodeURIComponent(token)}`);
    const info = (await res.json()) as Record<string, string>;
    assert.equal(res.status, 200, JSON.stringify(info));
    return info;
  }

  async function verifyIdToken(jwt: string) {
    const jwks = createRemoteJWKSet(new URL(`${h.url}/oauth2/v3/certs`));
    const { payload } = await jwtVerify(jwt, jwks, {
      issuer: "https://accounts.google.com",
      audience: AUDIENCE,
      algorithms: ["RS256"],
    });
    return payload;
  }

  test("GoogleAuth picks the Compute client; tokens, project and ID tokens come from the metadata server", {
    timeout: 120_000,
  }, async (t) => {
    const script = join(dir, "probe.mjs");
    writeFileSync(script, SCRIPT);
    const config = join(dir, "cloudsdk-config");
    mkdirSync(config);
    // No GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_CLOUD_PROJECT/GCLOUD_PROJECT or METADATA_SERVER_DETECTION;
    // HOME without ~/.config/gcloud, so the metadata server is the only source.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      CLOUDSDK_CONFIG: config,
      CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
      GCE_METADATA_HOST: mds,
      GCE_METADATA_IP: mds,
      NO_PROXY: "127.0.0.0/8,localhost",
      no_proxy: "127.0.0.0/8,localhost",
    };
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)(
        process.execPath,
        [script, import.meta.resolve("google-auth-library"), AUDIENCE],
        { cwd: dir, env, timeout: 90_000, killSignal: "SIGKILL" },
      ));
    } catch (err) {
      const e = err as { stderr?: string; signal?: string };
      assert.fail(`node child failed (${e.signal ?? "exit"}): ${e.stderr}`);
    }
    const out = JSON.parse(stdout);

    assert.equal(out.clientClass, "Compute");
    assert.equal((await tokenInfo(out.accessToken)).email, SA);

    assert.equal(out.projectId, "demo-project");
    // Without GOOGLE_CLOUD_PROJECT the library first runs `gcloud config config-helper` (when gcloud is
    // on PATH); that gcloud leaves its GCE-detection cache in CLOUDSDK_CONFIG.
    // Its GCE_METADATA_ROOT is unset, so it finds no GCE (cache "False") and the project is the MDS's.
    const gceCache = join(config, "gce");
    t.diagnostic(
      existsSync(gceCache)
        ? `getProjectId() spawned gcloud (its gce cache says ${readFileSync(gceCache, "utf8").trim()};` +
            ` CLOUDSDK_CONFIG holds ${readdirSync(config).join(", ")})`
        : "getProjectId() did not spawn gcloud",
    );

    for (const jwt of [out.computeIdToken, out.providerIdToken]) {
      const payload = await verifyIdToken(jwt);
      assert.equal(payload.email, SA, JSON.stringify(decodeJwt(jwt)));
      const gce = (payload.google as { compute_engine?: Record<string, unknown> } | undefined)
        ?.compute_engine;
      assert.equal(gce?.instance_name, "demo-vm", "the library asks for format=full");
    }
    assert.match(out.idAuthorization ?? "", /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    await verifyIdToken(out.idAuthorization.slice("Bearer ".length));
  });

  test("raw flow: the token endpoint answers JSON to a request carrying Metadata-Flavor: Google", async () => {
    const res = await fetch(`http://${mds}${TOKEN_PATH}`, { headers: { "Metadata-Flavor": "Google" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.headers.get("metadata-flavor"), "Google");
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ["access_token", "expires_in", "token_type"]);
    assert.equal(typeof body.access_token, "string");
    assert.equal(typeof body.expires_in, "number");
    assert.ok(
      Number.isInteger(body.expires_in) && (body.expires_in as number) > 300,
      String(body.expires_in),
    );
    assert.equal(body.token_type, "Bearer");
    assert.equal((await tokenInfo(body.access_token as string)).email, SA);

    // The instance's token lists the instances of its zone (demo-sa holds roles/compute.viewer).
    const list = await fetch(`${h.url}/compute/v1/projects/demo-project/zones/us-central1-a/instances`, {
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    const text = await list.text();
    assert.equal(list.status, 200, text);
    const items = (JSON.parse(text) as { items?: { name: string }[] }).items ?? [];
    assert.ok(
      items.some((i) => i.name === "demo-vm"),
      text,
    );
  });

  test("raw flow: without Metadata-Flavor: Google the metadata server refuses with 403", async () => {
    const res = await fetch(`http://${mds}${TOKEN_PATH}`);
    const text = await res.text();
    assert.equal(res.status, 403);
    assert.match(text, /Missing Metadata-Flavor:Google header/);
    assert.equal(res.headers.get("metadata-flavor"), "Google", "every reply carries the flavor header");
    assert.doesNotMatch(text, /access_token/);
  });

  test("raw flow: a forwarded request (X-Forwarded-For) is refused with 403", async () => {
    const res = await fetch(`http://${mds}${TOKEN_PATH}`, {
      headers: { "Metadata-Flavor": "Google", "X-Forwarded-For": "203.0.113.7" },
    });
    const text = await res.text();
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("metadata-flavor"), "Google");
    assert.doesNotMatch(text, /access_token/);
  });
});
