/**
 * `warrant/client` against a running Warrant: each credential type obtains a working token, the
 * ADC chain picks sources in Google's order, caching and single flight hold, and failures are
 * clear errors naming the file or URL without leaking secrets.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  AdcError,
  AuthorizedUserCredential,
  ComputeCredential,
  type Credential,
  CredentialError,
  credentialFromFile,
  getApplicationDefault,
  ImpersonatedCredential,
  ServiceAccountCredential,
} from "warrant/client";
import { type Harness, startHarness } from "../support/harness.js";

const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const INSTANCE = "projects/demo-project/zones/us-central1-a/instances/demo-vm";

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("warrant/client", () => {
  let h: Harness;
  let dir: string;
  let mds: string;
  let keyFile: string;

  const whoIs = async (token: string) => {
    const r = await h.call("GET", `/oauth2/v3/tokeninfo?access_token=${token}`, { token: null });
    assert.equal(r.status, 200, r.text);
    return r.body.email as string;
  };
  const listBuckets = (c: Credential) => c.authorizedFetch(`${h.url}/storage/v1/b?project=demo-project`);

  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-client-"));
    mds = h.server.metadataServers()[INSTANCE]!;
    assert.ok(mds);
    const key = await h.call("POST", `/v1/projects/demo-project/serviceAccounts/${SA}/keys`, { body: {} });
    assert.equal(key.status, 200, key.text);
    keyFile = join(dir, "key.json");
    writeFileSync(keyFile, Buffer.from(key.body.privateKeyData, "base64"));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("ComputeCredential: the instance's account, its ID token and email, from the metadata server", async () => {
    const c = new ComputeCredential({ metadataUrl: `http://${mds}` });
    const token = await c.getAccessToken();
    assert.equal(await whoIs(token), SA);
    assert.equal((await listBuckets(c)).status, 200);
    const id = await c.getIdToken("https://aud.example.com");
    const claims = JSON.parse(Buffer.from(id.split(".")[1]!, "base64url").toString());
    assert.equal(claims.aud, "https://aud.example.com");
    assert.equal(claims.email, SA);
    assert.equal(await c.getEmail(), SA);
    assert.equal(await c.getProjectId(), "demo-project");
  });

  test("ServiceAccountCredential: token endpoint, self-signed JWT and ID token", async () => {
    const c = await credentialFromFile(keyFile, {
      scopes: ["https://www.googleapis.com/auth/cloud-platform"],
    });
    assert.ok(c instanceof ServiceAccountCredential);
    assert.equal(c.principal, SA);
    assert.equal(await whoIs(await c.getAccessToken()), SA);
    const self = await credentialFromFile(keyFile, { selfSignedJwt: true });
    assert.equal((await listBuckets(self)).status, 200, "self-signed JWT accepted by the API");
    assert.equal(self.fetches, 1);
    const id = await c.getIdToken("https://svc.example.com");
    assert.equal(
      JSON.parse(Buffer.from(id.split(".")[1]!, "base64url").toString()).aud,
      "https://svc.example.com",
    );
  });

  test("AuthorizedUserCredential and ImpersonatedCredential", async () => {
    const admin = await credentialFromFile(h.server.adminCredentialFile);
    assert.ok(admin instanceof AuthorizedUserCredential);
    assert.equal(await whoIs(await admin.getAccessToken()), "admin@warrant.local");
    await assert.rejects(admin.getIdToken("x"), CredentialError);
    // Impersonation needs roles/iam.serviceAccountTokenCreator on the target (owner does not have it).
    const resource = `/v1/projects/demo-project/serviceAccounts/${SA}`;
    const pol = await h.call("POST", `${resource}:getIamPolicy`, { body: {} });
    const bindings = [
      ...(pol.body.bindings ?? []),
      { role: "roles/iam.serviceAccountTokenCreator", members: ["user:admin@warrant.local"] },
    ];
    const set = await h.call("POST", `${resource}:setIamPolicy`, {
      body: { policy: { bindings, etag: pol.body.etag } },
    });
    assert.equal(set.status, 200, set.text);
    const imp = new ImpersonatedCredential({ source: admin, targetPrincipal: SA, iamCredentialsUrl: h.url });
    assert.equal(await whoIs(await imp.getAccessToken()), SA);
    const id = await imp.getIdToken("https://imp.example.com");
    assert.equal(JSON.parse(Buffer.from(id.split(".")[1]!, "base64url").toString()).email, SA);
    // Clock skew: the server's absolute expireTime seen from a clock two hours ahead.
    const skewed = new ImpersonatedCredential({
      source: admin,
      targetPrincipal: SA,
      iamCredentialsUrl: h.url,
      now: () => Date.now() + 2 * 3600 * 1000,
    });
    const t1 = await skewed.getAccessToken();
    assert.equal(await skewed.getAccessToken(), t1, "not refetched on every call");
    assert.equal(skewed.fetches, 1);
    // The gcloud file format for impersonation.
    const file = join(dir, "imp.json");
    writeFileSync(
      file,
      JSON.stringify({
        type: "impersonated_service_account",
        service_account_impersonation_url: `${h.url}/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`,
        source_credentials: JSON.parse(readFileSync(h.server.adminCredentialFile, "utf8")),
      }),
    );
    const fromFile = await credentialFromFile(file);
    assert.equal(await whoIs(await fromFile.getAccessToken()), SA);
  });

  test("ADC order: GOOGLE_APPLICATION_CREDENTIALS, then the well-known file, then the metadata server", async () => {
    const config = join(dir, "gcloud-config");
    mkdirSync(config, { recursive: true });
    const base = { HOME: dir, CLOUDSDK_CONFIG: config, GCE_METADATA_HOST: mds };

    const first = await getApplicationDefault({ env: { ...base, GOOGLE_APPLICATION_CREDENTIALS: keyFile } });
    assert.equal(first.credential.type, "service_account");
    assert.match(first.source, /^GOOGLE_APPLICATION_CREDENTIALS/);
    assert.equal(first.projectId, "demo-project");

    writeFileSync(
      join(config, "application_default_credentials.json"),
      readFileSync(h.server.adminCredentialFile),
    );
    const second = await getApplicationDefault({ env: base });
    assert.equal(second.credential.type, "authorized_user");
    assert.match(second.source, /^well-known file/);
    assert.equal(await whoIs(await second.credential.getAccessToken()), "admin@warrant.local");

    rmSync(join(config, "application_default_credentials.json"));
    const third = await getApplicationDefault({ env: base });
    assert.equal(third.credential.type, "compute");
    assert.equal(await whoIs(await third.credential.getAccessToken()), SA);

    const none = getApplicationDefault({
      env: { HOME: dir, CLOUDSDK_CONFIG: config, METADATA_SERVER_DETECTION: "none" },
    });
    await assert.rejects(none, (err: AdcError) => {
      assert.ok(err instanceof AdcError);
      assert.equal(err.attempts.length, 3);
      assert.match(err.message, /GOOGLE_APPLICATION_CREDENTIALS: not set/);
      assert.match(err.message, /application_default_credentials\.json: does not exist/);
      assert.match(err.message, /METADATA_SERVER_DETECTION=none/);
      return true;
    });
  });

  test("100 concurrent getAccessToken() calls on a cold cache make one request", async () => {
    let requests = 0;
    const proxy = await listen((req, res) => {
      requests++;
      const [host, port] = mds.split(":");
      const up = request({ host, port, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    try {
      const c = new ComputeCredential({ metadataUrl: proxy.url });
      const tokens = await Promise.all(Array.from({ length: 100 }, () => c.getAccessToken()));
      assert.equal(new Set(tokens).size, 1);
      assert.equal(requests, 1);
      await c.getAccessToken();
      assert.equal(requests, 1, "cached");
    } finally {
      proxy.server.close();
    }
  });

  test("a token is refreshed ahead of expiry, and the call that triggers it succeeds", async () => {
    let clock = Date.now();
    const c = await credentialFromFile(keyFile, { now: () => clock });
    const first = await c.getAccessToken();
    clock += 50 * 60 * 1000; // 10 minutes left: still used
    assert.equal(await c.getAccessToken(), first);
    assert.equal(c.fetches, 1);
    clock += 6 * 60 * 1000; // 4 minutes left: inside the 5-minute margin
    const second = await c.getAccessToken();
    assert.notEqual(second, first);
    assert.equal(c.fetches, 2);
    const r = await fetch(`${h.url}/storage/v1/b?project=demo-project`, {
      headers: { authorization: `Bearer ${second}` },
    });
    assert.equal(r.status, 200);
  });

  test("authorizedFetch refreshes once on a 401", async () => {
    const c = await credentialFromFile(keyFile);
    await c.getAccessToken();
    // The server no longer accepts the cached token (as after a key rotation).
    (c as unknown as { cached: { token: string; expiresAt: number } }).cached = {
      token: "not-a-valid-token",
      expiresAt: Date.now() + 3_600_000,
    };
    const r = await listBuckets(c);
    assert.equal(r.status, 200);
    assert.equal(c.fetches, 2);
  });

  test("retries 429/5xx with backoff, honouring Retry-After", async () => {
    let calls = 0;
    const flaky = await listen((_req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(429, { "retry-after": "0", "metadata-flavor": "Google" });
        return res.end("{}");
      }
      if (calls === 2) {
        res.writeHead(503, { "metadata-flavor": "Google" });
        return res.end("busy");
      }
      res.writeHead(200, { "content-type": "application/json", "metadata-flavor": "Google" });
      res.end(JSON.stringify({ access_token: "tok-from-flaky", expires_in: 3599, token_type: "Bearer" }));
    });
    try {
      const c = new ComputeCredential({ metadataUrl: flaky.url });
      assert.equal(await c.getAccessToken(), "tok-from-flaky");
      assert.equal(calls, 3);
    } finally {
      flaky.server.close();
    }
  });

  test("bad input: corrupt, partial, unknown-type files; impostor, HTML and slow servers; no secret in errors", async () => {
    const corrupt = join(dir, "corrupt.json");
    writeFileSync(corrupt, '{"type": "service_account", "client_em');
    await assert.rejects(credentialFromFile(corrupt), new RegExp(`${corrupt}.*not valid JSON`));
    const unknown = join(dir, "unknown.json");
    writeFileSync(unknown, JSON.stringify({ type: "external_account" }));
    await assert.rejects(credentialFromFile(unknown), /external_account.*does not support/);
    const partial = join(dir, "partial.json");
    writeFileSync(partial, JSON.stringify({ type: "service_account", client_email: SA }));
    await assert.rejects(credentialFromFile(partial), /needs client_email and private_key/);
    await assert.rejects(credentialFromFile(join(dir, "missing.json")), /does not exist/);
    // A broken named file is an error, not a fall-through to the next source.
    await assert.rejects(
      getApplicationDefault({ env: { GOOGLE_APPLICATION_CREDENTIALS: corrupt, GCE_METADATA_HOST: mds } }),
      CredentialError,
    );

    const impostor = await listen((req, res) => {
      if (req.url?.startsWith("/html")) {
        res.writeHead(200, { "content-type": "text/html", "metadata-flavor": "Google" });
        return res.end("<html>captive portal</html>");
      }
      if (req.url?.startsWith("/slow")) return; // never answers
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ access_token: "x", expires_in: 100 }));
    });
    try {
      await assert.rejects(
        new ComputeCredential({ metadataUrl: impostor.url }).getAccessToken(),
        /Metadata-Flavor/,
      );
      await assert.rejects(
        new ComputeCredential({ metadataUrl: `${impostor.url}/html` }).getAccessToken(),
        /HTML page.*not JSON/,
      );
      const slow = new ComputeCredential({ metadataUrl: `${impostor.url}/slow`, timeoutMs: 200 });
      await assert.rejects(
        Promise.race([
          slow.getAccessToken(),
          new Promise((_, no) => setTimeout(() => no(new Error("hung")), 8000)),
        ]),
        /no answer within 200 ms/,
      );
    } finally {
      impostor.server.closeAllConnections();
      impostor.server.close();
    }

    // A refused refresh token: the error names the endpoint and Google's error, never the token.
    const admin = JSON.parse(readFileSync(h.server.adminCredentialFile, "utf8"));
    const forged = new AuthorizedUserCredential({ ...admin, refresh_token: "1//forged-refresh-token-value" });
    await assert.rejects(forged.getAccessToken(), (err: Error) => {
      assert.match(err.message, /\/token answered 400: invalid_grant/);
      assert.ok(!err.message.includes("forged-refresh-token-value"));
      assert.ok(!err.message.includes(admin.client_secret));
      return true;
    });
  });
});
