/**
 * Attack: read credentials out of the logs. After a workload that uses every kind of secret —
 * refresh tokens and client secrets, service-account key files and their jwt-bearer assertions,
 * self-signed JWTs, access tokens in `?access_token=`, impersonated tokens, signatures, issued user
 * credentials, enrollment tokens and agent credentials, and failed attempts carrying them —
 * neither audit.log nor the server's own log holds any of them, nor a key's private half.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { importPKCS8, SignJWT } from "jose";
import { createLogger } from "../../src/server/log.js";
import { type Harness, startHarness } from "../support/harness.js";

const P = "demo-project";
const SA = `demo-sa@${P}.iam.gserviceaccount.com`;
const CLOUD = "https://www.googleapis.com/auth/cloud-platform";
const form = (fields: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields),
});

describe("attack: secrets in logs", () => {
  let h: Harness;
  const serverLog: string[] = [];
  const secrets = new Map<string, string>();
  const keep = (name: string, value: unknown) => {
    assert.equal(typeof value, "string", name);
    assert.ok((value as string).length >= 16, `${name} is a real secret`);
    secrets.set(name, value as string);
    return value as string;
  };

  before(async () => {
    // The free-text log and the structured one (a line per request, at debug level) both.
    h = await startHarness({
      log: (l) => serverLog.push(l),
      logger: createLogger({ format: "json", level: "trace", out: { write: (l) => serverLog.push(l) } }),
    });
    const admin = JSON.parse(readFileSync(h.server.adminCredentialFile, "utf8"));
    keep("admin refresh token", admin.refresh_token);
    keep("admin client secret", admin.client_secret);
    keep("admin access token", h.adminToken);

    // A refresh-token grant, and a failed one carrying a real client secret with a wrong token.
    const refreshed = await (
      await fetch(
        `${h.url}/token`,
        form({
          grant_type: "refresh_token",
          client_id: admin.client_id,
          client_secret: admin.client_secret,
          refresh_token: admin.refresh_token,
        }),
      )
    ).json();
    keep("refreshed access token", (refreshed as { access_token: string }).access_token);
    await fetch(
      `${h.url}/token`,
      form({
        grant_type: "refresh_token",
        client_id: admin.client_id,
        client_secret: admin.client_secret,
        refresh_token: `${admin.refresh_token}x`,
      }),
    );

    // A key file, its jwt-bearer assertion, and a self-signed JWT at an API.
    const created = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}/keys`, { body: {} });
    keep("key file", created.body.privateKeyData);
    const keyFile = JSON.parse(Buffer.from(created.body.privateKeyData, "base64").toString());
    const pem = keyFile.private_key as string;
    keep("private key body", pem.split("\n")[1]);
    const key = await importPKCS8(pem, "RS256");
    const iat = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: SA, aud: `${h.url}/token`, scope: CLOUD, iat, exp: iat + 600 })
      .setProtectedHeader({ alg: "RS256", kid: keyFile.private_key_id })
      .sign(key);
    keep("jwt-bearer assertion", assertion);
    const minted = await (
      await fetch(
        `${h.url}/token`,
        form({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
      )
    ).json();
    keep("service account access token", (minted as { access_token: string }).access_token);
    const selfSigned = await new SignJWT({ iss: SA, sub: SA, aud: `${h.url}/`, iat, exp: iat + 600 })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: keyFile.private_key_id })
      .sign(key);
    keep("self-signed JWT", selfSigned);
    // Authenticated: demo-sa may not list accounts, so 403, but not 401.
    assert.equal(
      (await h.call("GET", `/v1/projects/${P}/serviceAccounts`, { token: selfSigned })).status,
      403,
    );
    // A self-signed JWT for another audience is refused: the refusal must not log it either.
    const foreign = await new SignJWT({ iss: SA, sub: SA, aud: "https://evil.example/", iat, exp: iat + 600 })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: keyFile.private_key_id })
      .sign(key);
    keep("refused self-signed JWT", foreign);
    assert.equal((await h.call("GET", `/v1/projects/${P}/serviceAccounts`, { token: foreign })).status, 401);

    // ?access_token= on an API and at tokeninfo.
    // (Warrant reads credentials from the Authorization header only; the query must still not be logged.)
    await (
      await fetch(`${h.url}/v1/projects?access_token=${encodeURIComponent(h.adminToken)}`)
    ).arrayBuffer();
    await fetch(`${h.url}/tokeninfo?access_token=${encodeURIComponent(h.adminToken)}`);

    // Impersonation, signing, an issued user credential, an enrollment token and an agent credential.
    const policy = {
      bindings: [{ role: "roles/iam.serviceAccountTokenCreator", members: ["user:admin@warrant.local"] }],
    };
    assert.equal(
      (await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}:setIamPolicy`, { body: { policy } }))
        .status,
      200,
    );
    const impersonated = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`, {
      body: { scope: [CLOUD] },
    });
    keep("impersonated token", impersonated.body.accessToken);
    const signed = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}:signJwt`, {
      body: { payload: JSON.stringify({ sub: "x" }) },
    });
    keep("signed JWT", signed.body.signedJwt);
    assert.equal(
      (await h.call("POST", "/warrant/v1/users", { body: { email: "logged@example.com" } })).status,
      200,
    );
    const issued = await h.call("POST", "/warrant/v1/users/logged@example.com:issueCredential", { body: {} });
    keep("issued refresh token", issued.body.refresh_token);
    keep("issued client secret", issued.body.client_secret);
    const enrollment = await h.call(
      "POST",
      `/warrant/v1/projects/${P}/zones/us-central1-a/instances/demo-vm:issueEnrollmentToken`,
      { body: {} },
    );
    keep("enrollment token", enrollment.body.enrollmentToken);
    const enrolled = await (
      await fetch(`${h.url}/warrant/v1/agents:enroll`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ enrollmentToken: enrollment.body.enrollmentToken }),
      })
    ).json();
    // An agent credential is `AGENT_ID.SECRET`: the id names the agent in audit entries, as a
    // service account's e-mail does; only the secret half must never be written down.
    const [agentId, agentSecret] = (enrolled as { agentCredential: string }).agentCredential.split(".");
    assert.ok(agentId && agentSecret, "an agent credential is AGENT_ID.SECRET");
    keep("agent credential secret", agentSecret);
    // Reusing the consumed enrollment token fails; the failure must not echo it into a log.
    await fetch(`${h.url}/warrant/v1/agents:enroll`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ enrollmentToken: enrollment.body.enrollmentToken }),
    });
    const agentToken = await (
      await fetch(`${h.url}/warrant/v1/agent/token`, {
        method: "POST",
        headers: {
          authorization: `WarrantAgent ${(enrolled as { agentCredential: string }).agentCredential}`,
          "content-type": "application/json",
        },
        body: "{}",
      })
    ).json();
    keep("metadata token", (agentToken as { access_token: string }).access_token);
  });
  after(() => h.close());

  test("neither audit.log nor the server log holds a secret", async () => {
    // The audit log is written through a stream: wait until the last request's entry is in.
    const file = join(h.stateDir, "audit.log");
    const deadline = Date.now() + 5000;
    while (!readFileSync(file, "utf8").includes('"/warrant/v1/agent/token"')) {
      assert.ok(Date.now() < deadline, "the workload's entries reached audit.log");
      await new Promise((ok) => setTimeout(ok, 20));
    }
    const audit = readFileSync(file, "utf8");
    const log = serverLog.join("\n");
    assert.ok(audit.split("\n").length > 20, "the workload was audited");
    assert.ok(
      serverLog.filter((l) => l.includes('"msg":"request"')).length >= 10,
      `request lines were logged: ${serverLog.length} lines, e.g. ${serverLog.slice(0, 2).join(" | ")}`,
    );
    assert.equal(secrets.size, 17, "every secret of the workload was collected");
    for (const [name, value] of secrets) {
      // A JWT's signature alone would let nothing be replayed, but its header+payload could be a token.
      for (const piece of value.split(".").filter((p) => p.length >= 16)) {
        assert.ok(!audit.includes(piece), `audit.log holds the ${name}`);
        assert.ok(!log.includes(piece), `the server log holds the ${name}`);
      }
    }
  });
});
