/**
 * The real Node `google-auth-library` and `@google-cloud/storage`, unchanged and with no endpoint
 * options, reach Warrant through `serve --proxy`: they post to Google's hard-coded token hosts and
 * call storage.googleapis.com, and the only configuration is the environment `warrant env --proxy`
 * prints. Each scenario runs in a child process whose every outbound socket is recorded (via
 * `node:diagnostics_channel`): all of them must go to 127.0.0.1.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";

const SA = "demo-sa@demo-project.iam.gserviceaccount.com";

const SCRIPT = `
import dc from "node:diagnostics_channel";
const sockets = [];
dc.subscribe("net.client.socket", ({ socket }) => {
  const entry = { remote: null };
  sockets.push(entry);
  socket.once("connect", () => { entry.remote = socket.remoteAddress + ":" + socket.remotePort; });
});
const hosts = new Set();
dc.subscribe("http.client.request.start", ({ request: r }) => hosts.add(r.host));
dc.subscribe("undici:request:create", ({ request: r }) => hosts.add(r.origin));
const [authUrl, storageUrl, scenario] = process.argv.slice(2);
const out = {};
try {
  if (scenario === "token") {
    const { GoogleAuth } = await import(authUrl);
    const auth = new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] });
    const client = await auth.getClient();
    out.token = (await client.getAccessToken()).token;
  } else if (scenario === "apis") {
    // Google's own hosts, as a client built on the library would call them.
    const { GoogleAuth } = await import(authUrl);
    const auth = new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] });
    const get = async (url) => (await auth.request({ url })).data;
    out.instances = (await get("https://compute.googleapis.com/compute/v1/projects/demo-project/zones/us-central1-a/instances")).items.map((i) => i.name);
    out.instanceSelfLink = (await get("https://compute.googleapis.com/compute/v1/projects/demo-project/zones/us-central1-a/instances/demo-vm")).selfLink;
    out.accounts = (await get("https://iam.googleapis.com/v1/projects/demo-project/serviceAccounts")).accounts.map((a) => a.email);
    out.project = (await get("https://cloudresourcemanager.googleapis.com/v1/projects/demo-project")).projectId;
  } else if (scenario === "idtoken") {
    // Minted at oauth2.googleapis.com, verified against www.googleapis.com's certs: stock defaults throughout.
    const { GoogleAuth, OAuth2Client } = await import(authUrl);
    const client = await new GoogleAuth().getIdTokenClient("https://service.example");
    const idToken = await client.idTokenProvider.fetchIdToken("https://service.example");
    const ticket = await new OAuth2Client().verifyIdToken({ idToken, audience: "https://service.example" });
    out.idTokenEmail = ticket.getPayload().email;
  } else if (scenario === "impersonate") {
    const { GoogleAuth, Impersonated } = await import(authUrl);
    const sourceClient = await new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] }).getClient();
    const target = new Impersonated({
      sourceClient,
      targetPrincipal: "demo-sa@demo-project.iam.gserviceaccount.com",
      targetScopes: ["https://www.googleapis.com/auth/cloud-platform"],
      lifetime: 600,
    });
    out.token = (await target.getAccessToken()).token;
  } else if (scenario === "objects") {
    const { Storage } = await import(storageUrl);
    const bucket = new Storage({ projectId: "demo-project" }).bucket("via-proxy");
    await bucket.file("simple.txt").save("simple upload\\n", { resumable: false });
    await bucket.file("resumable.bin").save(Buffer.alloc(300 * 1024, 7), { resumable: true });
    out.simple = (await bucket.file("simple.txt").download())[0].toString();
    out.resumableSize = (await bucket.file("resumable.bin").download())[0].length;
    const [files] = await bucket.getFiles();
    out.files = files.map((f) => f.name);
    out.mediaLink = files[0].metadata.mediaLink;
  } else {
    const { Storage } = await import(storageUrl);
    const [buckets] = await new Storage({ projectId: "demo-project" }).getBuckets();
    out.buckets = buckets.map((b) => b.name);
    out.selfLinks = buckets.map((b) => b.metadata.selfLink);
  }
} catch (e) {
  out.error = String(e && e.stack || e);
}
out.sockets = sockets.map((s) => s.remote);
out.hosts = [...hosts];
console.log(JSON.stringify(out));
`;

describe("Node clients through Warrant's HTTPS interception proxy", () => {
  let h: Harness;
  let dir: string;
  let script: string;
  let proxyEnv: Record<string, string>;
  let keyFile: string;
  before(async () => {
    h = await startHarness({ proxyPort: 0 });
    dir = mkdtempSync(join(tmpdir(), "warrant-proxy-node-"));
    script = join(dir, "child.mjs");
    writeFileSync(script, SCRIPT);
    const r = await runCli(["env", "--proxy"], { env: { WARRANT_STATE_DIR: h.stateDir } });
    assert.equal(r.code, 0, r.stderr);
    proxyEnv = Object.fromEntries(
      [...r.stdout.matchAll(/^export ([A-Za-z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    const key = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}/keys`, { body: {} });
    keyFile = join(dir, "sa.json");
    writeFileSync(keyFile, Buffer.from(key.body.privateKeyData, "base64"));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function child(scenario: string, credentialFile: string) {
    const home = mkdtempSync(join(dir, "home-"));
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [
        script,
        import.meta.resolve("google-auth-library"),
        import.meta.resolve("@google-cloud/storage"),
        scenario,
      ],
      {
        cwd: home,
        // Only what `warrant env --proxy` printed, plus the key file: no endpoint options anywhere.
        env: {
          PATH: process.env.PATH,
          HOME: home,
          GOOGLE_APPLICATION_CREDENTIALS: credentialFile,
          ...proxyEnv,
        },
        timeout: 60_000,
        killSignal: "SIGKILL",
      },
    );
    const out = JSON.parse(stdout) as {
      token?: string;
      idTokenEmail?: string;
      instances?: string[];
      instanceSelfLink?: string;
      accounts?: string[];
      project?: string;
      simple?: string;
      resumableSize?: number;
      files?: string[];
      mediaLink?: string;
      buckets?: string[];
      selfLinks?: string[];
      error?: string;
      sockets: (string | null)[];
      hosts: string[];
    };
    assert.equal(out.error, undefined, `${out.error}\n${stderr}`);
    const proxyPort = new URL(h.server.proxyUrl!).port;
    assert.ok(out.sockets.length > 0);
    for (const s of out.sockets) assert.equal(s, `127.0.0.1:${proxyPort}`, "every socket went to the proxy");
    return out;
  }

  async function tokenInfoEmail(token: string) {
    const r = await h.call("GET", `/tokeninfo?access_token=${token}`, { token: null });
    assert.equal(r.status, 200, r.text);
    return r.body.email as string;
  }

  test("google-auth-library with a service-account key and scopes gets the account's Warrant token", async () => {
    const out = await child("token", keyFile);
    assert.equal(await tokenInfoEmail(out.token!), SA);
    assert.equal(h.server.proxyStats!().intercepted["oauth2.googleapis.com"]! >= 1, true);
  });

  test("google-auth-library with an authorized_user file gets the user's Warrant token", async () => {
    const out = await child("token", h.server.adminCredentialFile);
    assert.equal(await tokenInfoEmail(out.token!), "admin@warrant.local");
  });

  test("@google-cloud/storage with no endpoint options lists Warrant's buckets", async () => {
    await h.call("POST", `/storage/v1/b?project=demo-project`, { body: { name: "via-proxy" } });
    const before = h.server.proxyStats!().intercepted;
    const out = await child("storage", keyFile);
    assert.ok(out.buckets!.includes("via-proxy"), JSON.stringify(out.buckets));
    assert.ok(out.selfLinks!.includes("https://storage.googleapis.com/storage/v1/b/via-proxy"));
    const after = h.server.proxyStats!().intercepted;
    assert.ok((after["storage.googleapis.com"] ?? 0) > (before["storage.googleapis.com"] ?? 0));
    // The token came from a Google token host intercepted by the proxy (7.x posts to www.googleapis.com).
    const tokenHosts = ["oauth2.googleapis.com", "www.googleapis.com"];
    assert.ok(tokenHosts.some((t) => (after[t] ?? 0) > (before[t] ?? 0)));
  });

  test("Compute, IAM and Resource Manager at Google's hosts are Warrant's, with links on those hosts", async () => {
    const before = h.server.proxyStats!().intercepted;
    // As the administrator (an owner): demo-sa may not list service accounts.
    const out = await child("apis", h.server.adminCredentialFile);
    assert.ok(out.instances!.includes("demo-vm"), JSON.stringify(out.instances));
    assert.equal(
      out.instanceSelfLink,
      "https://compute.googleapis.com/compute/v1/projects/demo-project/zones/us-central1-a/instances/demo-vm",
    );
    assert.ok(out.accounts!.includes(SA), JSON.stringify(out.accounts));
    assert.equal(out.project, "demo-project");
    const after = h.server.proxyStats!().intercepted;
    for (const host of [
      "compute.googleapis.com",
      "iam.googleapis.com",
      "cloudresourcemanager.googleapis.com",
    ])
      assert.ok((after[host] ?? 0) > (before[host] ?? 0), host);
  });

  test("@google-cloud/storage with no endpoint options uploads (simple and resumable) and downloads", async () => {
    await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: "via-proxy" } });
    const out = await child("objects", keyFile);
    assert.equal(out.simple, "simple upload\n");
    assert.equal(out.resumableSize, 300 * 1024);
    assert.deepEqual(out.files!.sort(), ["resumable.bin", "simple.txt"]);
    assert.match(
      out.mediaLink!,
      /^https:\/\/storage\.googleapis\.com\/download\/storage\/v1\/b\/via-proxy\/o\//,
    );
    const r = await h.call("GET", "/storage/v1/b/via-proxy/o/simple.txt?alt=media");
    assert.equal(r.text, "simple upload\n");
    // Written as the service account: the audit log names it for the upload.
    const audit = readFileSync(join(h.stateDir, "audit.log"), "utf8").trim().split("\n");
    assert.ok(audit.some((l) => l.includes(`serviceAccount:${SA}`) && l.includes("simple.txt")));
  });

  test("ID tokens: minted at oauth2.googleapis.com and verified against Google's default certs URL", async () => {
    const before = h.server.proxyStats!().intercepted;
    const out = await child("idtoken", keyFile);
    assert.equal(out.idTokenEmail, SA);
    const after = h.server.proxyStats!().intercepted;
    assert.ok(
      (after["www.googleapis.com"] ?? 0) > (before["www.googleapis.com"] ?? 0),
      "certs fetched via the proxy",
    );
  });

  test("impersonation through iamcredentials.googleapis.com yields the target account's token", async () => {
    const grant = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}:setIamPolicy`, {
      body: {
        policy: {
          bindings: [{ role: "roles/iam.serviceAccountTokenCreator", members: ["user:admin@warrant.local"] }],
        },
      },
    });
    assert.equal(grant.status, 200, grant.text);
    const out = await child("impersonate", h.server.adminCredentialFile);
    assert.equal(await tokenInfoEmail(out.token!), SA);
    assert.ok((h.server.proxyStats!().intercepted["iamcredentials.googleapis.com"] ?? 0) >= 1);
  });
});
