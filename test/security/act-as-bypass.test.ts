/**
 * Attack: run code as a service account one may not act as — by creating an instance that runs as
 * it, by switching an existing instance to it, by enrolling a metadata agent for an instance that
 * runs as it, or by smuggling the call in a batch part. Each needs iam.serviceAccounts.actAs on the
 * account, and a refusal changes nothing.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const P = "demo-project";
const ZONE = "us-central1-a";
const base = `/compute/v1/projects/${P}/zones/${ZONE}/instances`;
const SA = `demo-sa@${P}.iam.gserviceaccount.com`;
const FRANK = "user:frank@example.com";
const CLOUD = "https://www.googleapis.com/auth/cloud-platform";

async function grant(h: Harness, role: string, member: string, resource = `/v1/projects/${P}`) {
  const p = (await h.call("POST", `${resource}:getIamPolicy`, { body: {} })).body;
  p.bindings = [...(p.bindings ?? []), { role, members: [member] }];
  const r = await h.call("POST", `${resource}:setIamPolicy`, { body: { policy: p } });
  assert.equal(r.status, 200, r.text);
}

describe("attack: actAs bypass", () => {
  let h: Harness;
  let frank: string;
  before(async () => {
    h = await startHarness({ agents: false });
    // Frank administers instances but may not act as demo-sa.
    await grant(h, "roles/compute.instanceAdmin.v1", FRANK);
    frank = await tokenAs(h, FRANK);
  });
  after(() => h.close());

  test("creating an instance that runs as an account needs iam.serviceAccounts.actAs on it", async () => {
    const body = { name: "franks-vm", serviceAccounts: [{ email: SA, scopes: [CLOUD] }] };
    const denied = await h.call("POST", base, { token: frank, body });
    assert.equal(denied.status, 403, denied.text);
    assert.match(denied.body.error.message, /iam\.serviceAccounts\.actAs/);
    assert.match(denied.body.error.message, /frank@example\.com/);
    assert.match(denied.body.error.message, new RegExp(SA.replace(/\./g, "\\.")));
    assert.equal((await h.call("GET", `${base}/franks-vm`)).status, 404, "nothing was created");
    // Without a service account the same caller may create the instance.
    assert.equal((await h.call("POST", base, { token: frank, body: { name: "franks-vm" } })).status, 200);
  });

  test("the 'default' alias and the unique id do not skip the check", async () => {
    const number = (await h.call("GET", `/v1/projects/${P}`)).body.projectNumber;
    const uniqueId = (await h.call("GET", `/v1/projects/${P}/serviceAccounts/${SA}`)).body.uniqueId;
    for (const email of ["default", uniqueId as string]) {
      const r = await h.call("POST", base, {
        token: frank,
        body: { name: "alias-vm", serviceAccounts: [{ email, scopes: [CLOUD] }] },
      });
      // The default account: actAs refused; a unique id is not an e-mail: refused as unknown.
      assert.ok(r.status === 403 || r.status === 400, `${email}: ${r.text}`);
      if (email === "default") assert.match(r.body.error.message, new RegExp(`${number}-compute`));
    }
    assert.equal((await h.call("GET", `${base}/alias-vm`)).status, 404);
  });

  test("switching a stopped instance to the account needs actAs; the instance keeps its account", async () => {
    assert.equal((await h.call("POST", base, { body: { name: "switch-vm" } })).status, 200);
    assert.equal((await h.call("POST", `${base}/switch-vm/stop`, { body: {} })).status, 200);
    const r = await h.call("POST", `${base}/switch-vm/setServiceAccount`, {
      token: frank,
      body: { email: SA, scopes: [CLOUD] },
    });
    assert.equal(r.status, 403, r.text);
    assert.match(r.body.error.message, /iam\.serviceAccounts\.actAs/);
    assert.deepEqual((await h.call("GET", `${base}/switch-vm`)).body.serviceAccounts ?? [], []);
  });

  test("enrolling an agent for an instance that runs as the account needs actAs", async () => {
    // demo-vm runs as demo-sa; Frank may set its metadata but not act as its account.
    const r = await h.call(
      "POST",
      `/warrant/v1/projects/${P}/zones/${ZONE}/instances/demo-vm:issueEnrollmentToken`,
      {
        token: frank,
        body: {},
      },
    );
    assert.equal(r.status, 403, r.text);
    assert.match(r.body.error.message, /iam\.serviceAccounts\.actAs/);
    assert.equal(r.body.enrollmentToken, undefined);
  });

  test("a batch part is checked as a direct call", async () => {
    const json = JSON.stringify({ name: "batch-vm", serviceAccounts: [{ email: SA, scopes: [CLOUD] }] });
    const r = await h.call("POST", "/batch/compute/v1", {
      token: frank,
      headers: { "content-type": "multipart/mixed; boundary=b" },
      body: `--b\r\nContent-Type: application/http\r\n\r\nPOST ${base} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n${json}\r\n--b--\r\n`,
    });
    assert.equal(r.status, 200);
    assert.match(r.text, /HTTP\/1\.1 403/);
    assert.match(r.text, /iam\.serviceAccounts\.actAs/);
    assert.equal((await h.call("GET", `${base}/batch-vm`)).status, 404);
  });

  test("granted serviceAccountUser on the account itself, the attach succeeds", async () => {
    await grant(h, "roles/iam.serviceAccountUser", FRANK, `/v1/projects/-/serviceAccounts/${SA}`);
    const body = { name: "franks-vm-2", serviceAccounts: [{ email: SA, scopes: [CLOUD] }] };
    assert.equal((await h.call("POST", base, { token: frank, body })).status, 200);
  });
});
