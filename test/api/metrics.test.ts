/**
 * `/metrics` after a workload: the counters move exactly as the workload did — tokens issued by
 * grant and principal kind, denials by permission and reason, requests by route and status, and
 * the metadata server's cache hits, misses, single-flight joins and 429s for its instance.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const ZONE = "us-central1-a";
const VM = "metrics-vm";
const INSTANCE = `projects/demo-project/zones/${ZONE}/instances/${VM}`;
const SA = "demo-sa@demo-project.iam.gserviceaccount.com";
const AUTH = "https://www.googleapis.com/auth/";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples of `name` whose labels include `labels` (0 when none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe("metrics follow the workload", () => {
  let h: Harness;
  before(async () => {
    // One mint a second per instance, so new scope sets asked for in a row soon get a 429.
    h = await startHarness({ mintsPerSecond: 1 });
  });
  after(() => h.close());

  const scrape = async () => {
    const r = await h.call("GET", "/metrics", { token: null });
    assert.equal(r.status, 200, r.text);
    return parse(r.text);
  };

  test("exact deltas for tokens, denials, requests and the metadata server's cache", async () => {
    const created = await h.call("POST", `/compute/v1/projects/demo-project/zones/${ZONE}/instances`, {
      body: {
        name: VM,
        machineType: `zones/${ZONE}/machineTypes/e2-small`,
        serviceAccounts: [
          { email: SA, scopes: [`${AUTH}cloud-platform`, `${AUTH}userinfo.email`, `${AUTH}compute`] },
        ],
      },
    });
    assert.equal(created.status, 200, created.text);
    let mds: string | undefined;
    for (const deadline = Date.now() + 10_000; !mds; ) {
      mds = h.server.metadataServers()[INSTANCE];
      assert.ok(mds || Date.now() < deadline, "the instance's metadata server started");
      if (!mds) await new Promise((r) => setTimeout(r, 50));
    }
    const nobody = await tokenAs(h, "user:nobody@example.com");
    const storageOnly = await tokenAs(h, "user:admin@warrant.local", [`${AUTH}devstorage.read_only`]);
    // Let the metadata server's mint budget refill after its start.
    await new Promise((r) => setTimeout(r, 1100));

    const before = await scrape();
    const token = (scopes?: string) =>
      fetch(
        `http://${mds}/computeMetadata/v1/instance/service-accounts/default/token${scopes ? `?scopes=${scopes}` : ""}`,
        { headers: { "Metadata-Flavor": "Google" } },
      );

    // The metadata server: one mint, then two hits.
    for (let i = 0; i < 3; i++) assert.equal((await token()).status, 200);
    // New scope sets in a row: over the mint limit, 429 (normally at once; a slow machine may
    // refill the budget in between, so what happened is counted rather than assumed).
    let minted = 1;
    let limited = 0;
    for (const more of ["userinfo.email", "compute", "userinfo.email,compute"]) {
      const r = await token(
        `${AUTH}cloud-platform,${more
          .split(",")
          .map((m) => AUTH + m)
          .join(",")}`,
      );
      if (r.status === 429) {
        limited++;
        break;
      }
      assert.equal(r.status, 200, await r.text());
      minted++;
    }
    assert.equal(limited, 1, "a scope set was refused over the mint limit");
    // The token endpoint: the administrator's refresh token.
    await h.tokenFor(h.server.adminCredentialFile);
    // Denials: two by IAM, one by the token's scopes.
    for (const t of [nobody, nobody, storageOnly])
      assert.equal((await h.call("GET", "/v1/projects/demo-project", { token: t })).status, 403);
    assert.equal((await h.call("GET", "/v1/projects/demo-project")).status, 200);

    const now = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      value(now, name, labels) - value(before, name, labels);

    const mdsOf = { instance: INSTANCE };
    assert.equal(delta("warrant_metadata_token_cache_hits_total", mdsOf), 2);
    assert.equal(
      delta("warrant_metadata_token_cache_misses_total", mdsOf),
      minted + 1,
      "the mints, and the refused one",
    );
    assert.equal(delta("warrant_metadata_token_cache_joins_total", mdsOf), 0);
    assert.equal(delta("warrant_metadata_rate_limited_total", mdsOf), 1);

    assert.equal(
      delta("warrant_tokens_issued_total", {
        grant: "metadata",
        principal_kind: "serviceAccount",
        token_type: "access_token",
      }),
      minted,
    );
    assert.equal(delta("warrant_tokens_issued_total", { grant: "refresh_token", principal_kind: "user" }), 1);
    assert.equal(delta("warrant_tokens_issued_total"), minted + 1, "nothing else was issued");

    const perm = "resourcemanager.projects.get";
    assert.equal(delta("warrant_authz_denials_total", { permission: perm, reason: "iam" }), 2);
    assert.equal(delta("warrant_authz_denials_total", { permission: perm, reason: "scope" }), 1);
    assert.equal(delta("warrant_authz_denials_total"), 3);

    const route = { api: "resourcemanager", method: "GET", route: "/v1/projects/{project}" };
    assert.equal(delta("warrant_http_requests_total", { ...route, status: "403" }), 3);
    assert.equal(delta("warrant_http_requests_total", { ...route, status: "200" }), 1);
    assert.equal(delta("warrant_http_request_duration_seconds_count", route), 4);
    assert.equal(
      delta("warrant_http_requests_total", {
        api: "agent",
        method: "POST",
        route: "/warrant/v1/agent/token",
        status: "200",
      }),
      minted,
      "each mint of the metadata server went through the control plane",
    );
    // The scrape before this one counts; this one is counted after it was rendered.
    assert.equal(delta("warrant_http_requests_total", { api: "metrics", status: "200" }), 1);

    assert.ok(delta("warrant_datastore_operation_duration_seconds_count", { op: "get" }) > 0);
    assert.equal(
      value(now, "warrant_datastore_errors_total"),
      0,
      JSON.stringify(now.filter((s) => s.name === "warrant_datastore_errors_total")),
    );
    assert.equal(value(now, "warrant_audit_write_errors_total"), 0);
    // This process's libuv threadpool signs the mints (test/cli/serve-signing-threads sizes it).
    assert.equal(value(now, "warrant_signing_threads"), Number(process.env.UV_THREADPOOL_SIZE || 4));
    assert.equal(value(now, "warrant_signatures_on_event_loop_total"), 0);
    assert.ok(value(now, "warrant_open_connections") >= 1);
    assert.ok(now.some((s) => s.name === "nodejs_eventloop_lag_seconds"));
    assert.ok(now.some((s) => s.name === "process_resident_memory_bytes"));
  });

  test("concurrent misses for one scope set: one mint, the rest join it or hit", async () => {
    const mds = h.server.metadataServers()[INSTANCE]!;
    await new Promise((r) => setTimeout(r, 1100));
    const before = await scrape();
    // A scope set the first test never asked for.
    const scopes = `${AUTH}userinfo.email,${AUTH}compute`;
    const replies = await Promise.all(
      Array.from({ length: 8 }, () =>
        fetch(`http://${mds}/computeMetadata/v1/instance/service-accounts/default/token?scopes=${scopes}`, {
          headers: { "Metadata-Flavor": "Google" },
        }),
      ),
    );
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(8).fill(200),
    );
    const now = await scrape();
    const delta = (name: string) =>
      value(now, name, { instance: INSTANCE }) - value(before, name, { instance: INSTANCE });
    assert.equal(delta("warrant_metadata_token_cache_misses_total"), 1);
    assert.equal(
      delta("warrant_metadata_token_cache_joins_total") + delta("warrant_metadata_token_cache_hits_total"),
      7,
    );
    assert.ok(
      delta("warrant_metadata_token_cache_joins_total") >= 1,
      "some arrived while the mint was in flight",
    );
    assert.equal(delta("warrant_metadata_rate_limited_total"), 0);
  });
});
