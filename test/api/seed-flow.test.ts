/**
 * The seed's flow, as a workload on demo-vm runs it with curl: a token from the instance's metadata
 * server, then the project's buckets and instances with it. Uses the real `curl` binary when it is
 * installed, else Node's HTTP client with the same requests.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type Harness, startHarness } from "../support/harness.js";
import { CURL } from "../support/tools.js";

const run = promisify(execFile);
const INSTANCE = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
const SA = "demo-sa@demo-project.iam.gserviceaccount.com";

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: the test reads arbitrary JSON field by field
  json: any;
  text: string;
}

/** GET `url` with `headers`, through curl if installed. */
async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  let status: number;
  let text: string;
  if (CURL) {
    const args = ["-sS", "--noproxy", "*", "--max-time", "20", "-w", "\n%{http_code}"];
    for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
    const { stdout } = await run(CURL, [...args, url], { timeout: 30_000 });
    const cut = stdout.lastIndexOf("\n");
    text = stdout.slice(0, cut);
    status = Number(stdout.slice(cut + 1));
  } else {
    const res = await fetch(url, { headers });
    status = res.status;
    text = await res.text();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, json, text };
}

describe(`the seed's flow from demo-vm (${CURL ? "curl" : "node:http; curl is not installed"})`, () => {
  let h: Harness;
  let mds: string;
  let token: string;

  before(async () => {
    h = await startHarness();
    const address = h.server.metadataServers()[INSTANCE];
    assert.ok(address, `no metadata server for ${INSTANCE}`);
    mds = address;
    const created = await h.call("POST", "/storage/v1/b?project=demo-project", {
      body: { name: "seed-bucket" },
    });
    assert.equal(created.status, 200, created.text);
  });
  after(() => h?.close());

  test("the metadata server hands out a token for the instance's account, only with Metadata-Flavor", async () => {
    const path = "/computeMetadata/v1/instance/service-accounts/default/token";
    const bare = await get(`http://${mds}${path}`);
    assert.equal(bare.status, 403, "Metadata-Flavor: Google is required");
    assert.equal(bare.json, undefined, "no token JSON without the header");

    const r = await get(`http://${mds}${path}`, { "Metadata-Flavor": "Google" });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ["access_token", "expires_in", "token_type"]);
    assert.equal(r.json.token_type, "Bearer");
    assert.ok(Number.isInteger(r.json.expires_in) && r.json.expires_in > 3000, String(r.json.expires_in));
    token = r.json.access_token;
    const info = await get(`${h.url}/tokeninfo?access_token=${encodeURIComponent(token)}`);
    assert.equal(info.json.email, SA);
  });

  test("with it, GET /storage/v1/b?project=demo-project lists the buckets", async () => {
    assert.ok(token, "the token test ran first");
    const r = await get(`${h.url}/storage/v1/b?project=demo-project`, { Authorization: `Bearer ${token}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.kind, "storage#buckets");
    assert.deepEqual(
      r.json.items.map((b: { name: string }) => b.name),
      ["seed-bucket"],
    );
    assert.equal(r.json.items[0].id, "seed-bucket");
    const anonymous = await get(`${h.url}/storage/v1/b?project=demo-project`);
    assert.equal(anonymous.status, 401, "no token, no list");
  });

  test("and GET /compute/v1/projects/demo-project/zones/us-central1-a/instances lists the instances", async () => {
    assert.ok(token, "the token test ran first");
    const r = await get(`${h.url}/compute/v1/projects/demo-project/zones/us-central1-a/instances`, {
      Authorization: `Bearer ${token}`,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.kind, "compute#instanceList");
    assert.equal(r.json.id, "projects/demo-project/zones/us-central1-a/instances");
    assert.equal(r.json.items.length, 1);
    const vm = r.json.items[0];
    assert.equal(vm.kind, "compute#instance");
    assert.equal(vm.name, "demo-vm");
    assert.equal(vm.status, "RUNNING");
    assert.match(vm.id, /^\d+$/, "64-bit ids are strings");
    assert.deepEqual(vm.serviceAccounts, [
      { email: SA, scopes: ["https://www.googleapis.com/auth/cloud-platform"] },
    ]);
    assert.equal(vm.selfLink, `${h.url}/compute/v1/${INSTANCE}`);
  });
});
