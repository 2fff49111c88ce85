/**
 * Attack: read the server's metrics (instance names, routes, denial counts by permission) without
 * being a monitor. A scraper on the same host (loopback) needs no credential; with
 * `metricsLoopbackOpen: false` (serve --metrics-require-permission, for a reverse proxy on the same
 * host) every caller needs monitoring.timeSeries.list on the organization: anonymous callers get
 * 401, callers without it 403 — a project-level role is not enough — and the scrape is audited.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { scopesAdmitting } from "../../src/domain/compute/scopes.js";
import { predefinedPermissions, rolesGranting } from "../../src/domain/iam/roles.js";
import { isLoopback, METRICS_PERMISSION } from "../../src/server/api/metrics/metrics.js";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";
import { eventually } from "../support/poll.js";

const CLOUD = "https://www.googleapis.com/auth/cloud-platform";

describe("attack: metrics scraped by anyone", () => {
  let open: Harness;
  let closed: Harness;
  before(async () => {
    open = await startHarness({ agents: false });
    closed = await startHarness({ agents: false, metricsLoopbackOpen: false });
  });
  after(async () => {
    await open.close();
    await closed.close();
  });

  test("the catalog: roles/monitoring.viewer and the basic roles grant the permission; scopes admit it", () => {
    assert.equal(METRICS_PERMISSION, "monitoring.timeSeries.list");
    for (const role of ["roles/monitoring.viewer", "roles/viewer", "roles/editor", "roles/owner"])
      assert.ok(predefinedPermissions(role)?.has(METRICS_PERMISSION), role);
    assert.equal(rolesGranting(METRICS_PERMISSION)[0], "roles/monitoring.viewer");
    assert.ok(scopesAdmitting(METRICS_PERMISSION).includes(CLOUD));
    assert.ok(
      scopesAdmitting(METRICS_PERMISSION).includes("https://www.googleapis.com/auth/monitoring.read"),
    );
    assert.ok(
      !scopesAdmitting(METRICS_PERMISSION).includes("https://www.googleapis.com/auth/devstorage.read_only"),
    );
  });

  test("loopback addresses", () => {
    for (const a of ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"]) assert.ok(isLoopback(a), a);
    for (const a of [
      undefined,
      "",
      "10.0.0.1",
      "::ffff:10.0.0.1",
      "128.0.0.1",
      "::2",
      "fe80::1",
      "1270.0.0.1",
    ])
      assert.ok(!isLoopback(a), String(a));
  });

  test("by default a loopback scraper reads them without a credential", async () => {
    const r = await open.call("GET", "/metrics", { token: null });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    assert.match(r.text, /^# HELP warrant_http_requests_total /m);
  });

  test("requiring the permission: anonymous 401, no role 403, a project-level monitor 403, the org owner 200", async () => {
    const anon = await closed.call("GET", "/metrics", { token: null });
    assert.equal(anon.status, 401, anon.text);
    assert.doesNotMatch(anon.text, /warrant_/);

    const nobody = await tokenAs(closed, "user:nobody@example.com");
    const denied = await closed.call("GET", "/metrics", { token: nobody });
    assert.equal(denied.status, 403, denied.text);
    assert.match(denied.body.error.message, /monitoring\.timeSeries\.list on organizations\/\d+/);
    assert.doesNotMatch(denied.text, /warrant_http/);

    // roles/monitoring.viewer on a project does not reach the installation-wide metrics.
    const policy = await closed.call("POST", "/v1/projects/demo-project:getIamPolicy", { body: {} });
    policy.body.bindings.push({ role: "roles/monitoring.viewer", members: ["user:monitor@example.com"] });
    const monitor = await tokenAs(closed, "user:monitor@example.com");
    const set = await closed.call("POST", "/v1/projects/demo-project:setIamPolicy", {
      body: { policy: policy.body },
    });
    assert.equal(set.status, 200, set.text);
    assert.equal((await closed.call("GET", "/metrics", { token: monitor })).status, 403);

    const admin = await closed.call("GET", "/metrics");
    assert.equal(admin.status, 200, admin.text);
    assert.match(
      admin.text,
      /warrant_authz_denials_total\{permission="monitoring\.timeSeries\.list",reason="iam"\} 2/,
    );

    // Each scrape is audited with its check (audit.log is appended asynchronously: wait for the last).
    const entries = await eventually(
      "the four scrapes in audit.log",
      () =>
        readFileSync(join(closed.stateDir, "audit.log"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l))
          .filter((e) => e.kind === "request" && e.path === "/metrics"),
      (found) => found.length >= 4,
    );
    assert.deepEqual(
      entries.map((e) => e.status),
      [401, 403, 403, 200],
    );
    assert.ok(entries[3].checks.some((c: { permission: string; allowed: boolean }) => c.allowed));
  });

  test("a token whose scopes do not admit monitoring is refused even for the owner", async () => {
    const storageOnly = await tokenAs(closed, "user:admin@warrant.local", [
      "https://www.googleapis.com/auth/devstorage.read_only",
    ]);
    const r = await closed.call("GET", "/metrics", { token: storageOnly });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.errors[0].reason, "insufficientPermissions");
  });
});
