import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { createRemoteJWKSet, importPKCS8, jwtVerify, SignJWT } from "jose";
import { datastoreBytes, type Harness, startHarness, tokenAs } from "../support/harness.js";

const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const CLOUD = "https://www.googleapis.com/auth/cloud-platform";
const LIST = "/compute/v1/projects/demo-project/zones/us-central1-a/instances";

interface KeyFile {
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
  type: string;
}

describe("token service", () => {
  let h: Harness;
  let keyFile: KeyFile;
  const now = () => Math.floor(Date.now() / 1000);

  async function newKey(email = SA): Promise<KeyFile> {
    const r = await h.call("POST", `/v1/projects/-/serviceAccounts/${email}/keys`, { body: {} });
    assert.equal(r.status, 200, r.text);
    return JSON.parse(Buffer.from(r.body.privateKeyData, "base64").toString());
  }

  async function assertion(
    kf: KeyFile,
    claims: Record<string, unknown> = {},
    header: Record<string, unknown> = { alg: "RS256" },
  ) {
    const key = await importPKCS8(kf.private_key, "RS256");
    const iat = now();
    return new SignJWT({
      iss: kf.client_email,
      aud: "https://oauth2.googleapis.com/token",
      iat,
      exp: iat + 3600,
      scope: CLOUD,
      ...claims,
    })
      .setProtectedHeader(header as { alg: string })
      .sign(key);
  }

  async function grant(assertionJwt: string) {
    const r = await fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8" },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: assertionJwt }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, string> };
  }

  before(async () => {
    h = await startHarness();
    keyFile = await newKey();
  });
  after(() => h.close());

  test("a key file is Google's format and Warrant keeps only the public key", async () => {
    assert.equal(keyFile.type, "service_account");
    assert.match(keyFile.private_key_id, /^[0-9a-f]{40}$/);
    assert.match(keyFile.private_key, /^-----BEGIN PRIVATE KEY-----/);
    assert.match(keyFile.client_id, /^\d{21}$/);
    assert.equal(keyFile.token_uri, `${h.url}/token`);
    const db = datastoreBytes(h);
    const body = keyFile.private_key.split("\n")[1]!;
    assert.ok(!db.includes(body), "the private key is not in the datastore");
    const listed = await h.call("GET", `/v1/projects/-/serviceAccounts/${SA}/keys`);
    assert.equal(listed.body.keys.length, 1);
    assert.equal(listed.body.keys[0].privateKeyData, undefined);
    const x509 = await (await fetch(`${h.url}/service_accounts/v1/metadata/x509/${SA}`)).json();
    assert.match((x509 as Record<string, string>)[keyFile.private_key_id]!, /^-----BEGIN CERTIFICATE-----/);
    const jwk = (await (await fetch(`${h.url}/service_accounts/v1/metadata/jwk/${SA}`)).json()) as {
      keys: { kid: string }[];
    };
    assert.deepEqual(
      jwk.keys.map((k) => k.kid),
      [keyFile.private_key_id],
    );
  });

  test("jwt-bearer: Node's form (no kid), Python's form (kid), both Google audiences and ours", async () => {
    for (const [claims, header] of [
      [{}, { alg: "RS256" }],
      [{}, { alg: "RS256", typ: "JWT", kid: keyFile.private_key_id }],
      [{ aud: "https://www.googleapis.com/oauth2/v4/token" }, { alg: "RS256" }],
      [{ aud: `${h.url}/token` }, { alg: "RS256" }],
    ] as const) {
      const r = await grant(await assertion(keyFile, claims, header));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.token_type, "Bearer");
      assert.equal((await h.call("GET", LIST, { token: r.body.access_token })).status, 200);
    }
  });

  test("jwt-bearer without scope gets cloud-platform; with a narrow scope the token is limited", async () => {
    const key = await importPKCS8(keyFile.private_key, "RS256");
    const iat = now();
    const noScope = await new SignJWT({
      iss: SA,
      aud: "https://oauth2.googleapis.com/token",
      iat,
      exp: iat + 3600,
    })
      .setProtectedHeader({ alg: "RS256" })
      .sign(key);
    const r = await grant(noScope);
    assert.equal(r.status, 200);
    const info = (await (
      await fetch(`${h.url}/tokeninfo?access_token=${r.body.access_token}`)
    ).json()) as Record<string, string>;
    assert.equal(info.scope, CLOUD);
    assert.equal(info.email, SA);
    assert.equal(info.email_verified, "true");
    assert.match(info.expires_in!, /^\d+$/);

    const narrow = await grant(
      await assertion(keyFile, { scope: "https://www.googleapis.com/auth/devstorage.read_only" }),
    );
    const denied = await h.call("GET", LIST, { token: narrow.body.access_token });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.errors[0].reason, "insufficientPermissions");
  });

  test("forgeries and bad assertions are refused with OAuth errors", async () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const iat = now();
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const claims = {
      iss: SA,
      aud: "https://oauth2.googleapis.com/token",
      iat,
      exp: iat + 3600,
      scope: CLOUD,
    };
    const pub = createPrivateKey(keyFile.private_key);
    const { createHmac } = await import("node:crypto");
    const hsInput = `${b64({ alg: "HS256" })}.${b64(claims)}`;
    const hs = `${hsInput}.${createHmac("sha256", pub.export({ type: "pkcs8", format: "pem" }))
      .update(hsInput)
      .digest("base64url")}`;
    const good = await assertion(keyFile);
    const [gh, gp, gs] = good.split(".");
    const cases: [string, string, RegExp][] = [
      ["alg none", `${b64({ alg: "none" })}.${b64(claims)}.`, /Signature/],
      ["HS256 with the key as secret", hs, /Signature/],
      [
        "signed by another key",
        await new SignJWT(claims).setProtectedHeader({ alg: "RS256" }).sign(other),
        /Signature/,
      ],
      ["unknown kid", await assertion(keyFile, {}, { alg: "RS256", kid: "0".repeat(40) }), /Signature/],
      ["tampered payload", `${gh}.${b64({ ...claims, scope: `${CLOUD} extra` })}.${gs}`, /Signature/],
      [
        "unknown issuer",
        await assertion(keyFile, { iss: "ghost@demo-project.iam.gserviceaccount.com" }),
        /account not found/,
      ],
      ["wrong audience", await assertion(keyFile, { aud: "https://evil.example/token" }), /audience/],
      ["expired", await assertion(keyFile, { iat: iat - 7200, exp: iat - 3600 }), /expired|short-lived/],
      ["not yet valid", await assertion(keyFile, { iat: iat + 3600, exp: iat + 7000 }), /short-lived/],
      ["too long-lived", await assertion(keyFile, { exp: iat + 7200 }), /short-lived/],
      ["domain-wide delegation", await assertion(keyFile, { sub: "user@example.com" }), /delegation/],
      ["garbage", "not.a.jwt", /well-formed|Signature/],
      ["oversized", `${gh}.${"A".repeat(9000)}.${gs}`, /too large/],
    ];
    void gp;
    for (const [name, jwt, msg] of cases) {
      const r = await grant(jwt);
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, "invalid_grant", name);
      assert.match(r.body.error_description!, msg, name);
    }
    // Every refusal is in the audit log (written through a stream: give it a moment), without the assertion.
    let refused: { outcome: string; error: string }[] = [];
    for (let i = 0; i < 50 && refused.length < cases.length; i++) {
      await new Promise((r) => setTimeout(r, 20));
      refused = readFileSync(`${h.stateDir}/audit.log`, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .filter((e) => e.kind === "token" && e.outcome === "refused");
    }
    assert.ok(refused.length >= cases.length, `${refused.length} refusals recorded`);
    assert.ok(refused.every((e) => e.error === "invalid_grant"));
    const audit = readFileSync(`${h.stateDir}/audit.log`, "utf8");
    assert.ok(!audit.includes(gs!), "assertions never reach the audit log");
  });

  test("target_audience returns an ID token that verifies against /oauth2/v3/certs", async () => {
    const r = await grant(
      await assertion(keyFile, { target_audience: "https://run.example.com", scope: undefined }),
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body), ["id_token"]);
    const jwks = createRemoteJWKSet(new URL(`${h.url}/oauth2/v3/certs`));
    const { payload, protectedHeader } = await jwtVerify(r.body.id_token!, jwks, {
      issuer: "https://accounts.google.com",
      audience: "https://run.example.com",
    });
    assert.equal(payload.email, SA);
    assert.equal(payload.email_verified, true);
    assert.equal(payload.sub, keyFile.client_id);
    assert.ok(protectedHeader.kid);
    assert.ok(payload.exp! - payload.iat! <= 3600);
    const certs = await fetch(`${h.url}/oauth2/v1/certs`);
    assert.match(certs.headers.get("cache-control") ?? "", /max-age=\d+/);
    const pem = ((await certs.json()) as Record<string, string>)[protectedHeader.kid!];
    assert.match(pem!, /BEGIN CERTIFICATE/);
    const disc = (await (await fetch(`${h.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      string
    >;
    assert.equal(disc.jwks_uri, `${h.url}/oauth2/v3/certs`);
    const info = (await (await fetch(`${h.url}/tokeninfo?id_token=${r.body.id_token}`)).json()) as Record<
      string,
      string
    >;
    assert.equal(info.aud, "https://run.example.com");
    assert.equal(info.email, SA);
  });

  test("self-signed JWTs are accepted at the APIs with the right audience and lifetime only", async () => {
    const key = await importPKCS8(keyFile.private_key, "RS256");
    const sign = (claims: Record<string, unknown>, kid = keyFile.private_key_id) => {
      const iat = now();
      return new SignJWT({ iss: SA, sub: SA, iat, exp: iat + 3600, ...claims })
        .setProtectedHeader({ alg: "RS256", typ: "JWT", kid })
        .sign(key);
    };
    assert.equal((await h.call("GET", LIST, { token: await sign({ aud: `${h.url}${LIST}` }) })).status, 200);
    assert.equal(
      (await h.call("GET", LIST, { token: await sign({ aud: "https://compute.googleapis.com/" }) })).status,
      200,
    );
    assert.equal((await h.call("GET", LIST, { token: await sign({ scope: CLOUD }) })).status, 200);
    for (const [name, claims] of [
      ["foreign audience", { aud: "https://evil.example/" }],
      ["no audience or scope", {}],
      ["too long-lived", { aud: `${h.url}/`, exp: now() + 7200 }],
      ["expired", { aud: `${h.url}/`, iat: now() - 7200, exp: now() - 3600 }],
      ["iss of another account", { aud: `${h.url}/`, iss: "other@demo-project.iam.gserviceaccount.com" }],
    ] as const) {
      const r = await h.call("GET", LIST, { token: await sign(claims as Record<string, unknown>) });
      assert.equal(r.status, 401, name);
    }
  });

  test("tokeninfo rejects bad tokens with invalid_token", async () => {
    for (const q of ["access_token=nope", "id_token=a.b.c", ""]) {
      const r = await fetch(`${h.url}/tokeninfo?${q}`);
      assert.equal(r.status, 400, q);
      assert.deepEqual(await r.json(), { error: "invalid_token", error_description: "Invalid Value" });
    }
  });

  test("impersonation: allowed with TokenCreator (also through a delegate), 403 naming the permission without", async () => {
    const alice = "user:alice@example.com";
    const aliceToken = await tokenAs(h, alice);
    const body = { scope: [CLOUD], lifetime: "600s" };
    const path = `/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`;
    const denied = await h.call("POST", path, { token: aliceToken, body });
    assert.equal(denied.status, 403);
    assert.match(denied.body.error.message, /iam\.serviceAccounts\.getAccessToken/);
    assert.match(denied.body.error.message, /user:alice@example\.com/);

    const setPolicy = async (email: string, member: string) => {
      const p = (await h.call("POST", `/v1/projects/-/serviceAccounts/${email}:getIamPolicy`, { body: {} }))
        .body;
      p.bindings = [
        ...(p.bindings ?? []),
        { role: "roles/iam.serviceAccountTokenCreator", members: [member] },
      ];
      assert.equal(
        (
          await h.call("POST", `/v1/projects/-/serviceAccounts/${email}:setIamPolicy`, {
            body: { policy: p },
          })
        ).status,
        200,
      );
    };
    await setPolicy(SA, alice);
    const ok = await h.call("POST", path, { token: aliceToken, body });
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.body.expireTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const info = (await (
      await fetch(`${h.url}/tokeninfo?access_token=${ok.body.accessToken}`)
    ).json()) as Record<string, string>;
    assert.equal(info.email, SA);
    assert.ok(Number(info.expires_in) <= 600);

    const id = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}:generateIdToken`, {
      token: aliceToken,
      body: { audience: "https://aud.example", includeEmail: true },
    });
    assert.equal(id.status, 200, id.text);
    const idClaims = JSON.parse(Buffer.from(id.body.token.split(".")[1], "base64url").toString());
    assert.equal(idClaims.email, SA);
    assert.equal(idClaims.aud, "https://aud.example");

    // Delegation: bob → relay (TokenCreator on relay) → relay has TokenCreator on demo-sa.
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project/serviceAccounts", { body: { accountId: "relay-sa" } }))
        .status,
      200,
    );
    const relay = "relay-sa@demo-project.iam.gserviceaccount.com";
    const bob = await tokenAs(h, "user:bob@example.com");
    const viaRelay = { ...body, delegates: [`projects/-/serviceAccounts/${relay}`] };
    assert.equal((await h.call("POST", path, { token: bob, body: viaRelay })).status, 403);
    await setPolicy(relay, "user:bob@example.com");
    const hop2 = await h.call("POST", path, { token: bob, body: viaRelay });
    assert.equal(hop2.status, 403, "relay itself lacks TokenCreator on the target");
    assert.match(hop2.body.error.message, /serviceAccount:relay-sa@/);
    await setPolicy(SA, `serviceAccount:${relay}`);
    assert.equal((await h.call("POST", path, { token: bob, body: viaRelay })).status, 200);

    const bad = await h.call("POST", `/v1/projects/demo-project/serviceAccounts/${SA}:generateAccessToken`, {
      token: aliceToken,
      body,
    });
    assert.equal(bad.status, 400, "the project must be '-'");
    assert.equal(
      (await h.call("POST", path, { token: aliceToken, body: { scope: [CLOUD], lifetime: "7200s" } })).status,
      400,
    );
    assert.equal((await h.call("POST", path, { token: aliceToken, body: { scope: [] } })).status, 400);
  });

  test("signBlob and signJwt sign with a published system-managed key; TokenCreator required", async () => {
    const alice = await tokenAs(h, "user:alice@example.com"); // holds TokenCreator on SA since the test above
    const carol = await tokenAs(h, "user:carol@example.com");
    const blob = Buffer.from("hello warrant");
    const path = (m: string) => `/v1/projects/-/serviceAccounts/${SA}:${m}`;
    const denied = await h.call("POST", path("signBlob"), {
      token: carol,
      body: { payload: blob.toString("base64") },
    });
    assert.equal(denied.status, 403);
    assert.match(denied.body.error.message, /iam\.serviceAccounts\.signBlob/);

    const signed = await h.call("POST", path("signBlob"), {
      token: alice,
      body: { payload: blob.toString("base64") },
    });
    assert.equal(signed.status, 200, signed.text);
    const certs = (await (await fetch(`${h.url}/service_accounts/v1/metadata/x509/${SA}`)).json()) as Record<
      string,
      string
    >;
    const pem = certs[signed.body.keyId];
    assert.ok(pem, "the signing key is published");
    const { createVerify, X509Certificate } = await import("node:crypto");
    const ok = createVerify("sha256")
      .update(blob)
      .verify(new X509Certificate(pem!).publicKey, Buffer.from(signed.body.signedBlob, "base64"));
    assert.ok(ok, "the signature verifies with the published certificate");

    const jwt = await h.call("POST", path("signJwt"), {
      token: alice,
      body: { payload: JSON.stringify({ sub: "x", aud: "y" }) },
    });
    assert.equal(jwt.status, 200, jwt.text);
    const jwks = createRemoteJWKSet(new URL(`${h.url}/service_accounts/v1/metadata/jwk/${SA}`));
    const { payload } = await jwtVerify(jwt.body.signedJwt, jwks, { audience: "y" });
    assert.equal(payload.sub, "x");
    assert.ok(payload.exp! - now() <= 3600 && payload.exp! - now() > 3500, "exp defaults to one hour");
    for (const bad of [
      "not json",
      "[]",
      JSON.stringify({ exp: now() - 10 }),
      JSON.stringify({ exp: now() + 13 * 3600 }),
      JSON.stringify({ exp: "soon" }),
    ]) {
      const r = await h.call("POST", path("signJwt"), { token: alice, body: { payload: bad } });
      assert.equal(r.status, 400, bad);
    }
    const keys = await h.call("GET", `/v1/projects/-/serviceAccounts/${SA}/keys?keyTypes=SYSTEM_MANAGED`);
    assert.deepEqual(
      keys.body.keys.map((k: { keyType: string }) => k.keyType),
      ["SYSTEM_MANAGED"],
    );
    const name = keys.body.keys[0].name as string;
    assert.equal(
      (await h.call("DELETE", `/v1/${name.replace(/^projects\/[^/]+/, "projects/-")}`)).status,
      400,
    );
  });

  test("disabling or deleting an account rejects its outstanding tokens and keys at once", async () => {
    await h.call("POST", "/v1/projects/demo-project/serviceAccounts", { body: { accountId: "short-lived" } });
    const email = "short-lived@demo-project.iam.gserviceaccount.com";
    const p = (
      await h.call("POST", "/v1/projects/demo-project:getIamPolicy", {
        body: { options: { requestedPolicyVersion: 3 } },
      })
    ).body;
    p.bindings.push({ role: "roles/compute.viewer", members: [`serviceAccount:${email}`] });
    assert.equal(
      (await h.call("POST", "/v1/projects/demo-project:setIamPolicy", { body: { policy: p } })).status,
      200,
    );
    const kf = await newKey(email);
    const token = (await grant(await assertion(kf))).body.access_token!;
    assert.equal((await h.call("GET", LIST, { token })).status, 200);
    await h.call("POST", `/v1/projects/-/serviceAccounts/${email}:disable`);
    assert.equal((await h.call("GET", LIST, { token })).status, 401);
    const refused = await grant(await assertion(kf));
    assert.equal(refused.body.error, "invalid_grant");
    await h.call("POST", `/v1/projects/-/serviceAccounts/${email}:enable`);
    assert.equal((await h.call("GET", LIST, { token })).status, 200);
    // A disabled key stops signing at once; deleting the account removes its keys.
    const keyName = `/v1/projects/-/serviceAccounts/${email}/keys/${kf.private_key_id}`;
    await h.call("POST", `${keyName}:disable`);
    assert.equal((await grant(await assertion(kf))).body.error, "invalid_grant");
    await h.call("POST", `${keyName}:enable`);
    assert.equal((await grant(await assertion(kf))).status, 200);
    await h.call("DELETE", `/v1/projects/-/serviceAccounts/${email}`);
    assert.equal((await h.call("GET", LIST, { token })).status, 401);
    assert.equal((await h.call("GET", keyName)).status, 404);
  });

  test("at most 10 keys per account; delete frees a slot", async () => {
    await h.call("POST", "/v1/projects/demo-project/serviceAccounts", { body: { accountId: "many-keys" } });
    const email = "many-keys@demo-project.iam.gserviceaccount.com";
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await newKey(email)).private_key_id);
    const eleventh = await h.call("POST", `/v1/projects/-/serviceAccounts/${email}/keys`, { body: {} });
    assert.equal(eleventh.status, 400);
    assert.equal(eleventh.body.error.status, "FAILED_PRECONDITION");
    assert.equal(
      (await h.call("DELETE", `/v1/projects/-/serviceAccounts/${email}/keys/${ids[0]}`)).status,
      200,
    );
    assert.equal(
      (await h.call("POST", `/v1/projects/-/serviceAccounts/${email}/keys`, { body: {} })).status,
      200,
    );
  });
});
