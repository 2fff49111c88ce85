/**
 * Warrant as an OIDC issuer for another installation: installation A (run with its own URL as
 * `--id-token-issuer`) hands an instance an ID token from its metadata server; installation B has a
 * workload identity provider whose issuer is A, fetches A's discovery document and keys, and
 * exchanges the token for a federated identity that reads what B granted it.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { bindOnBucket, createBucket, exchange, projectNumber, wipBase } from "../support/wif.js";

const INSTANCE = "projects/demo-project/zones/us-central1-a/instances/demo-vm";

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
  const { port } = s.address() as { port: number };
  await new Promise((ok) => s.close(ok));
  return port;
}

describe("a Warrant ID token is a subject token for another Warrant's pool", () => {
  let a: Harness;
  let b: Harness;
  before(async () => {
    const port = await freePort();
    a = await startHarness({ port, idTokenIssuer: `http://127.0.0.1:${port}` });
    b = await startHarness({ agents: false });
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  test("the instance's metadata-server ID token is exchanged at B and reads B's bucket", async () => {
    const create = await b.call("POST", `${wipBase()}?workloadIdentityPoolId=warrant-a`, { body: {} });
    assert.equal(create.status, 200, create.text);
    const prov = await b.call(
      "POST",
      `${wipBase()}/warrant-a/providers?workloadIdentityPoolProviderId=vm-oidc`,
      {
        body: {
          attributeMapping: { "google.subject": "assertion.sub", "attribute.email": "assertion.email" },
          attributeCondition: "assertion.email_verified == true",
          oidc: { issuerUri: a.url },
        },
      },
    );
    assert.equal(prov.status, 200, prov.text);
    const pool = `projects/${await projectNumber(b)}/locations/global/workloadIdentityPools/warrant-a`;
    const audience = `//iam.googleapis.com/${pool}/providers/vm-oidc`;
    await createBucket(b, "wif-from-warrant-a");
    await bindOnBucket(
      b,
      "wif-from-warrant-a",
      "roles/storage.objectViewer",
      `principalSet://iam.googleapis.com/${pool}/attribute.email/demo-sa@demo-project.iam.gserviceaccount.com`,
    );

    const mds = a.server.metadataServers()[INSTANCE];
    assert.ok(mds, JSON.stringify(a.server.metadataServers()));
    const res = await fetch(
      `http://${mds}/computeMetadata/v1/instance/service-accounts/default/identity?audience=${encodeURIComponent(audience)}&format=full`,
      { headers: { "Metadata-Flavor": "Google" } },
    );
    assert.equal(res.status, 200);
    const idToken = await res.text();
    const claims = JSON.parse(Buffer.from(idToken.split(".")[1]!, "base64url").toString());
    assert.equal(claims.iss, a.url, "A's ID tokens name A as issuer");

    const r = await exchange(b, { audience, subject_token: idToken });
    assert.equal(r.status, 200, r.text);
    const token = (r.body as { access_token: string }).access_token;
    const list = await b.call("GET", "/storage/v1/b/wif-from-warrant-a/o", { token });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      list.body.items.map((i: { name: string }) => i.name),
      ["hello.txt"],
    );
    // A token of A's, presented at B directly, is not B's: it must go through the exchange.
    const direct = await b.call("GET", "/storage/v1/b/wif-from-warrant-a/o", { token: idToken });
    assert.equal(direct.status, 401);
    // An ID token for another audience is refused by B's STS.
    const other = await fetch(
      `http://${mds}/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://elsewhere.example`,
      { headers: { "Metadata-Flavor": "Google" } },
    );
    const refused = await exchange(b, { audience, subject_token: await other.text() });
    assert.equal(refused.status, 400);
    assert.match((refused.body as { error_description: string }).error_description, /audience/);
  });
});
