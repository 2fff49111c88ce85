import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const ZONE = "us-central1-a";
const base = `/compute/v1/projects/demo-project/zones/${ZONE}/instances`;
const SA = "demo-sa@demo-project.iam.gserviceaccount.com";

async function grant(h: Harness, role: string, member: string, resource = "/v1/projects/demo-project") {
  const p = (await h.call("POST", `${resource}:getIamPolicy`, { body: {} })).body;
  p.bindings = [...(p.bindings ?? []), { role, members: [member] }];
  const r = await h.call("POST", `${resource}:setIamPolicy`, { body: { policy: p } });
  assert.equal(r.status, 200, r.text);
}

describe("Compute v1 instances", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test("the seeded demo-vm runs as demo-sa with cloud-platform", async () => {
    const r = await h.call("GET", `${base}/demo-vm`);
    assert.equal(r.status, 200);
    assert.equal(r.body.kind, "compute#instance");
    assert.equal(r.body.status, "RUNNING");
    assert.deepEqual(r.body.serviceAccounts, [
      { email: SA, scopes: ["https://www.googleapis.com/auth/cloud-platform"] },
    ]);
    assert.equal(r.body.hostname, "demo-vm.c.demo-project.internal");
    assert.match(r.body.id, /^\d{19}$/);
    assert.equal(r.body.selfLink, `${h.url}${base}/demo-vm`, "selfLink points back at this server");
    assert.equal(r.body.networkInterfaces[0].networkIP, "10.128.0.2");
  });

  test("insert → DONE operation; list, aggregated list, get, stop, setServiceAccount, start, delete", async () => {
    const op = await h.call("POST", base, {
      body: {
        name: "worker-1",
        machineType: `zones/${ZONE}/machineTypes/e2-small`,
        serviceAccounts: [{ email: SA, scopes: ["https://www.googleapis.com/auth/devstorage.read_only"] }],
        metadata: { items: [{ key: "role", value: "batch" }] },
      },
    });
    assert.equal(op.status, 200, op.text);
    assert.equal(op.body.kind, "compute#operation");
    assert.equal(op.body.status, "DONE");
    assert.equal(op.body.operationType, "insert");
    const opAgain = await h.call(
      "GET",
      `/compute/v1/projects/demo-project/zones/${ZONE}/operations/${op.body.name}`,
    );
    assert.equal(opAgain.body.targetLink, `${h.url}${base}/worker-1`);
    assert.equal(
      (
        await h.call(
          "POST",
          `/compute/v1/projects/demo-project/zones/${ZONE}/operations/${op.body.name}/wait`,
        )
      ).status,
      200,
    );

    const dup = await h.call("POST", base, { body: { name: "worker-1" } });
    assert.equal(dup.status, 409);

    const list = await h.call("GET", `${base}?maxResults=500`);
    assert.deepEqual(list.body.items.map((i: { name: string }) => i.name).sort(), ["demo-vm", "worker-1"]);
    const w = list.body.items.find((i: { name: string }) => i.name === "worker-1");
    assert.equal(w.networkInterfaces[0].networkIP, "10.128.0.3", "next free address");
    assert.equal(
      w.machineType,
      `${h.url}/compute/v1/projects/demo-project/zones/${ZONE}/machineTypes/e2-small`,
    );

    const agg = await h.call(
      "GET",
      "/compute/v1/projects/demo-project/aggregated/instances?includeAllScopes=True&returnPartialSuccess=True",
    );
    assert.equal(agg.body.items[`zones/${ZONE}`].instances.length, 2);
    assert.ok(agg.body.items["zones/us-east1-b"].warning, "empty zones carry a warning, as Google's do");

    const page1 = await h.call("GET", `${base}?maxResults=1`);
    assert.equal(page1.body.items.length, 1);
    const page2 = await h.call("GET", `${base}?maxResults=1&pageToken=${page1.body.nextPageToken}`);
    assert.notEqual(page2.body.items[0].name, page1.body.items[0].name);

    const running = await h.call("POST", `${base}/worker-1/setServiceAccount`, {
      body: { email: SA, scopes: ["cloud-platform"] },
    });
    assert.equal(running.status, 400, "must be stopped first");
    assert.equal((await h.call("POST", `${base}/worker-1/stop`)).body.status, "DONE");
    assert.equal((await h.call("GET", `${base}/worker-1`)).body.status, "TERMINATED");
    const set = await h.call("POST", `${base}/worker-1/setServiceAccount`, {
      body: { email: SA, scopes: ["https://www.googleapis.com/auth/cloud-platform"] },
    });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual((await h.call("GET", `${base}/worker-1`)).body.serviceAccounts[0].scopes, [
      "https://www.googleapis.com/auth/cloud-platform",
    ]);
    assert.equal((await h.call("POST", `${base}/worker-1/start`)).status, 200);
    assert.equal((await h.call("GET", `${base}/worker-1`)).body.status, "RUNNING");

    assert.equal((await h.call("DELETE", `${base}/worker-1`)).body.operationType, "delete");
    const gone = await h.call("GET", `${base}/worker-1`);
    assert.equal(gone.status, 404);
    assert.equal(
      gone.body.error.message,
      `The resource 'projects/demo-project/zones/${ZONE}/instances/worker-1' was not found`,
    );
  });

  test("bad input → 400 naming the field, and nothing is created", async () => {
    const cases: [unknown, RegExp][] = [
      [{ name: "Bad_Name" }, /resource\.name/],
      [{ name: "ok-vm", machineType: "zones/us-central1-a/machineTypes/huge-1" }, /machineType/],
      [{ name: "ok-vm", serviceAccounts: [{ email: SA, scopes: ["not a scope"] }] }, /scopes/],
      [
        {
          name: "ok-vm",
          serviceAccounts: [{ email: "nobody@demo-project.iam.gserviceaccount.com", scopes: [] }],
        },
        /does not have access/,
      ],
      [{ name: "ok-vm", serviceAccounts: [{ email: SA }, { email: SA }] }, /at most one/],
      [{ name: "ok-vm", metadata: { items: [{ key: "a", value: 1 }] } }, /metadata/],
      [{ name: "ok-vm", labels: { "Bad Key": "v" } }, /labels/],
    ];
    for (const [body, msg] of cases) {
      const r = await h.call("POST", base, { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, msg);
    }
    assert.equal((await h.call("GET", `${base}/ok-vm`)).status, 404);
    const zone = await h.call("GET", "/compute/v1/projects/demo-project/zones/mars-1a/instances");
    assert.equal(zone.status, 400);
    assert.match(zone.body.error.message, /Unknown zone/);
  });

  // Attaching an account without iam.serviceAccounts.actAs: test/security/act-as-bypass.test.ts.

  test("'default' means the project's Compute Engine default service account, which holds no role", async () => {
    const op = await h.call("POST", base, {
      body: { name: "default-sa-vm", serviceAccounts: [{ email: "default", scopes: ["cloud-platform"] }] },
    });
    assert.equal(op.status, 200, op.text);
    const vm = (await h.call("GET", `${base}/default-sa-vm`)).body;
    const number = (await h.call("GET", "/v1/projects/demo-project")).body.projectNumber;
    assert.equal(vm.serviceAccounts[0].email, `${number}-compute@developer.gserviceaccount.com`);
    const policy = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    assert.ok(!JSON.stringify(policy).includes("-compute@developer"), "least privilege: no role granted");
  });

  test("compute permissions: list needs compute.instances.list, in Google's wording", async () => {
    const token = await tokenAs(h, "user:nobody@example.com");
    const r = await h.call("GET", base, { token });
    assert.equal(r.status, 403);
    assert.match(
      r.body.error.message,
      /^Required 'compute\.instances\.list' permission for 'projects\/demo-project'/,
    );
    assert.equal(r.body.error.code, 403);
    assert.deepEqual(Object.keys(r.body.error.errors[0]).sort(), ["domain", "message", "reason"]);
    assert.equal(r.body.error.errors[0].reason, "forbidden");
    assert.equal(r.body.error.errors[0].domain, "global");
    assert.equal(r.body.error.errors[0].message, r.body.error.message);
    const agg = await h.call("GET", "/compute/v1/projects/demo-project/aggregated/instances", { token });
    assert.equal(agg.status, 403);
    assert.match(
      agg.body.error.message,
      /^Required 'compute\.instances\.list' permission for 'projects\/demo-project'/,
    );
    const stop = await h.call("POST", `${base}/demo-vm/stop`, { token });
    assert.equal(stop.status, 403);
    assert.match(
      stop.body.error.message,
      new RegExp(
        `^Required 'compute\\.instances\\.stop' permission for 'projects/demo-project/zones/${ZONE}/instances/demo-vm'\\. user:nobody@example\\.com does not have`,
      ),
    );
    assert.equal((await h.call("GET", `${base}/demo-vm`)).body.status, "RUNNING", "nothing was stopped");
    const missing = await h.call("GET", `${base}/no-such-vm`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.errors[0].reason, "notFound");
    const z = await h.call("GET", "/compute/v1/projects/demo-project/zones");
    assert.ok(z.body.items.some((i: { name: string }) => i.name === ZONE));
  });

  test("a call needs both a scope that admits it and the IAM permission", async () => {
    const carol = "user:carol@example.com";
    await grant(h, "roles/compute.instanceAdmin.v1", carol);
    assert.equal((await h.call("POST", base, { body: { name: "scoped-vm" } })).status, 200);
    const as = (scope: string) => tokenAs(h, carol, [`https://www.googleapis.com/auth/${scope}`]);
    const statusOf = async () => (await h.call("GET", `${base}/scoped-vm`)).body.status;

    // Read-only scopes admit list and get, not stop.
    for (const scope of ["compute.readonly", "cloud-platform.read-only"]) {
      const token = await as(scope);
      const list = await h.call("GET", base, { token });
      assert.equal(list.status, 200, `${scope}: ${list.text}`);
      assert.ok(list.body.items.some((i: { name: string }) => i.name === "scoped-vm"));
      assert.equal((await h.call("GET", `${base}/scoped-vm`, { token })).status, 200, scope);
      const stop = await h.call("POST", `${base}/scoped-vm/stop`, { token });
      assert.equal(stop.status, 403, scope);
      assert.equal(stop.body.error.errors[0].reason, "insufficientPermissions");
      assert.match(stop.body.error.message, /^Request had insufficient authentication scopes\./);
      assert.match(stop.body.error.message, /compute\.instances\.stop needs one of: .*\/auth\/compute, /);
      assert.equal(await statusOf(), "RUNNING", `${scope}: nothing was stopped`);
    }

    // Scopes outside Compute admit nothing here, though IAM would allow it.
    for (const scope of ["devstorage.full_control", "userinfo.email"]) {
      const r = await h.call("GET", base, { token: await as(scope) });
      assert.equal(r.status, 403, scope);
      assert.equal(r.body.error.errors[0].reason, "insufficientPermissions");
      assert.match(r.body.error.message, /compute\.instances\.list needs one of/);
    }

    // `compute` (as `cloud-platform`) admits stop and start.
    const full = await as("compute");
    assert.equal((await h.call("POST", `${base}/scoped-vm/stop`, { token: full })).status, 200);
    assert.equal(await statusOf(), "TERMINATED");
    assert.equal((await h.call("POST", `${base}/scoped-vm/start`, { token: full })).status, 200);
    assert.equal(await statusOf(), "RUNNING");

    // The broadest scope does not stand in for the role.
    const dave = await tokenAs(h, "user:dave@example.com", [
      "https://www.googleapis.com/auth/cloud-platform",
    ]);
    const denied = await h.call("GET", base, { token: dave });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.errors[0].reason, "forbidden");
    assert.match(denied.body.error.message, /^Required 'compute\.instances\.list' permission/);
    assert.equal((await h.call("DELETE", `${base}/scoped-vm`)).status, 200);
  });

  test("the batch endpoint runs each part as the caller and answers multipart/mixed in order", async () => {
    assert.equal((await h.call("POST", base, { body: { name: "batch-vm" } })).status, 200);
    // As apitools (gcloud) writes it: bare LF line ends, a quoted boundary, Content-IDs `<base+n>`.
    const part = (id: number, request: string) =>
      `--===b==\nContent-Type: application/http\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\nContent-ID: <abc+${id}>\n\n${request}\n`;
    const batch = (token: string | undefined, parts: string[]) =>
      fetch(`${h.url}/batch/compute/v1`, {
        method: "POST",
        headers: {
          "content-type": 'multipart/mixed; boundary="===b=="',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: `${parts.join("")}--===b==--\n`,
      });
    const parse = async (res: Response) => {
      const type = res.headers.get("content-type") ?? "";
      const boundary = /boundary=(\S+)/.exec(type)?.[1];
      assert.ok(boundary, type);
      const text = await res.text();
      return text
        .split(`--${boundary}`)
        .slice(1, -1)
        .map((p) => {
          const [head, http] = [p.slice(0, p.indexOf("\r\n\r\n")), p.slice(p.indexOf("\r\n\r\n") + 4)];
          const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(http)?.[1]);
          const body = JSON.parse(http.slice(http.indexOf("\r\n\r\n") + 4));
          return { id: /Content-ID: (\S+)/.exec(head)?.[1], status, body };
        });
    };
    const stop = (name: string) =>
      `POST ${base}/${name}/stop?alt=json HTTP/1.1\ncontent-type: application/json\nMIME-Version: 1.0\ncontent-length: 0\nHost: 127.0.0.1\n\n`;
    const get = (name: string) => `GET ${base}/${name}?alt=json HTTP/1.1\nHost: 127.0.0.1\n\n`;

    const res = await batch(h.adminToken, [
      part(1, stop("batch-vm")),
      part(2, get("batch-vm")),
      part(3, get("nope")),
    ]);
    assert.equal(res.status, 200);
    const answers = await parse(res);
    assert.deepEqual(
      answers.map((a) => [a.id, a.status]),
      [
        ["<response-abc+1>", 200],
        ["<response-abc+2>", 200],
        ["<response-abc+3>", 404],
      ],
    );
    assert.equal(answers[0]!.body.kind, "compute#operation");
    assert.equal(answers[0]!.body.operationType, "stop");
    assert.equal(answers[1]!.body.status, "TERMINATED", "parts run in order");
    assert.equal(answers[2]!.body.error.errors[0].reason, "notFound");

    // A caller without the role gets a 403 part naming the permission; a part's own credential is refused.
    const nobody = await tokenAs(h, "user:nobody@example.com");
    const start = `POST ${base}/batch-vm/start HTTP/1.1\ncontent-type: application/json\n\n{}`;
    const denied = await parse(
      await batch(nobody, [
        part(1, start),
        part(2, `GET ${base}/batch-vm HTTP/1.1\nAuthorization: Bearer ${h.adminToken}\n\n`),
        part(3, `GET /v1/projects/demo-project HTTP/1.1\n\n`),
      ]),
    );
    assert.deepEqual(
      denied.map((a) => a.status),
      [403, 401, 404],
    );
    assert.match(denied[0]!.body.error.message, /^Required 'compute\.instances\.start' permission for /);
    assert.equal((await h.call("GET", `${base}/batch-vm`)).body.status, "TERMINATED", "nothing was started");

    // The batch request itself needs a credential and a multipart body.
    assert.equal((await batch(undefined, [part(1, get("batch-vm"))])).status, 401);
    const flat = await h.call("POST", "/batch/compute/v1", { body: {} });
    assert.equal(flat.status, 400);
    assert.match(flat.body.error.message, /multipart\/mixed/);
    assert.equal((await h.call("DELETE", `${base}/batch-vm`)).status, 200);
  });

  test("restart keeps every resource", async () => {
    await h.call("POST", "/v1/projects/demo-project/serviceAccounts", {
      body: { accountId: "persisted-sa" },
    });
    const before = (await h.call("GET", `${base}`)).body.items.map((i: { name: string }) => i.name).sort();
    const policyBefore = (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body;
    await h.restart();
    assert.deepEqual(
      (await h.call("GET", `${base}`)).body.items.map((i: { name: string }) => i.name).sort(),
      before,
    );
    assert.deepEqual(
      (await h.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} })).body,
      policyBefore,
    );
    assert.equal(
      (
        await h.call(
          "GET",
          "/v1/projects/-/serviceAccounts/persisted-sa@demo-project.iam.gserviceaccount.com",
        )
      ).status,
      200,
    );
  });
});
