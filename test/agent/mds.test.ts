/** The metadata server over HTTP: GCE's surface, token caching and limits, isolation between instances. */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { startAgent } from "../../src/agent/agent.js";
import { type Harness, startHarness } from "../support/harness.js";
import { eventually } from "../support/poll.js";

const FLAVOR = { "Metadata-Flavor": "Google" };
const DEMO = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
const SA = "demo-sa@demo-project.iam.gserviceaccount.com";

interface Got {
  status: number;
  type: string | null;
  flavor: string | null;
  etag: string | null;
  location: string | null;
  body: string;
}

function client(base: () => string) {
  return async (path: string, headers: Record<string, string> = FLAVOR, method = "GET"): Promise<Got> => {
    const r = await fetch(`${base()}${path}`, { headers, method, redirect: "manual" });
    return {
      status: r.status,
      type: r.headers.get("content-type"),
      flavor: r.headers.get("metadata-flavor"),
      etag: r.headers.get("etag"),
      location: r.headers.get("location"),
      body: await r.text(),
    };
  };
}

function rawStatus(hostPort: string, path: string): Promise<number> {
  const [host, port] = hostPort.split(":") as [string, string];
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port: Number(port), path, headers: FLAVOR }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("metadata server surface", () => {
  let h: Harness;
  let mds: string;
  const get = client(() => `http://${mds}`);
  before(async () => {
    h = await startHarness();
    mds = h.server.metadataServers()[DEMO]!;
  });
  after(() => h.close());

  test("root answers without the header; everything else requires it; every answer carries Metadata-Flavor", async () => {
    const root = await get("/", {});
    assert.deepEqual(
      [root.status, root.type, root.flavor, root.body],
      [200, "application/text", "Google", "computeMetadata/\n"],
    );
    const missing = await get("/computeMetadata/v1/instance/id", {});
    assert.equal(missing.status, 403);
    assert.equal(missing.flavor, "Google");
    assert.equal(missing.type, "text/html; charset=UTF-8");
    assert.match(missing.body, /Missing Metadata-Flavor:Google header/);
    assert.equal(
      (await get("/computeMetadata/v1/instance/id", { "Metadata-Flavor": "google" })).status,
      403,
      "exact value",
    );
    assert.equal(
      (await get("/computeMetadata/v1/instance/id", { "metadata-flavor": "Google" })).status,
      200,
      "any header case",
    );
    const xff = await get("/computeMetadata/v1/instance/id", { ...FLAVOR, "X-Forwarded-For": "10.0.0.1" });
    assert.equal(xff.status, 403);
    assert.equal(xff.flavor, "Google");
    const legacy = await get("/computeMetadata/v1beta1/instance/id");
    assert.equal(legacy.status, 403);
    assert.match(legacy.body, /Legacy metadata endpoints are disabled/);
    const post = await get("/computeMetadata/v1/instance/id", FLAVOR, "POST");
    assert.equal(post.status, 405);
    const head = await get("/computeMetadata/v1/instance/id", FLAVOR, "HEAD");
    assert.deepEqual([head.status, head.body], [200, ""]);
    const cors = await fetch(`http://${mds}/computeMetadata/v1/instance/id`, {
      headers: { ...FLAVOR, Origin: "http://evil.example" },
    });
    assert.equal(cors.headers.get("access-control-allow-origin"), null, "never CORS");
  });

  test("leaves, listings, 301 to the directory form with the query kept, 404s", async () => {
    const num = await get("/computeMetadata/v1/project/numeric-project-id");
    assert.match(num.body, /^\d{12}$/, "digits only, no newline");
    assert.match(num.etag ?? "", /^[0-9a-f]{16}$/);
    assert.equal((await get("/computeMetadata/v1/project/project-id")).body, "demo-project");
    assert.equal((await get("/computeMetadata/v1/universe/universe-domain")).body, "googleapis.com");
    const zone = await get("/computeMetadata/v1/instance/zone");
    assert.match(zone.body, /^projects\/\d{12}\/zones\/us-central1-a$/);
    assert.equal(
      (await get("/computeMetadata/v1/instance/hostname")).body,
      "demo-vm.c.demo-project.internal",
    );
    const sas = await get("/computeMetadata/v1/instance/service-accounts/");
    assert.equal(sas.body, `default/\n${SA}/\n`);
    const acct = await get(`/computeMetadata/v1/instance/service-accounts/${encodeURIComponent(SA)}/`);
    assert.equal(acct.body, "aliases\nemail\nidentity\nscopes\ntoken\n");
    assert.equal((await get("/computeMetadata/v1/instance/service-accounts/default/email")).body, SA);
    assert.equal(
      (await get("/computeMetadata/v1/instance/service-accounts/default/scopes")).body,
      "https://www.googleapis.com/auth/cloud-platform\n",
    );
    const redirect = await get("/computeMetadata/v1/instance?recursive=true&x=a%2Cb");
    assert.equal(redirect.status, 301);
    assert.equal(redirect.location, `http://${mds}/computeMetadata/v1/instance/?recursive=true&x=a%2Cb`);
    assert.equal(redirect.flavor, "Google");
    assert.equal((await get("/computeMetadata/v1/instance/id/")).status, 404, "leaf with a slash");
    assert.equal((await get("/computeMetadata/v1/instance/service-accounts/default/token/")).status, 404);
    assert.equal(
      (await get("/computeMetadata/v1/instance/service-accounts/nobody@x.iam.gserviceaccount.com/token"))
        .status,
      404,
    );
    for (const bad of [
      "/computeMetadata/v1/instance/../project/project-id",
      "/computeMetadata/v1/%2e%2e/instance/id",
      "/computeMetadata/v1/instance/%ZZ",
    ])
      assert.equal(await rawStatus(mds, bad), 404, bad); // sent raw: fetch would normalize the dots away
    assert.equal((await get(`/computeMetadata/v1/instance/${"a".repeat(9000)}`)).status, 400);
    // A hostile Host header never reaches the Location of a redirect.
    const location = await new Promise<string | undefined>((resolve, reject) => {
      const [host, port] = mds.split(":") as [string, string];
      const req = httpRequest(
        {
          host,
          port: Number(port),
          path: "/computeMetadata/v1/instance",
          headers: { ...FLAVOR, Host: "evil.example/<script>" },
        },
        (res) => {
          res.resume();
          resolve(res.headers.location);
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.equal(location, "http://metadata.google.internal/computeMetadata/v1/instance/");
  });

  test("recursive JSON: camelCase Google keys, verbatim user keys, exact 64-bit ids, no tokens", async () => {
    const r = await get("/computeMetadata/v1/?recursive=true");
    assert.equal(r.type, "application/json");
    const id = (await get("/computeMetadata/v1/instance/id")).body;
    assert.ok(r.body.includes(`"id":${id}`), "the id is a JSON number written digit for digit");
    const parsed = JSON.parse(r.body);
    assert.equal(parsed.project.projectId, "demo-project");
    assert.ok(parsed.instance.machineType.endsWith("/machineTypes/e2-medium"));
    assert.deepEqual(Object.keys(parsed.instance.serviceAccounts).sort(), ["default", SA].sort());
    assert.equal(parsed.instance.serviceAccounts.default.token, undefined);
    const acct = await get("/computeMetadata/v1/instance/service-accounts/default/?recursive=true");
    assert.deepEqual(JSON.parse(acct.body), {
      aliases: ["default"],
      email: SA,
      scopes: ["https://www.googleapis.com/auth/cloud-platform"],
    });
    assert.equal((await get("/computeMetadata/v1/instance/name?alt=json")).body, '"demo-vm"');
    assert.equal(
      (await get("/computeMetadata/v1/instance/?alt=json")).status,
      400,
      "alt on a non-recursive directory",
    );
  });

  test("identity: audience required (unencoded accepted), format=full carries the compute_engine claims", async () => {
    assert.equal((await get("/computeMetadata/v1/instance/service-accounts/default/identity")).status, 400);
    const r = await get(
      "/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://aud.example.com/x&format=full&licenses=FALSE",
    );
    assert.equal(r.status, 200);
    assert.equal(r.type, "application/text");
    const claims = JSON.parse(Buffer.from(r.body.split(".")[1]!, "base64url").toString());
    assert.equal(claims.aud, "https://aud.example.com/x");
    assert.equal(claims.email, SA);
    assert.equal(claims.google.compute_engine.instance_name, "demo-vm");
    assert.equal(typeof claims.google.compute_engine.project_number, "number");
    assert.equal(typeof claims.google.compute_engine.instance_id, "string");
    const std = await get(`/computeMetadata/v1/instance/service-accounts/${SA}/identity?audience=a`);
    assert.equal(JSON.parse(Buffer.from(std.body.split(".")[1]!, "base64url").toString()).email, undefined);
  });

  test("wait_for_change wakes on a metadata change made through the Compute API", async () => {
    const path = "/computeMetadata/v1/instance/attributes/?recursive=true";
    const first = await get(path);
    assert.equal(first.body, "{}");
    const waiting = get(`${path}&wait_for_change=true&timeout_sec=20&last_etag=${first.etag}`);
    await new Promise((r) => setTimeout(r, 200));
    const inst = await h.call(
      "GET",
      "/compute/v1/projects/demo-project/zones/us-central1-a/instances/demo-vm",
    );
    const set = await h.call(
      "POST",
      "/compute/v1/projects/demo-project/zones/us-central1-a/instances/demo-vm/setMetadata",
      {
        body: {
          fingerprint: inst.body.metadata.fingerprint,
          items: [{ key: "startup-mode", value: "blue" }],
        },
      },
    );
    assert.equal(set.status, 200, set.text);
    const changed = await waiting;
    assert.deepEqual(JSON.parse(changed.body), { "startup-mode": "blue" });
    assert.notEqual(changed.etag, first.etag);
    // A stale etag returns at once; a timeout returns the unchanged value.
    const immediate = await get(`${path}&wait_for_change=true&timeout_sec=20&last_etag=0000000000000000`);
    assert.equal(immediate.status, 200);
    const t0 = Date.now();
    const timedOut = await get(`/computeMetadata/v1/instance/name?wait_for_change=true&timeout_sec=1`);
    assert.equal(timedOut.body, "demo-vm");
    assert.ok(Date.now() - t0 >= 900);
    assert.equal(
      (await get("/computeMetadata/v1/instance/name?wait_for_change=true&timeout_sec=abc")).status,
      400,
    );
    assert.equal((await get("/computeMetadata/v1/instance/?wait_for_change=true")).status, 400);
  });
});

describe("metadata server tokens", () => {
  let h: Harness;
  let mds: string;
  const get = client(() => `http://${mds}`);
  const tokenPath = "/computeMetadata/v1/instance/service-accounts/default/token";
  before(async () => {
    // 8 s tokens, replaced when 4 s remain: the cache window is observable in a test.
    h = await startHarness({
      accessTokenLifetimeSeconds: 8,
      tokenRefreshMarginSeconds: 4,
      mintsPerSecond: 20,
    });
    mds = h.server.metadataServers()[DEMO]!;
  });
  after(() => h.close());

  test("the token JSON is GCE's, cached with a decreasing expires_in, replaced after the window", async () => {
    const a = await get(tokenPath);
    assert.equal(a.type, "application/json");
    const ta = JSON.parse(a.body);
    assert.deepEqual(Object.keys(ta), ["access_token", "expires_in", "token_type"]);
    assert.equal(ta.token_type, "Bearer");
    assert.ok(Number.isInteger(ta.expires_in));
    assert.ok(Buffer.byteLength(ta.access_token) <= 2048);
    await new Promise((r) => setTimeout(r, 1100));
    const tb = JSON.parse((await get(`/computeMetadata/v1/instance/service-accounts/${SA}/token`)).body);
    assert.equal(tb.access_token, ta.access_token, "same token by e-mail and by default");
    assert.ok(tb.expires_in < ta.expires_in, "expires_in decreases");
    await new Promise((r) => setTimeout(r, 3200));
    const tc = JSON.parse((await get(tokenPath)).body);
    assert.notEqual(tc.access_token, ta.access_token, "a new token once the margin is reached");
    const api = await h.call("GET", "/compute/v1/projects/demo-project/zones/us-central1-a/instances", {
      token: tc.access_token,
    });
    assert.equal(api.status, 200, "the token lists the zone's instances");
  });

  test("requested scopes narrow the token when the instance has them, and are never refused", async () => {
    const ro = "https://www.googleapis.com/auth/cloud-platform.read-only";
    const wide = await get(
      `${tokenPath}?scopes=${encodeURIComponent([ro, "https://www.googleapis.com/auth/devstorage.full_control"].join(","))}`,
    );
    assert.equal(wide.status, 200);
    const info = (await (
      await fetch(`${h.url}/tokeninfo?access_token=${JSON.parse(wide.body).access_token}`)
    ).json()) as { scope: string };
    assert.equal(
      info.scope,
      "https://www.googleapis.com/auth/cloud-platform",
      "not a subset: the instance's scopes",
    );
    const narrow = await get(`${tokenPath}?scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform`);
    assert.equal(narrow.status, 200);
  });

  test("a stopped instance gets no token (503); a disabled account 403; enabled again, tokens flow", async () => {
    const base = "/compute/v1/projects/demo-project/zones/us-central1-a/instances/demo-vm";
    // The metadata server learns of each change asynchronously: wait for it, with a deadline.
    const status = async (path: string) => (await get(path)).status;
    assert.equal((await h.call("POST", `${base}/stop`)).status, 200);
    const ro = `${tokenPath}?scopes=https://www.googleapis.com/auth/cloud-platform.read-only`;
    await eventually(
      "a stopped instance's token",
      () => status(ro),
      (s) => s === 503,
    );
    assert.equal((await h.call("POST", `${base}/start`)).status, 200);
    assert.equal((await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}:disable`)).status, 200);
    // Started again but its account disabled: 403, never a token.
    await eventually(
      "a disabled account's token",
      () => status(tokenPath),
      (s) => s !== 503,
    );
    assert.equal(await status(tokenPath), 403);
    assert.equal((await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}:enable`)).status, 200);
    await eventually(
      "a re-enabled account's token",
      () => status(tokenPath),
      (s) => s === 200,
    );
  });
});

describe("metadata server token cache and mint limit (agent with an injected clock)", () => {
  let h: Harness;
  const tokenPath = "/computeMetadata/v1/instance/service-accounts/default/token";
  const identity = (aud: string) =>
    `/computeMetadata/v1/instance/service-accounts/default/identity?audience=${aud}`;
  before(async () => {
    // Hour-long tokens: nothing in these tests depends on how long a step takes.
    h = await startHarness();
  });
  after(() => h.close());
  const enroll = async () =>
    (await h.call("POST", `/warrant/v1/${DEMO}:issueEnrollmentToken`)).body.enrollmentToken as string;

  test("200 concurrent cold requests wait on one mint held open, and all get the token it made", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let minting = 0;
    const agent = await startAgent({
      controlPlaneUrl: h.url,
      enrollmentToken: await enroll(),
      host: "127.0.0.1",
      port: 0,
      mintsPerSecond: 5,
      // The mint does not finish until all 200 requests are waiting for it.
      beforeMint: async () => {
        minting++;
        await held;
      },
    });
    try {
      const local = client(() => agent.url);
      const pending = Promise.all(Array.from({ length: 200 }, () => local(tokenPath)));
      await eventually(
        "200 requests waiting on the mint",
        () => agent.cache.joins,
        (n) => n >= 199,
      );
      assert.equal(minting, 1, "one mint started");
      assert.equal(agent.cache.joins, 199, "the other 199 joined it");
      release();
      const answers = await pending;
      assert.deepEqual(
        [...new Set(answers.map((a) => a.status))],
        [200],
        `statuses: ${answers.map((a) => a.status)}`,
      );
      const tokens = new Set(answers.map((a) => JSON.parse(a.body).access_token));
      assert.equal(tokens.size, 1, "one token for all");
      assert.equal(agent.cache.mints, 1, "single flight");
      assert.equal(minting, 1);
      // Afterwards the token is served from the cache: no new mint, the same access_token.
      const again = await local(tokenPath);
      assert.equal(again.status, 200);
      assert.equal(JSON.parse(again.body).access_token, [...tokens][0]);
      assert.equal(agent.cache.mints, 1);
      assert.equal(minting, 1);
    } finally {
      release();
      await agent.close();
    }
  });

  test("mints over the limit get 429 in exactly the order the bucket says; cached tokens never do", async () => {
    let now = 1_000_000;
    const agent = await startAgent({
      controlPlaneUrl: h.url,
      enrollmentToken: await enroll(),
      host: "127.0.0.1",
      port: 0,
      mintsPerSecond: 5, // a bucket of 5, refilled at one per 200 ms of the injected clock
      clock: () => now,
    });
    try {
      const local = client(() => agent.url);
      const seq = async (paths: string[]) => {
        const out: number[] = [];
        for (const p of paths) {
          const r = await local(p);
          if (r.status === 429) {
            assert.equal(r.flavor, "Google");
            assert.equal(r.type, "application/text");
          }
          out.push(r.status);
        }
        return out;
      };
      const first = await local(tokenPath); // a cold token: one mint, 4 left
      assert.equal(first.status, 200);
      const token = JSON.parse(first.body).access_token;
      // Every identity request mints (identity tokens are not cached).
      const ids = (n: number, tag: string) => Array.from({ length: n }, (_, i) => identity(`${tag}${i}`));
      assert.deepEqual(await seq(ids(6, "a")), [200, 200, 200, 200, 429, 429]);
      // The bucket is empty, yet the cached token is served, the same one, without a mint.
      const mints = agent.cache.mints;
      for (let i = 0; i < 3; i++) {
        const cached = await local(tokenPath);
        assert.equal(cached.status, 200, "cached answers are never limited");
        assert.equal(JSON.parse(cached.body).access_token, token);
      }
      assert.equal(agent.cache.mints, mints, "served from the cache");
      now += 199; // not yet a whole token
      assert.deepEqual(await seq(ids(1, "b")), [429]);
      now += 1; // 200 ms: one token
      assert.deepEqual(await seq(ids(2, "c")), [200, 429]);
      now += 10_000; // refills cap at the burst of 5
      assert.deepEqual(await seq(ids(6, "d")), [200, 200, 200, 200, 200, 429]);
      const limited = await local(identity("e"));
      assert.equal(limited.status, 429);
      assert.equal(limited.body, "Too many identity requests; retry later.\n");
    } finally {
      await agent.close();
    }
  });
});

describe("agents and the control plane", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ agents: false });
  });
  after(() => h.close());

  test("an enrollment token works once; one instance's agent cannot get another's tokens", async () => {
    const other = await h.call("POST", "/compute/v1/projects/demo-project/zones/us-central1-a/instances", {
      body: {
        name: "other-vm",
        serviceAccounts: [{ email: "default", scopes: ["https://www.googleapis.com/auth/cloud-platform"] }],
      },
    });
    assert.equal(other.status, 200, other.text);
    const issued = await h.call("POST", `/warrant/v1/${DEMO}:issueEnrollmentToken`);
    assert.equal(issued.status, 200, issued.text);
    const enroll = (token: string) =>
      fetch(`${h.url}/warrant/v1/agents:enroll`, {
        method: "POST",
        body: JSON.stringify({ enrollmentToken: token }),
        headers: { "content-type": "application/json" },
      });
    const first = (await (await enroll(issued.body.enrollmentToken)).json()) as {
      agentCredential: string;
      instance: string;
    };
    assert.equal(first.instance, DEMO);
    assert.equal((await enroll(issued.body.enrollmentToken)).status, 401, "one use only");
    // The agent names another instance and account in its request: the credential decides.
    const forged = await fetch(`${h.url}/warrant/v1/agent/token`, {
      method: "POST",
      headers: { authorization: `WarrantAgent ${first.agentCredential}`, "content-type": "application/json" },
      body: JSON.stringify({
        account: "other-vm",
        instance: "projects/demo-project/zones/us-central1-a/instances/other-vm",
        scopes: [],
      }),
    });
    assert.equal(forged.status, 404);
    const own = await fetch(`${h.url}/warrant/v1/agent/token`, {
      method: "POST",
      headers: { authorization: `WarrantAgent ${first.agentCredential}`, "content-type": "application/json" },
      body: JSON.stringify({
        account: "default",
        instance: "projects/demo-project/zones/us-central1-a/instances/other-vm",
      }),
    });
    const t = (await own.json()) as { access_token: string };
    const info = (await (await fetch(`${h.url}/tokeninfo?access_token=${t.access_token}`)).json()) as {
      email: string;
    };
    assert.equal(info.email, SA, "the token is demo-vm's account, not other-vm's");
    const bad = await fetch(`${h.url}/warrant/v1/agent/view`, {
      headers: {
        authorization:
          "WarrantAgent 0123456789abcdef0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      },
    });
    assert.equal(bad.status, 401);
    // The admin's bearer token is not an agent credential.
    const admin = await fetch(`${h.url}/warrant/v1/agent/view`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    assert.equal(admin.status, 401);
  });

  test("issuing an enrollment token needs rights on the instance and actAs on its account", async () => {
    const { tokenAs } = await import("../support/harness.js");
    const bob = await tokenAs(h, "user:bob@example.com");
    const r = await h.call("POST", `/warrant/v1/${DEMO}:issueEnrollmentToken`, { token: bob });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /compute\.instances\.setMetadata/);
  });
});

describe("metadata server hardening beyond GCE", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ agents: false });
  });
  after(() => h.close());

  async function agentWith(opts: Partial<Parameters<typeof startAgent>[0]>) {
    const token = (await h.call("POST", `/warrant/v1/${DEMO}:issueEnrollmentToken`)).body.enrollmentToken;
    return startAgent({
      controlPlaneUrl: h.url,
      enrollmentToken: token,
      host: "127.0.0.1",
      port: 0,
      ...opts,
    });
  }

  test("session-token mode 'required': PUT for a token, then send it; without it 401", async () => {
    const agent = await agentWith({ sessionTokens: "required" });
    try {
      const path = "/computeMetadata/v1/project/project-id";
      assert.equal((await fetch(`${agent.url}${path}`, { headers: FLAVOR })).status, 401);
      const bad = await fetch(`${agent.url}/computeMetadata/v1/instance/session-token`, {
        method: "PUT",
        headers: { ...FLAVOR, "X-Warrant-Metadata-Token-TTL-Seconds": "999999" },
      });
      assert.equal(bad.status, 400);
      const viaProxy = await fetch(`${agent.url}/computeMetadata/v1/instance/session-token`, {
        method: "PUT",
        headers: { ...FLAVOR, "X-Warrant-Metadata-Token-TTL-Seconds": "60", "X-Forwarded-For": "10.0.0.1" },
      });
      assert.equal(viaProxy.status, 403, "a forwarded PUT gets no session");
      const put = await fetch(`${agent.url}/computeMetadata/v1/instance/session-token`, {
        method: "PUT",
        headers: { ...FLAVOR, "X-Warrant-Metadata-Token-TTL-Seconds": "60" },
      });
      assert.equal(put.status, 200);
      const session = await put.text();
      const ok = await fetch(`${agent.url}${path}`, {
        headers: { ...FLAVOR, "X-Warrant-Metadata-Token": session },
      });
      assert.equal(await ok.text(), "demo-project");
      const forged = `${session.split(".")[0]}.${"A".repeat(43)}`;
      assert.equal(
        (await fetch(`${agent.url}${path}`, { headers: { ...FLAVOR, "X-Warrant-Metadata-Token": forged } }))
          .status,
        401,
      );
      assert.equal((await fetch(`${agent.url}/`)).status, 200, "the detection probe stays open");
    } finally {
      await agent.close();
    }
  });

  test("fault injection fails token answers at the configured rate", async () => {
    const agent = await agentWith({ faults: { errorStatus: 503, errorRate: 1 } });
    try {
      const r = await fetch(`${agent.url}/computeMetadata/v1/instance/service-accounts/default/token`, {
        headers: FLAVOR,
      });
      assert.equal(r.status, 503);
      assert.equal(r.headers.get("metadata-flavor"), "Google");
      assert.equal(
        (await fetch(`${agent.url}/computeMetadata/v1/project/project-id`, { headers: FLAVOR })).status,
        200,
        "data is unaffected",
      );
    } finally {
      await agent.close();
    }
  });
});

describe("in-process agents across restarts", () => {
  test("each start replaces the instance's in-process agent credential instead of piling them up", async () => {
    const h = await startHarness();
    try {
      await h.restart();
      await h.restart();
      const { default: Database } = await import("better-sqlite3");
      const { join } = await import("node:path");
      const db = new Database(join(h.stateDir, "warrant.db"), { readonly: true });
      try {
        const rows = db.prepare("SELECT value FROM documents WHERE kind = 'agent'").all() as {
          value: string;
        }[];
        assert.equal(rows.length, 1, "one live agent credential for demo-vm");
      } finally {
        db.close();
      }
      const mds = h.server.metadataServers()[DEMO]!;
      const r = await fetch(`http://${mds}/computeMetadata/v1/instance/service-accounts/default/token`, {
        headers: FLAVOR,
      });
      assert.equal(r.status, 200, "the agent of the latest start works");
    } finally {
      await h.close();
    }
  });
});
