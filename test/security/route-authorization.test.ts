/**
 * Every route declares its authorization (src/server/http/route-authz.ts), and this test holds the
 * running server to the table over every route: for each declared permission it makes one
 * successful request as the administrator and finds, in audit.log, that the request checked the
 * declared permission(s). A route added without a request here fails the test, so a new route
 * cannot forget either its declaration (the router refuses it) or its check.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { NotFound } from "../../src/domain/errors.js";
import { batchHandler } from "../../src/server/api/compute/batch.js";
import type { Caller } from "../../src/server/http/context.js";
import { ROUTE_AUTHZ, type RouteAuthz } from "../../src/server/http/route-authz.js";
import { type Route, Router } from "../../src/server/http/router.js";
import { createHttpServer } from "../../src/server/http/server.js";
import { type Harness, type Reply, startHarness, tokenAs } from "../support/harness.js";

const P = "demo-project";
const Z = "us-central1-a";
const SA_ID = "route-walker";
const SA = `${SA_ID}@${P}.iam.gserviceaccount.com`;
const VM = "walk-vm";
const USER = "walker@example.com";

interface Step {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

interface AuditEntry {
  kind: string;
  method: string;
  path: string;
  status: number;
  checks?: { permission: string; allowed: boolean }[];
}

/** Per-run values later requests need (a key id, an operation name, an etag). */
const state: Record<string, string> = {};

/**
 * One request per non-exempt route, in an order that creates what later requests use and deletes it
 * last. The key is the route exactly as in the table; `then` keeps what a reply names.
 */
function plan(): [string, () => Step, ((r: Reply) => void)?][] {
  const sa = `/v1/projects/${P}/serviceAccounts/${SA}`;
  const creds = `/v1/projects/-/serviceAccounts/${SA}`;
  const inst = `/compute/v1/projects/${P}/zones/${Z}/instances`;
  const wip = `/v1/projects/${P}/locations/global/workloadIdentityPools`;
  const denyBase = `/v2/policies/cloudresourcemanager.googleapis.com%252Fprojects%252F${P}/denypolicies`;
  const op = (r: Reply) => {
    state.operation = r.body.name;
  };
  const steps: [string, () => Step, ((r: Reply) => void)?][] = [
    [
      "POST /v1/projects",
      () => ({ method: "POST", path: "/v1/projects", body: { projectId: "walk-project" } }),
    ],
    ["GET /v1/projects/{project}", () => ({ method: "GET", path: `/v1/projects/${P}` })],
    [
      "POST /v2/entries:list",
      () => ({ method: "POST", path: "/v2/entries:list", body: { resourceNames: [`projects/${P}`] } }),
    ],
    [
      "POST /v1/projects/{project}:getIamPolicy",
      () => ({ method: "POST", path: `/v1/projects/${P}:getIamPolicy`, body: {} }),
      (r) => {
        // Deny policies need roles/iam.denyAdmin (roles/owner has no iam.denypolicies.*), granted here.
        const policy = r.body;
        policy.bindings.push({ role: "roles/iam.denyAdmin", members: ["user:admin@warrant.local"] });
        state.projectPolicy = JSON.stringify(policy);
      },
    ],
    [
      "POST /v1/projects/{project}:setIamPolicy",
      () => ({
        method: "POST",
        path: `/v1/projects/${P}:setIamPolicy`,
        body: { policy: JSON.parse(state.projectPolicy!) },
      }),
    ],
    [
      "POST /v2/policies/{attachment}/denypolicies",
      () => ({
        method: "POST",
        path: `${denyBase}?policyId=walk-deny`,
        body: {
          displayName: "walk",
          rules: [
            {
              denyRule: {
                deniedPrincipals: ["principal://goog/subject/nobody@example.com"],
                deniedPermissions: ["storage.googleapis.com/buckets.delete"],
              },
            },
          ],
        },
      }),
      (r) => {
        state.denyOperation = r.body.name;
      },
    ],
    [
      "GET /v2/policies/{attachment}/denypolicies/{policy}/operations/{operation}",
      () => ({ method: "GET", path: `/v2/${state.denyOperation!.replaceAll("%2F", "%252F")}` }),
    ],
    [
      "GET /v2/policies/{attachment}/operations/{operation}",
      () => ({
        method: "GET",
        path: `${denyBase.replace(/\/denypolicies$/, "")}/operations/${state.denyOperation!.split("/").pop()}`,
      }),
    ],
    ["GET /v2/policies/{attachment}/denypolicies", () => ({ method: "GET", path: denyBase })],
    [
      "GET /v2/policies/{attachment}/denypolicies/{policy}",
      () => ({ method: "GET", path: `${denyBase}/walk-deny` }),
      (r) => {
        state.denyPolicy = JSON.stringify(r.body);
      },
    ],
    [
      "PUT /v2/policies/{attachment}/denypolicies/{policy}",
      () => ({ method: "PUT", path: `${denyBase}/walk-deny`, body: JSON.parse(state.denyPolicy!) }),
    ],
    [
      "DELETE /v2/policies/{attachment}/denypolicies/{policy}",
      () => ({ method: "DELETE", path: `${denyBase}/walk-deny` }),
    ],

    [
      "POST /v1/projects/{project}/serviceAccounts",
      () => ({
        method: "POST",
        path: `/v1/projects/${P}/serviceAccounts`,
        body: { accountId: SA_ID, serviceAccount: { displayName: "walker" } },
      }),
    ],
    [
      "GET /v1/projects/{project}/serviceAccounts",
      () => ({ method: "GET", path: `/v1/projects/${P}/serviceAccounts` }),
    ],
    [
      "GET /v1/projects/{project}/serviceAccounts/{account}",
      () => ({ method: "GET", path: sa }),
      (r) => {
        state.uniqueId = r.body.uniqueId;
      },
    ],
    [
      "PATCH /v1/projects/{project}/serviceAccounts/{account}",
      () => ({ method: "PATCH", path: sa, body: { serviceAccount: { displayName: "walked" } } }),
    ],
    [
      "POST /v1/projects/{project}/serviceAccounts/{account}:disable",
      () => ({ method: "POST", path: `${sa}:disable`, body: {} }),
    ],
    [
      "POST /v1/projects/{project}/serviceAccounts/{account}:enable",
      () => ({ method: "POST", path: `${sa}:enable`, body: {} }),
    ],
    [
      "POST /v1/projects/{project}/serviceAccounts/{account}:getIamPolicy",
      () => ({ method: "POST", path: `${sa}:getIamPolicy`, body: {} }),
    ],
    [
      // The administrator may then mint, sign and attach as the account.
      "POST /v1/projects/{project}/serviceAccounts/{account}:setIamPolicy",
      () => ({
        method: "POST",
        path: `${sa}:setIamPolicy`,
        body: {
          policy: {
            bindings: [
              { role: "roles/iam.serviceAccountTokenCreator", members: ["user:admin@warrant.local"] },
            ],
          },
        },
      }),
    ],
    [
      "POST /v1/projects/{project}/serviceAccounts/{account}/keys",
      () => ({ method: "POST", path: `${sa}/keys`, body: {} }),
      (r) => {
        state.key = (r.body.name as string).split("/").pop()!;
      },
    ],
    [
      "GET /v1/projects/{project}/serviceAccounts/{account}/keys",
      () => ({ method: "GET", path: `${sa}/keys` }),
    ],
    [
      "GET /v1/projects/{project}/serviceAccounts/{account}/keys/{key}",
      () => ({ method: "GET", path: `${sa}/keys/${state.key}` }),
    ],
    [
      "POST /v1/projects/{project}/serviceAccounts/{account}/keys/{key}:disable",
      () => ({ method: "POST", path: `${sa}/keys/${state.key}:disable`, body: {} }),
    ],
    [
      "POST /v1/projects/{project}/serviceAccounts/{account}/keys/{key}:enable",
      () => ({ method: "POST", path: `${sa}/keys/${state.key}:enable`, body: {} }),
    ],
    [
      "DELETE /v1/projects/{project}/serviceAccounts/{account}/keys/{key}",
      () => ({ method: "DELETE", path: `${sa}/keys/${state.key}` }),
    ],
    [
      "POST /v1/projects/{project}/serviceAccounts/{account}:generateAccessToken",
      () => ({
        method: "POST",
        path: `${creds}:generateAccessToken`,
        body: { scope: ["https://www.googleapis.com/auth/cloud-platform"] },
      }),
    ],
    [
      "POST /v1/projects/{project}/serviceAccounts/{account}:signBlob",
      () => ({
        method: "POST",
        path: `${creds}:signBlob`,
        body: { payload: Buffer.from("walk").toString("base64") },
      }),
    ],
    [
      "POST /v1/projects/{project}/serviceAccounts/{account}:signJwt",
      () => ({
        method: "POST",
        path: `${creds}:signJwt`,
        body: { payload: JSON.stringify({ sub: "walk", aud: "x" }) },
      }),
    ],
    [
      "POST /v1/projects/{project}/serviceAccounts/{account}:generateIdToken",
      () => ({
        method: "POST",
        path: `${creds}:generateIdToken`,
        body: { audience: "https://walk.example" },
      }),
    ],

    ["GET /v1/projects/{project}/roles", () => ({ method: "GET", path: `/v1/projects/${P}/roles` })],
    [
      "POST /v1/projects/{project}/roles",
      () => ({
        method: "POST",
        path: `/v1/projects/${P}/roles`,
        body: { roleId: "walkRole", role: { title: "Walk", includedPermissions: ["storage.objects.get"] } },
      }),
    ],
    [
      "GET /v1/projects/{project}/roles/{roleId}",
      () => ({ method: "GET", path: `/v1/projects/${P}/roles/walkRole` }),
    ],
    [
      "PATCH /v1/projects/{project}/roles/{roleId}",
      () => ({
        method: "PATCH",
        path: `/v1/projects/${P}/roles/walkRole?updateMask=title`,
        body: { title: "Walked" },
      }),
    ],
    [
      "DELETE /v1/projects/{project}/roles/{roleId}",
      () => ({ method: "DELETE", path: `/v1/projects/${P}/roles/walkRole` }),
    ],
    [
      "POST /v1/projects/{project}/roles/{roleId}:undelete",
      () => ({ method: "POST", path: `/v1/projects/${P}/roles/walkRole:undelete`, body: {} }),
    ],

    // Workload identity pools and providers (the project may be named by id or number).
    [
      "POST /v1/projects/{project}/locations/{location}/workloadIdentityPools",
      () => ({
        method: "POST",
        path: `${wip}?workloadIdentityPoolId=walk-pool`,
        body: { displayName: "Walk" },
      }),
      (r) => {
        state.poolOperation = r.body.name;
      },
    ],
    [
      "GET /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}/operations/{operation}",
      () => ({ method: "GET", path: `/v1/${state.poolOperation}` }),
    ],
    [
      "GET /v1/projects/{project}/locations/{location}/workloadIdentityPools",
      () => ({ method: "GET", path: wip }),
    ],
    [
      "GET /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}",
      () => ({ method: "GET", path: `${wip}/walk-pool` }),
    ],
    [
      "PATCH /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}",
      () => ({
        method: "PATCH",
        path: `${wip}/walk-pool?updateMask=displayName`,
        body: { displayName: "Walked" },
      }),
    ],
    [
      "POST /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}/providers",
      () => ({
        method: "POST",
        path: `${wip}/walk-pool/providers?workloadIdentityPoolProviderId=walk-prov`,
        body: {
          attributeMapping: { "google.subject": "assertion.sub" },
          oidc: {
            issuerUri: "https://issuer.walk.example",
            jwksJson: JSON.stringify({ keys: [{ kty: "RSA", kid: "k1", n: "sXch", e: "AQAB" }] }),
          },
        },
      }),
      (r) => {
        state.providerOperation = r.body.name;
      },
    ],
    [
      "GET /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}/providers/{provider}/operations/{operation}",
      () => ({ method: "GET", path: `/v1/${state.providerOperation}` }),
    ],
    [
      "GET /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}/providers",
      () => ({ method: "GET", path: `${wip}/walk-pool/providers` }),
    ],
    [
      "GET /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}/providers/{provider}",
      () => ({ method: "GET", path: `${wip}/walk-pool/providers/walk-prov` }),
    ],
    [
      "PATCH /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}/providers/{provider}",
      () => ({
        method: "PATCH",
        path: `${wip}/walk-pool/providers/walk-prov?updateMask=oidc.allowedAudiences`,
        body: { oidc: { allowedAudiences: ["walk"] } },
      }),
    ],
    [
      "DELETE /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}/providers/{provider}",
      () => ({ method: "DELETE", path: `${wip}/walk-pool/providers/walk-prov` }),
    ],
    [
      "POST /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}/providers/{provider}:undelete",
      () => ({ method: "POST", path: `${wip}/walk-pool/providers/walk-prov:undelete`, body: {} }),
    ],
    [
      "DELETE /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}",
      () => ({ method: "DELETE", path: `${wip}/walk-pool` }),
    ],
    [
      "POST /v1/projects/{project}/locations/{location}/workloadIdentityPools/{pool}:undelete",
      () => ({ method: "POST", path: `${wip}/walk-pool:undelete`, body: {} }),
    ],

    ["GET /warrant/v1/signingKeys", () => ({ method: "GET", path: "/warrant/v1/signingKeys" })],
    [
      "POST /warrant/v1/signingKeys:rotate",
      () => ({ method: "POST", path: "/warrant/v1/signingKeys:rotate", body: {} }),
    ],
    ["POST /warrant/v1/users", () => ({ method: "POST", path: "/warrant/v1/users", body: { email: USER } })],
    ["GET /warrant/v1/users", () => ({ method: "GET", path: "/warrant/v1/users" })],
    ["GET /warrant/v1/users/{user}", () => ({ method: "GET", path: `/warrant/v1/users/${USER}` })],
    [
      "POST /warrant/v1/users/{user}:disable",
      () => ({ method: "POST", path: `/warrant/v1/users/${USER}:disable`, body: {} }),
    ],
    [
      "POST /warrant/v1/users/{user}:enable",
      () => ({ method: "POST", path: `/warrant/v1/users/${USER}:enable`, body: {} }),
    ],
    [
      "POST /warrant/v1/users/{user}:issueCredential",
      () => ({ method: "POST", path: `/warrant/v1/users/${USER}:issueCredential`, body: {} }),
    ],
    [
      "POST /warrant/v1/users/{user}:setPassword",
      () => ({
        method: "POST",
        path: `/warrant/v1/users/${USER}:setPassword`,
        body: { password: "route walk password" },
      }),
    ],
    ["DELETE /warrant/v1/users/{user}", () => ({ method: "DELETE", path: `/warrant/v1/users/${USER}` })],
    [
      "POST /warrant/v1/groups",
      () => ({ method: "POST", path: "/warrant/v1/groups", body: { email: "walk-group@example.com" } }),
    ],
    ["GET /warrant/v1/groups", () => ({ method: "GET", path: "/warrant/v1/groups" })],
    [
      "GET /warrant/v1/groups/{group}",
      () => ({ method: "GET", path: "/warrant/v1/groups/walk-group@example.com" }),
    ],
    [
      "POST /warrant/v1/groups/{group}:addMember",
      () => ({
        method: "POST",
        path: "/warrant/v1/groups/walk-group@example.com:addMember",
        body: { member: "user:walker@example.com" },
      }),
    ],
    [
      "POST /warrant/v1/groups/{group}:removeMember",
      () => ({
        method: "POST",
        path: "/warrant/v1/groups/walk-group@example.com:removeMember",
        body: { member: "user:walker@example.com" },
      }),
    ],
    [
      "DELETE /warrant/v1/groups/{group}",
      () => ({ method: "DELETE", path: "/warrant/v1/groups/walk-group@example.com" }),
    ],

    [
      "GET /compute/v1/projects/{project}/zones",
      () => ({ method: "GET", path: `/compute/v1/projects/${P}/zones` }),
    ],
    [
      "GET /compute/v1/projects/{project}/zones/{zone}",
      () => ({ method: "GET", path: `/compute/v1/projects/${P}/zones/${Z}` }),
    ],
    [
      "POST /compute/v1/projects/{project}/zones/{zone}/instances",
      () => ({
        method: "POST",
        path: inst,
        body: {
          name: VM,
          machineType: `zones/${Z}/machineTypes/e2-small`,
          serviceAccounts: [{ email: SA, scopes: ["https://www.googleapis.com/auth/cloud-platform"] }],
        },
      }),
      op,
    ],
    ["GET /compute/v1/projects/{project}/zones/{zone}/instances", () => ({ method: "GET", path: inst })],
    [
      "GET /compute/v1/projects/{project}/aggregated/instances",
      () => ({ method: "GET", path: `/compute/v1/projects/${P}/aggregated/instances` }),
    ],
    [
      "GET /compute/v1/projects/{project}/zones/{zone}/instances/{instance}",
      () => ({ method: "GET", path: `${inst}/${VM}` }),
      (r) => {
        state.fingerprint = r.body.metadata.fingerprint;
      },
    ],
    [
      "GET /compute/v1/projects/{project}/zones/{zone}/operations/{operation}",
      () => ({ method: "GET", path: `/compute/v1/projects/${P}/zones/${Z}/operations/${state.operation}` }),
    ],
    [
      "POST /compute/v1/projects/{project}/zones/{zone}/operations/{operation}/wait",
      () => ({
        method: "POST",
        path: `/compute/v1/projects/${P}/zones/${Z}/operations/${state.operation}/wait`,
        body: {},
      }),
    ],
    [
      "POST /compute/v1/projects/{project}/zones/{zone}/instances/{instance}/setMetadata",
      () => ({
        method: "POST",
        path: `${inst}/${VM}/setMetadata`,
        body: { fingerprint: state.fingerprint, items: [{ key: "walk", value: "1" }] },
      }),
    ],
    [
      "POST /warrant/v1/projects/{project}/zones/{zone}/instances/{instance}:issueEnrollmentToken",
      () => ({
        method: "POST",
        path: `/warrant/v1/projects/${P}/zones/${Z}/instances/${VM}:issueEnrollmentToken`,
        body: {},
      }),
    ],
    [
      "POST /warrant/v1/projects/{project}/zones/{zone}/instances/{instance}:resetAgent",
      () => ({
        method: "POST",
        path: `/warrant/v1/projects/${P}/zones/${Z}/instances/${VM}:resetAgent`,
        body: {},
      }),
    ],
    [
      "POST /compute/v1/projects/{project}/zones/{zone}/instances/{instance}/stop",
      () => ({ method: "POST", path: `${inst}/${VM}/stop`, body: {} }),
    ],
    [
      "POST /compute/v1/projects/{project}/zones/{zone}/instances/{instance}/setServiceAccount",
      () => ({
        method: "POST",
        path: `${inst}/${VM}/setServiceAccount`,
        body: { email: SA, scopes: ["https://www.googleapis.com/auth/devstorage.read_only"] },
      }),
    ],
    [
      "POST /compute/v1/projects/{project}/zones/{zone}/instances/{instance}/start",
      () => ({ method: "POST", path: `${inst}/${VM}/start`, body: {} }),
    ],
    [
      "DELETE /compute/v1/projects/{project}/zones/{zone}/instances/{instance}",
      () => ({ method: "DELETE", path: `${inst}/${VM}` }),
    ],
    // Last of the IAM steps: the instance above was attached to the account.
    ["DELETE /v1/projects/{project}/serviceAccounts/{account}", () => ({ method: "DELETE", path: sa })],
    [
      "POST /v1/projects/{project}/serviceAccounts/{account}:undelete",
      () => ({ method: "POST", path: `/v1/projects/-/serviceAccounts/${state.uniqueId}:undelete`, body: {} }),
    ],
  ];

  for (const [base, bucket] of [
    ["/storage/v1", "walk-bucket-json"],
    ["", "walk-bucket-bare"],
  ] as const) {
    const b = `${base}/b/${bucket}`;
    const o = `${b}/o/walk.txt`;
    const media = base === "/storage/v1" ? "/upload/storage/v1" : "/resumable/upload/storage/v1";
    const upload = (name: string) => `${media}/b/${bucket}/o?uploadType=media&name=${name}`;
    steps.push(
      [`POST ${base}/b`, () => ({ method: "POST", path: `${base}/b?project=${P}`, body: { name: bucket } })],
      [`GET ${base}/b`, () => ({ method: "GET", path: `${base}/b?project=${P}` })],
      [`GET ${base}/b/{bucket}`, () => ({ method: "GET", path: b })],
      [`PATCH ${base}/b/{bucket}`, () => ({ method: "PATCH", path: b, body: { labels: { walk: "yes" } } })],
      [
        `GET ${base}/b/{bucket}/iam`,
        () => ({ method: "GET", path: `${b}/iam` }),
        (r) => {
          state.bucketPolicy = JSON.stringify({ bindings: r.body.bindings, etag: r.body.etag });
        },
      ],
      [
        `PUT ${base}/b/{bucket}/iam`,
        () => ({ method: "PUT", path: `${b}/iam`, body: JSON.parse(state.bucketPolicy!) }),
      ],
      [
        `POST ${media}/b/{bucket}/o`,
        () => ({
          method: "POST",
          path: upload("walk.txt"),
          body: "walk",
          headers: { "content-type": "text/plain" },
        }),
      ],
      [`GET ${base}/b/{bucket}/o`, () => ({ method: "GET", path: `${b}/o` })],
      [`GET ${base}/b/{bucket}/o/{object}`, () => ({ method: "GET", path: `${o}?alt=media` })],
      [
        `PATCH ${base}/b/{bucket}/o/{object}`,
        () => ({ method: "PATCH", path: o, body: { metadata: { a: "1" } } }),
      ],
      [
        `PUT ${base}/b/{bucket}/o/{object}`,
        () => ({ method: "PUT", path: o, body: { contentType: "text/plain" } }),
      ],
      [
        `POST ${base}/b/{bucket}/o/{object}/copyTo/b/{destinationBucket}/o/{destinationObject}`,
        () => ({ method: "POST", path: `${o}/copyTo/b/${bucket}/o/copy.txt`, body: {} }),
      ],
      [
        `POST ${base}/b/{bucket}/o/{object}/rewriteTo/b/{destinationBucket}/o/{destinationObject}`,
        () => ({ method: "POST", path: `${o}/rewriteTo/b/${bucket}/o/rewrite.txt`, body: {} }),
      ],
      [
        `POST ${base}/b/{bucket}/o/{object}/compose`,
        () => ({
          method: "POST",
          path: `${b}/o/composed.txt/compose`,
          body: { sourceObjects: [{ name: "walk.txt" }, { name: "copy.txt" }] },
        }),
      ],
    );
    if (base === "")
      steps.push([
        "GET /download/storage/v1/b/{bucket}/o/{object}",
        () => ({ method: "GET", path: `/download/storage/v1/b/${bucket}/o/walk.txt?alt=media` }),
      ]);
    for (const name of ["walk.txt", "copy.txt", "rewrite.txt", "composed.txt"])
      steps.push([
        `DELETE ${base}/b/{bucket}/o/{object}`,
        () => ({ method: "DELETE", path: `${b}/o/${name}` }),
      ]);
    steps.push([`DELETE ${base}/b/{bucket}`, () => ({ method: "DELETE", path: b })]);
  }
  return steps;
}

function required(authz: RouteAuthz): string[] {
  if (!("permission" in authz)) return [];
  return typeof authz.permission === "string" ? [authz.permission] : [...authz.permission];
}

describe("route authorization: every route declares it, every request is held to it", () => {
  let h: Harness;
  let routes: readonly Route[];
  const key = (r: Pick<Route, "method" | "path">) => `${r.method} ${r.path}`;

  before(async () => {
    h = await startHarness({ agents: false, keyRotation: { publishLeadSeconds: 0 } });
    routes = h.server.routes();
  });
  after(async () => h.close());

  test("the table declares exactly the registered routes: none missing, none stale", () => {
    const registered = new Set(routes.map(key));
    const stale = Object.keys(ROUTE_AUTHZ).filter((k) => !registered.has(k));
    assert.deepEqual(stale, [], "declarations without a route: remove them from route-authz.ts");
    for (const r of routes) assert.equal(r.authz, ROUTE_AUTHZ[key(r)], `${key(r)} carries its declaration`);
    assert.ok(routes.length >= 100, `all the APIs are registered (${routes.length} routes)`);
  });

  test("every exemption says why, and a route that reads no credential is exempt", () => {
    for (const r of routes) {
      if ("exempt" in r.authz) assert.ok(r.authz.exempt.length >= 40, `${key(r)}: a specific reason`);
      if (r.auth === "none") assert.ok("exempt" in r.authz, `${key(r)} reads no credential`);
    }
  });

  test("an undeclared route cannot be registered", () => {
    assert.throws(
      () => new Router().add("GET", "/v1/projects/{project}/secrets", async () => ({})),
      /declares no authorization.*route-authz\.ts/,
    );
    // auth "none" on a route that declares a permission: there would be no principal to check it for.
    assert.throws(
      () => new Router().add("GET", "/v1/projects/{project}", async () => ({}), "none"),
      /must be declared exempt/,
    );
  });

  test("each route with a permission: a successful request checks it (audit.log)", async () => {
    const steps = plan();
    const planned = new Set(steps.map(([k]) => k));
    const unplanned = routes.filter((r) => "permission" in r.authz && !planned.has(key(r))).map(key);
    assert.deepEqual(unplanned, [], "routes without a request in this test's plan: add one");
    for (const k of planned) assert.ok(ROUTE_AUTHZ[k], `planned ${k} is a declared route`);

    const audit = join(h.stateDir, "audit.log");
    let seen = 0;
    for (const [k, step, then] of steps) {
      const s = step();
      const r = await h.call(s.method, s.path, {
        ...(s.body !== undefined ? { body: s.body } : {}),
        ...(s.headers ? { headers: s.headers } : {}),
      });
      assert.ok(r.status >= 200 && r.status < 400, `${k}: ${s.method} ${s.path} → ${r.status} ${r.text}`);
      then?.(r);
      const path = new URL(s.path, "http://x").pathname;
      // The adapter appends the entry as the response finishes; poll for it.
      const deadline = Date.now() + 5000;
      let entry: AuditEntry | undefined;
      for (;;) {
        const lines = readFileSync(audit, "utf8").trim().split("\n").slice(seen);
        const i = lines.findIndex((l) => {
          const e = JSON.parse(l) as AuditEntry;
          return e.kind === "request" && e.method === s.method && e.path === path;
        });
        if (i >= 0) {
          entry = JSON.parse(lines[i]!) as AuditEntry;
          seen += i + 1;
          break;
        }
        assert.ok(Date.now() < deadline, `${k}: no audit entry for ${s.method} ${path}`);
        await new Promise((ok) => setTimeout(ok, 20));
      }
      assert.equal(entry.status, r.status);
      const made = new Set((entry.checks ?? []).filter((c) => c.allowed).map((c) => c.permission));
      for (const p of required(ROUTE_AUTHZ[k]!))
        assert.ok(made.has(p), `${k} checked ${p}: ${JSON.stringify(entry.checks)}`);
    }
  });

  test("a filtered list checks per item: a caller with no role sees an empty page, the admin sees projects", async () => {
    const filtered = routes.filter((r) => "filters" in r.authz).map(key);
    assert.deepEqual(
      filtered.sort(),
      ["GET /v1/projects", "POST /v1/iam:troubleshoot", "POST /v2alpha1/iam:troubleshoot"],
      "the filtered routes; give any new one a case here",
    );
    const nobody = await tokenAs(h, "user:nobody@example.com");
    const none = await h.call("GET", "/v1/projects", { token: nobody });
    assert.equal(none.status, 200, none.text);
    assert.deepEqual(none.body.projects, []);
    const all = await h.call("GET", "/v1/projects");
    assert.ok(all.body.projects.some((p: { projectId: string }) => p.projectId === P));
    // The troubleshooter shows each policy only to a caller who may read it (test/api/policy-troubleshooter).
    for (const v of ["v1", "v2alpha1"]) {
      const accessTuple = {
        principal: "admin@warrant.local",
        fullResourceName: `//cloudresourcemanager.googleapis.com/projects/${P}`,
        permission: "resourcemanager.projects.get",
      };
      const hidden = await h.call("POST", `/${v}/iam:troubleshoot`, { token: nobody, body: { accessTuple } });
      assert.equal(hidden.status, 200, hidden.text);
      assert.equal(hidden.body.access, "UNKNOWN_INFO_DENIED");
      assert.doesNotMatch(hidden.text, /bindings|roles\//);
      const shown = await h.call("POST", `/${v}/iam:troubleshoot`, { body: { accessTuple } });
      assert.equal(shown.body.access, "GRANTED", shown.text);
    }
  });

  test("batch parts that check their route's permission succeed", async () => {
    const part = (id: number, target: string) =>
      `--b\r\nContent-Type: application/http\r\nContent-ID: <${id}>\r\n\r\nGET ${target} HTTP/1.1\r\n\r\n`;
    const r = await h.call("POST", "/batch/compute/v1", {
      body: `${part(1, `/compute/v1/projects/${P}/zones`)}${part(2, `/compute/v1/projects/${P}/zones/${Z}/instances`)}--b--\r\n`,
      headers: { "content-type": "multipart/mixed; boundary=b" },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal((r.text.match(/HTTP\/1\.1 200 OK/g) ?? []).length, 2, r.text);
  });
});

/**
 * The adapter's side, against a real HTTP server whose routes are declared but whose handlers
 * forget to check: the answer is 500 and nothing the handler produced leaves, logged once.
 */
describe("route authorization: a handler that forgets its check fails closed", () => {
  const admin = { principal: { kind: "user", email: "admin@warrant.local" } } as unknown as Caller;

  async function serve(router: Router, enforcement = "enforce") {
    const logs: string[] = [];
    const audit: Record<string, unknown>[] = [];
    const server = createHttpServer({
      router,
      authenticator: { authenticate: async () => admin },
      audit: { record: (e) => audit.push(e) },
      log: (l) => logs.push(l),
      enforcement,
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      url,
      logs,
      audit,
      close: () => new Promise<void>((ok) => server.close(() => ok())),
    };
  }

  test("a JSON answer and a streamed one both become 500; the bytes never leave", async () => {
    const router = new Router()
      .add("GET", "/v1/projects/{project}", async () => ({ secret: "leaked-project" }))
      .add(
        "GET",
        "/download/storage/v1/b/{bucket}/o/{object}",
        async (ctx) => {
          ctx.res.writeHead(200, { "Content-Type": "application/octet-stream" });
          ctx.res.end("leaked-bytes");
          return undefined;
        },
        "optional",
      );
    const s = await serve(router);
    try {
      for (const path of ["/v1/projects/p", "/download/storage/v1/b/b/o/o"]) {
        const r = await fetch(`${s.url}${path}`);
        const text = await r.text();
        assert.equal(r.status, 500, text);
        assert.doesNotMatch(text, /leaked/);
        assert.equal(JSON.parse(text).error.status, "INTERNAL");
      }
      assert.equal(s.logs.filter((l) => l.startsWith("authorization:")).length, 2, s.logs.join("\n"));
      assert.match(
        s.logs[0]!,
        /GET \/v1\/projects\/\{project\} .*without checking resourcemanager\.projects\.get/,
      );
      assert.deepEqual(
        s.audit.map((e) => e.status),
        [500, 500],
      );
    } finally {
      await s.close();
    }
  });

  test("the check made, or a failed request, or enforcement off: no interference", async () => {
    const router = new Router()
      .add("GET", "/v1/projects/{project}", async (ctx) => {
        ctx.checks.push({
          permission: "resourcemanager.projects.get",
          resource: "projects/p",
          allowed: true,
        });
        return { ok: true };
      })
      .add("GET", "/v1/projects/{project}/serviceAccounts", async () => {
        throw new NotFound("nothing here");
      });
    const s = await serve(router);
    const off = await serve(
      new Router().add("GET", "/v1/projects/{project}", async () => ({ ok: true })),
      "off",
    );
    try {
      assert.equal((await fetch(`${s.url}/v1/projects/p`)).status, 200);
      assert.equal((await fetch(`${s.url}/v1/projects/p/serviceAccounts`)).status, 404);
      assert.equal((await fetch(`${off.url}/v1/projects/p`)).status, 200, "enforcement off checks nothing");
      assert.deepEqual(s.logs, []);
    } finally {
      await s.close();
      await off.close();
    }
  });

  test("a batch part whose handler forgets its check answers 500 inside the batch", async () => {
    const compute = new Router().add("GET", "/compute/v1/projects/{project}/zones", async () => ({
      items: ["leaked-zone"],
    }));
    const router = new Router().add(
      "POST",
      "/batch/compute/v1",
      batchHandler(
        compute,
        () => {},
        () => "enforce",
      ),
    );
    const s = await serve(router);
    try {
      const r = await fetch(`${s.url}/batch/compute/v1`, {
        method: "POST",
        headers: { "content-type": "multipart/mixed; boundary=b" },
        body: "--b\r\nContent-Type: application/http\r\n\r\nGET /compute/v1/projects/p/zones HTTP/1.1\r\n\r\n--b--\r\n",
      });
      const text = await r.text();
      assert.equal(r.status, 200);
      assert.match(text, /HTTP\/1\.1 500/);
      assert.doesNotMatch(text, /leaked/);
    } finally {
      await s.close();
    }
  });
});
