/**
 * Cloud Logging `POST /v2/entries:list` over the audit log: Cloud Audit Logs entries, the filter
 * subset, order and pages, entries listed under their project only, and Google's split between
 * Admin Activity (logging.logEntries.list) and Data Access (logging.privateLogEntries.list). Also
 * the console's must-show: a denied call's request id finds its audit entry, and the
 * troubleshooter explains the same denial.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";

const P = "demo-project";
const OTHER = "logs-other-project";
const ACTIVITY = `projects/${P}/logs/cloudaudit.googleapis.com%2Factivity`;
const DATA_ACCESS = `projects/${P}/logs/cloudaudit.googleapis.com%2Fdata_access`;

interface Entry {
  logName: string;
  insertId: string;
  timestamp: string;
  severity: string;
  operation?: { id: string };
  protoPayload: {
    "@type": string;
    status: { code?: number; message?: string };
    authenticationInfo: { principalEmail?: string };
    methodName: string;
    serviceName: string;
    resourceName?: string;
    authorizationInfo?: { permission: string; granted: boolean; resource: string; reason?: string }[];
  };
}

async function grant(h: Harness, role: string, member: string, project = P) {
  const got = await h.call("POST", `/v1/projects/${project}:getIamPolicy`, { body: {} });
  const policy = got.body;
  policy.bindings.push({ role, members: [member] });
  const set = await h.call("POST", `/v1/projects/${project}:setIamPolicy`, { body: { policy } });
  assert.equal(set.status, 200, set.text);
}

describe("Cloud Logging entries:list over the audit log", () => {
  let h: Harness;
  let bob: string;
  const DENIED_ID = "console-must-show-1";
  const list = async (body: Record<string, unknown>, token?: string) => {
    const r = await h.call("POST", "/v2/entries:list", { body, ...(token ? { token } : {}) });
    return r;
  };
  const entries = async (filter: string, extra: Record<string, unknown> = {}, token?: string) => {
    const r = await list({ resourceNames: [`projects/${P}`], filter, pageSize: 1000, ...extra }, token);
    assert.equal(r.status, 200, r.text);
    return r.body.entries as Entry[];
  };

  before(async () => {
    h = await startHarness({ agents: false });
    bob = await tokenAs(h, "user:bob@example.com");
    assert.equal((await h.call("GET", `/v1/projects/${P}`)).status, 200);
    assert.equal(
      (await h.call("POST", `/v1/projects/${P}/serviceAccounts`, { body: { accountId: "logged-sa" } }))
        .status,
      200,
    );
    const denied = await h.call("POST", `/v1/projects/${P}:setIamPolicy`, {
      token: bob,
      body: { policy: { bindings: [] } },
      headers: { "x-request-id": DENIED_ID },
    });
    assert.equal(denied.status, 403, denied.text);
    assert.equal((await h.call("POST", "/v1/projects", { body: { projectId: OTHER } })).status, 200);
    assert.equal((await h.call("GET", `/v1/projects/${OTHER}`)).status, 200);
  });
  after(async () => h.close());

  it("a denied call's request id finds its entry, in Cloud Audit Logs shape; the troubleshooter explains it", async () => {
    const found = await entries(`operation.id="${DENIED_ID}"`);
    assert.equal(found.length, 1, JSON.stringify(found));
    const e = found[0]!;
    assert.equal(e.logName, ACTIVITY, "setIamPolicy is an admin write");
    assert.equal(e.severity, "ERROR");
    assert.equal(e.operation?.id, DENIED_ID);
    assert.equal(e.protoPayload["@type"], "type.googleapis.com/google.cloud.audit.AuditLog");
    assert.equal(e.protoPayload.authenticationInfo.principalEmail, "bob@example.com");
    assert.equal(e.protoPayload.status.code, 7);
    assert.match(e.protoPayload.status.message!, /resourcemanager\.projects\.setIamPolicy/);
    assert.equal(e.protoPayload.serviceName, "cloudresourcemanager.googleapis.com");
    assert.equal(e.protoPayload.methodName, "POST /v1/projects/{project}:setIamPolicy");
    assert.deepEqual(
      e.protoPayload.authorizationInfo?.map(({ permission, granted, resource }) => ({
        permission,
        granted,
        resource,
      })),
      [{ permission: "resourcemanager.projects.setIamPolicy", granted: false, resource: `projects/${P}` }],
    );
    assert.match(
      e.protoPayload.authorizationInfo![0]!.reason!,
      /does not have resourcemanager\.projects\.setIamPolicy/,
    );

    const why = await h.call("POST", "/v1/iam:troubleshoot", {
      body: {
        accessTuple: {
          principal: e.protoPayload.authenticationInfo.principalEmail,
          fullResourceName: `//cloudresourcemanager.googleapis.com/${e.protoPayload.authorizationInfo![0]!.resource}`,
          permission: e.protoPayload.authorizationInfo![0]!.permission,
        },
      },
    });
    assert.equal(why.status, 200, why.text);
    assert.equal(why.body.access, "NOT_GRANTED");
    assert.equal(why.body.explanation.reason, e.protoPayload.authorizationInfo![0]!.reason);
  });

  it("filters: principal, permission, result, severity, logName, time, joined by AND, a space or gcloud's parentheses", async () => {
    // Every list call is audited too: bound the log to what was there when the test began.
    const end = new Date(Date.now() + 1).toISOString();
    const all = await entries(`timestamp<"${end}"`);
    assert.ok(all.length >= 4, JSON.stringify(all.map((e) => e.protoPayload.methodName)));
    const byBob = await entries('protoPayload.authenticationInfo.principalEmail="bob@example.com"');
    assert.ok(byBob.length >= 1);
    assert.ok(byBob.every((e) => e.protoPayload.authenticationInfo.principalEmail === "bob@example.com"));
    const refused = await entries("protoPayload.authorizationInfo.granted=false");
    assert.deepEqual(
      refused.map((e) => e.operation?.id),
      [DENIED_ID],
    );
    const creates = await entries('protoPayload.authorizationInfo.permission="iam.serviceAccounts.create"');
    assert.equal(creates.length, 1);
    assert.equal(creates[0]!.logName, ACTIVITY);
    assert.equal(creates[0]!.severity, "NOTICE");
    const errors = await entries("severity>=ERROR");
    assert.ok(errors.length >= 1 && errors.every((e) => e.severity === "ERROR"));
    const reads = await entries(`logName="${DATA_ACCESS}"`);
    assert.ok(reads.length >= 1 && reads.every((e) => e.logName === DATA_ACCESS));
    assert.ok(reads.some((e) => e.protoPayload.methodName === "GET /v1/projects/{project}"));
    const t = creates[0]!.timestamp;
    const since = await entries(`timestamp>="${t}" timestamp<"${end}"`);
    assert.ok(since.every((e) => e.timestamp >= t));
    assert.ok(since.some((e) => e.operation?.id === DENIED_ID));
    const until = await entries(`timestamp<"${t}"`);
    assert.ok(until.every((e) => e.timestamp < t));
    assert.equal(since.length + until.length, all.length, "the two time ranges split the log");
    const joined = await entries(
      `(timestamp>="${t}") AND (protoPayload.authenticationInfo.principalEmail="bob@example.com" severity>=ERROR)`,
    );
    assert.deepEqual(
      joined.map((e) => e.operation?.id),
      [DENIED_ID],
    );
  });

  it("order and pages: newest or oldest first, every entry once across pages", async () => {
    const end = new Date(Date.now() + 1).toISOString();
    const bounded = `timestamp<"${end}"`;
    const asc = await entries(bounded);
    const desc = await entries(bounded, { orderBy: "timestamp desc" });
    assert.deepEqual(
      desc.map((e) => e.insertId),
      asc.map((e) => e.insertId).reverse(),
    );
    for (const orderBy of ["timestamp asc", "timestamp desc"]) {
      const seen: string[] = [];
      let pageToken: string | undefined;
      for (let i = 0; i < 50; i++) {
        const r = await list({
          resourceNames: [`projects/${P}`],
          filter: bounded,
          orderBy,
          pageSize: 2,
          ...(pageToken ? { pageToken } : {}),
        });
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.entries.length <= 2);
        seen.push(...r.body.entries.map((e: Entry) => e.insertId));
        pageToken = r.body.nextPageToken;
        if (!pageToken) break;
      }
      const whole = orderBy === "timestamp asc" ? asc : desc;
      assert.deepEqual(
        seen,
        whole.map((e) => e.insertId),
        orderBy,
      );
    }
    const other = await list({
      resourceNames: [`projects/${P}`],
      filter: "severity>=ERROR",
      pageSize: 1,
      pageToken: (await list({ resourceNames: [`projects/${P}`], pageSize: 1 })).body.nextPageToken,
    });
    assert.equal(other.status, 400, other.text);
    assert.match(other.body.error.message, /pageToken belongs to a request with other/);
  });

  it("an entry is listed under its project only", async () => {
    const here = await entries("");
    assert.ok(here.every((e) => e.logName.startsWith(`projects/${P}/logs/`)));
    assert.ok(!here.some((e) => e.protoPayload.resourceName === `projects/${OTHER}`));
    const r = await list({ resourceNames: [`projects/${OTHER}`] });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.entries.length >= 1);
    assert.ok(r.body.entries.every((e: Entry) => e.logName.startsWith(`projects/${OTHER}/logs/`)));
  });

  it("authorization: logging.logEntries.list for Admin Activity, logging.privateLogEntries.list for Data Access", async () => {
    const carol = await tokenAs(h, "user:carol@example.com");
    const none = await list({ resourceNames: [`projects/${P}`] }, carol);
    assert.equal(none.status, 403, none.text);
    assert.match(none.body.error.message, /logging\.logEntries\.list/);

    await grant(h, "roles/logging.viewer", "user:carol@example.com");
    const viewer = await entries("", {}, carol);
    assert.ok(viewer.length >= 1);
    assert.ok(
      viewer.every((e) => e.logName === ACTIVITY),
      "no Data Access entries without the private permission",
    );
    const asked = await list({ resourceNames: [`projects/${P}`], filter: `logName="${DATA_ACCESS}"` }, carol);
    assert.equal(asked.status, 403, asked.text);
    assert.match(asked.body.error.message, /logging\.privateLogEntries\.list/);
    const elsewhere = await list({ resourceNames: [`projects/${OTHER}`] }, carol);
    assert.equal(elsewhere.status, 403, "a role on one project reads nothing of another");

    await grant(h, "roles/logging.privateLogViewer", "user:carol@example.com");
    const priv = await entries(`logName="${DATA_ACCESS}"`, {}, carol);
    assert.ok(priv.length >= 1 && priv.every((e) => e.logName === DATA_ACCESS));
  });

  it("bad requests: 400 INVALID_ARGUMENT with a clear message", async () => {
    const bad = async (body: Record<string, unknown>, pattern: RegExp) => {
      const r = await list(body);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.error.status, "INVALID_ARGUMENT");
      assert.match(r.body.error.message, pattern);
    };
    const rn = { resourceNames: [`projects/${P}`] };
    await bad({}, /resourceNames is required/);
    await bad({ resourceNames: ["folders/1"] }, /not projects\/PROJECT or organizations\/ORG/);
    await bad({ ...rn, filter: 'textPayload:"x"' }, /Invalid filter: Unsupported field 'textPayload'/);
    await bad({ ...rn, filter: "hello" }, /Invalid filter: .*global restrictions/);
    await bad({ ...rn, filter: 'timestamp>="yesterday"' }, /not an RFC 3339 timestamp/);
    await bad({ ...rn, filter: "severity>=LOUD" }, /not a severity/);
    await bad({ ...rn, filter: "(severity>=ERROR" }, /Missing '\)'/);
    await bad({ ...rn, filter: 'operation.id=~"x"' }, /Regular-expression comparisons/);
    await bad({ ...rn, orderBy: "severity" }, /orderBy must be/);
    await bad({ ...rn, pageSize: -1 }, /pageSize must be a positive integer/);
    await bad({ ...rn, pageToken: "garbage" }, /pageToken is not one this API returned/);
  });
});
