/**
 * Every route's authorization, declared in one table: the permission its handler checks, or why it
 * checks none. `Router.add` refuses a route that is not declared here, and the HTTP adapter holds
 * each request to its route's declaration (`declaredAuthorizationGuard`): a route that answers
 * 2xx/3xx without having checked its declared permission answers 500 instead, so a handler that
 * forgot to authorize never hands out data. `test/security/route-authorization.test.ts` makes a
 * successful request to every declared route and checks the audit log saw the permission.
 *
 * The keys are exactly the `METHOD path-template` strings the API modules pass to `router.add`.
 */
import { Internal } from "../../domain/errors.js";
import { memberOf } from "../../domain/iam/principal.js";
import type { AuthzCheck, RequestContext } from "./context.js";
import type { AuthMode, Method } from "./router.js";

export type RouteAuthz =
  | {
      /** Checked on every successful request; with a list, every one of them is. */
      permission: string | readonly string[];
      /** Also checked on some requests only (e.g. `actAs` when an account is attached); documentation. */
      conditional?: readonly string[];
    }
  | {
      /** A list that shows each item only if the caller holds this permission on it (or, for the
       *  Policy Troubleshooter, each policy only if the caller may read it: the rule in words). An
       *  empty page is a legitimate answer that needed no check, so the adapter requires none. */
      filters: string;
    }
  | { /** Why the route checks no IAM permission; specific, not "public". */ exempt: string };

const storageBases = ["/storage/v1", ""] as const;
const uploadPaths = ["/upload/storage/v1/b/{bucket}/o", "/resumable/upload/storage/v1/b/{bucket}/o"];
const sa = "/v1/projects/{project}/serviceAccounts/{account}";
const key = `${sa}/keys/{key}`;
const role = "/v1/projects/{project}/roles/{roleId}";
const instances = "/compute/v1/projects/{project}/zones/{zone}/instances";
const instance = `${instances}/{instance}`;
const operation = "/compute/v1/projects/{project}/zones/{zone}/operations/{operation}";
/** Administering the installation: roles/owner on the organization (the bootstrap administrator). */
const ORG_ADMIN = "resourcemanager.projects.setIamPolicy";
/** Reading the user directory: whoever may read the organization's project policies sees every member already. */
const ORG_READ = "resourcemanager.projects.getIamPolicy";

const TOKEN_ENDPOINT =
  "OAuth token endpoint: the request's own credential (client secret with refresh token, or a signed service-account assertion) is verified by the grant; its outcome is audited as a token event.";
const REVOKE =
  "RFC 7009 revocation: possession of the token being revoked is the authority to revoke it; no other credential is read.";
const TOKENINFO =
  "Introspects the token passed in the request and answers only about that token (Google's tokeninfo needs no other credential).";
const CERTS =
  "Public verification keys of Warrant's token-signing ring: verifiers must fetch them unauthenticated.";
const SA_PUBLIC_KEYS =
  "Public halves of a service account's keys, published unauthenticated as on Google so verifiers of self-signed JWTs can fetch them.";
const AGENT =
  "Agent API: authenticated by the agent credential (`Authorization: WarrantAgent <id>.<secret>`, a digest compared in constant time); the instance is taken from the credential, never from the request, and access to it was authorized when the enrollment token was issued.";
const UPLOAD_SESSION =
  "Resumable-upload chunk or cancel: the session URI's unguessable upload_id is the credential, as at GCS; storage.objects.create (and delete when overwriting) was checked when the session was initiated.";
const TEST_PERMISSIONS =
  "testIamPermissions: answers only which of the requested permissions the caller itself holds (AccessControl.held), which discloses nothing but the caller's own access; Google requires no permission for it either.";
const ROLE_CATALOG =
  "The predefined-role catalog: the same static data for every authenticated caller, as on Google (roles.list/get of predefined roles need no permission).";

const wip = "/v1/projects/{project}/locations/{location}/workloadIdentityPools";
const wipProvider = `${wip}/{pool}/providers`;
const STS_TOKEN =
  "STS token exchange (RFC 8693): the subject token in the body is the credential, verified against the named provider's keys, issuer, audience, expiry and attribute condition; its outcome is audited as a token event.";
const STS_INTROSPECT =
  "RFC 7662 introspection: answers only about the token passed in the body (active, subject, expiry), as Google's STS does, for clients that name the account from it.";
const METRICS =
  "Prometheus scrape: a caller on the same host (loopback) reads the metrics without a credential; any other caller needs monitoring.timeSeries.list on the organization, which the handler checks (src/server/api/metrics/metrics.ts). Counts and latencies only, no names of resources beyond route templates, permissions and instance names.";

const CONSOLE_PAGE =
  "The web console's own files (the application's HTML, script and stylesheet, the same for everyone): they hold no data; the data comes through /console/api, whose calls IAM checks.";
const CONSOLE_SIGN_IN =
  "The console's sign-in as an OAuth client of Warrant's own authorization server: starts or completes an authorization-code flow (PKCE, state bound to the browser by a cookie); the user proves who they are at the authorization endpoint, not here.";
const CONSOLE_SESSION =
  "The console's session cookie is the credential: answers only the signed-in user's own e-mail, or ends that user's own session (CSRF-checked).";
const CONSOLE_API =
  "The console's forwarder: each call is passed on to the public API route it names with the signed-in user's own access token, and that route checks IAM for the user as it would for gcloud. The forwarder grants nothing itself (no privileged path); state-changing calls must pass its CSRF checks (src/server/console).";
const consoleRoutes: Record<string, RouteAuthz> = {
  "GET /console": { exempt: CONSOLE_PAGE },
  "GET /console/{path=**}": { exempt: CONSOLE_PAGE },
  "GET /console/auth/login": { exempt: CONSOLE_SIGN_IN },
  "GET /console/auth/callback": { exempt: CONSOLE_SIGN_IN },
  "GET /console/auth/session": { exempt: CONSOLE_SESSION },
  "POST /console/auth/logout": { exempt: CONSOLE_SESSION },
  ...Object.fromEntries(
    (["GET", "POST", "PUT", "PATCH", "DELETE"] as const).map((m) => [
      `${m} /console/api/{path=**}`,
      { exempt: CONSOLE_API },
    ]),
  ),
};

const AUTHORIZE =
  "OAuth authorization endpoint, where people sign in: the sign-in itself (password, upstream SSO, or this server's sign-in session cookie) is the credential; the client and its redirect URI are checked against the first-party client table before anything is redirected; every outcome is audited as a signin event.";
const TROUBLESHOOT =
  "each policy along the resource's chain is shown only if the caller holds its getIamPolicy permission (resourcemanager.projects.getIamPolicy, iam.serviceAccounts.getIamPolicy, storage.buckets.getIamPolicy, …), and a deny rule's details only with iam.denypolicies.get where it is attached; a policy the caller cannot read is answered UNKNOWN_INFO_DENIED, as on Google (src/server/api/policytroubleshooter/troubleshoot.ts)";

const SSO_CALLBACK =
  "Return leg of the upstream OpenID Connect sign-in: the one-time state bound to this browser's cookie and the upstream's verified ID token are the credential; audited as a signin event.";

const table: Record<string, RouteAuthz> = {
  // The web console (src/server/console)
  ...consoleRoutes,
  "POST /v1/iam:troubleshoot": { filters: TROUBLESHOOT },
  "POST /v2alpha1/iam:troubleshoot": { filters: TROUBLESHOOT },
  // Data Access entries only where the caller also holds logging.privateLogEntries.list (entries.ts).
  "POST /v2/entries:list": {
    permission: "logging.logEntries.list",
    conditional: ["logging.privateLogEntries.list"],
  },
  "GET /metrics": { exempt: METRICS },
  "POST /token": { exempt: TOKEN_ENDPOINT },
  "POST /oauth2/v4/token": { exempt: TOKEN_ENDPOINT },
  "POST /revoke": { exempt: REVOKE },
  "POST /o/oauth2/revoke": { exempt: REVOKE },
  "GET /o/oauth2/auth": { exempt: AUTHORIZE },
  "POST /o/oauth2/auth": { exempt: AUTHORIZE },
  "GET /o/oauth2/v2/auth": { exempt: AUTHORIZE },
  "POST /o/oauth2/v2/auth": { exempt: AUTHORIZE },
  "GET /o/oauth2/sso/callback": { exempt: SSO_CALLBACK },
  "GET /oauth2/v1/certs": { exempt: CERTS },
  "GET /oauth2/v3/certs": { exempt: CERTS },
  "GET /.well-known/openid-configuration": {
    exempt:
      "OIDC discovery document: issuer and endpoint URLs, no secrets, fetched by verifiers unauthenticated.",
  },
  ...Object.fromEntries(
    ["/tokeninfo", "/oauth2/v3/tokeninfo", "/oauth2/v1/tokeninfo"].flatMap((p) => [
      [`GET ${p}`, { exempt: TOKENINFO }],
      [`POST ${p}`, { exempt: TOKENINFO }],
    ]),
  ),

  // Resource Manager
  "POST /v1/projects": { permission: "resourcemanager.projects.create" },
  "GET /v1/projects": { filters: "resourcemanager.projects.get" },
  "GET /v1/projects/{project}": { permission: "resourcemanager.projects.get" },
  "POST /v1/projects/{project}:getIamPolicy": { permission: "resourcemanager.projects.getIamPolicy" },
  "POST /v1/projects/{project}:setIamPolicy": { permission: "resourcemanager.projects.setIamPolicy" },
  "POST /v1/projects/{project}:testIamPermissions": { exempt: TEST_PERMISSIONS },

  // IAM: service accounts, their keys, roles
  "POST /v1/projects/{project}/serviceAccounts": { permission: "iam.serviceAccounts.create" },
  "GET /v1/projects/{project}/serviceAccounts": { permission: "iam.serviceAccounts.list" },
  [`GET ${sa}`]: { permission: "iam.serviceAccounts.get" },
  [`PATCH ${sa}`]: { permission: "iam.serviceAccounts.update" },
  [`POST ${sa}:disable`]: { permission: "iam.serviceAccounts.disable" },
  [`POST ${sa}:undelete`]: { permission: "iam.serviceAccounts.undelete" },
  [`POST ${sa}:enable`]: { permission: "iam.serviceAccounts.enable" },
  [`DELETE ${sa}`]: { permission: "iam.serviceAccounts.delete" },
  [`POST ${sa}:getIamPolicy`]: { permission: "iam.serviceAccounts.getIamPolicy" },
  [`POST ${sa}:setIamPolicy`]: { permission: "iam.serviceAccounts.setIamPolicy" },
  [`POST ${sa}:testIamPermissions`]: { exempt: TEST_PERMISSIONS },
  [`POST ${sa}/keys`]: { permission: "iam.serviceAccountKeys.create" },
  [`GET ${sa}/keys`]: { permission: "iam.serviceAccountKeys.list" },
  [`GET ${key}`]: { permission: "iam.serviceAccountKeys.get" },
  [`DELETE ${key}`]: { permission: "iam.serviceAccountKeys.delete" },
  [`POST ${key}:disable`]: { permission: "iam.serviceAccountKeys.disable" },
  [`POST ${key}:enable`]: { permission: "iam.serviceAccountKeys.enable" },
  "GET /service_accounts/v1/metadata/x509/{email}": { exempt: SA_PUBLIC_KEYS },
  "GET /robot/v1/metadata/x509/{email}": { exempt: SA_PUBLIC_KEYS },
  "GET /service_accounts/v1/metadata/raw/{email}": { exempt: SA_PUBLIC_KEYS },
  "GET /service_accounts/v1/metadata/jwk/{email}": { exempt: SA_PUBLIC_KEYS },
  "GET /v1/roles": { exempt: ROLE_CATALOG },
  "GET /v1/roles/{role}": { exempt: ROLE_CATALOG },
  "GET /v1/projects/{project}/roles": { permission: "iam.roles.list" },
  "POST /v1/projects/{project}/roles": { permission: "iam.roles.create" },
  [`GET ${role}`]: { permission: "iam.roles.get" },
  [`PATCH ${role}`]: { permission: "iam.roles.update" },
  [`DELETE ${role}`]: { permission: "iam.roles.delete" },
  [`POST ${role}:undelete`]: { permission: "iam.roles.undelete" },

  // IAM: workload identity pools and providers (Google's permission names)
  [`POST ${wip}`]: { permission: "iam.googleapis.com/workloadIdentityPools.create" },
  [`GET ${wip}`]: { permission: "iam.googleapis.com/workloadIdentityPools.list" },
  [`GET ${wip}/{pool}`]: { permission: "iam.googleapis.com/workloadIdentityPools.get" },
  [`PATCH ${wip}/{pool}`]: { permission: "iam.googleapis.com/workloadIdentityPools.update" },
  [`DELETE ${wip}/{pool}`]: { permission: "iam.googleapis.com/workloadIdentityPools.delete" },
  [`POST ${wip}/{pool}:undelete`]: { permission: "iam.googleapis.com/workloadIdentityPools.undelete" },
  [`POST ${wipProvider}`]: { permission: "iam.googleapis.com/workloadIdentityPoolProviders.create" },
  [`GET ${wipProvider}`]: { permission: "iam.googleapis.com/workloadIdentityPoolProviders.list" },
  [`GET ${wipProvider}/{provider}`]: { permission: "iam.googleapis.com/workloadIdentityPoolProviders.get" },
  [`PATCH ${wipProvider}/{provider}`]: {
    permission: "iam.googleapis.com/workloadIdentityPoolProviders.update",
  },
  [`DELETE ${wipProvider}/{provider}`]: {
    permission: "iam.googleapis.com/workloadIdentityPoolProviders.delete",
  },
  [`GET ${wip}/{pool}/operations/{operation}`]: {
    permission: "iam.googleapis.com/workloadIdentityPools.get",
  },
  [`GET ${wipProvider}/{provider}/operations/{operation}`]: {
    permission: "iam.googleapis.com/workloadIdentityPoolProviders.get",
  },
  [`POST ${wipProvider}/{provider}:undelete`]: {
    permission: "iam.googleapis.com/workloadIdentityPoolProviders.undelete",
  },
  "POST /v1/token": { exempt: STS_TOKEN },
  "POST /v1/introspect": { exempt: STS_INTROSPECT },

  // IAM Credentials: the caller's permission on the first hop; each later hop's
  // iam.serviceAccounts.implicitDelegation is checked for the previous account in the chain.
  [`POST ${sa}:generateAccessToken`]: {
    permission: "iam.serviceAccounts.getAccessToken",
    conditional: ["iam.serviceAccounts.implicitDelegation"],
  },
  [`POST ${sa}:signBlob`]: {
    permission: "iam.serviceAccounts.signBlob",
    conditional: ["iam.serviceAccounts.implicitDelegation"],
  },
  [`POST ${sa}:signJwt`]: {
    permission: "iam.serviceAccounts.signJwt",
    conditional: ["iam.serviceAccounts.implicitDelegation"],
  },
  [`POST ${sa}:generateIdToken`]: {
    permission: "iam.serviceAccounts.getOpenIdToken",
    conditional: ["iam.serviceAccounts.implicitDelegation"],
  },

  // Warrant's own administration: the signing keys and the user directory
  "GET /warrant/v1/signingKeys": { permission: ORG_ADMIN },
  "POST /warrant/v1/signingKeys:rotate": { permission: ORG_ADMIN },
  "POST /warrant/v1/users": { permission: ORG_ADMIN },
  "GET /warrant/v1/users": { permission: ORG_READ },
  "GET /warrant/v1/users/{user}": { permission: ORG_READ },
  "DELETE /warrant/v1/users/{user}": { permission: ORG_ADMIN },
  "POST /warrant/v1/users/{user}:disable": { permission: ORG_ADMIN },
  "POST /warrant/v1/users/{user}:enable": { permission: ORG_ADMIN },
  "POST /warrant/v1/users/{user}:issueCredential": { permission: ORG_ADMIN },
  "POST /warrant/v1/users/{user}:setPassword": { permission: ORG_ADMIN },
  "POST /v2/policies/{attachment}/denypolicies": { permission: "iam.denypolicies.create" },
  "GET /v2/policies/{attachment}/denypolicies": { permission: "iam.denypolicies.list" },
  "GET /v2/policies/{attachment}/denypolicies/{policy}": { permission: "iam.denypolicies.get" },
  "PUT /v2/policies/{attachment}/denypolicies/{policy}": { permission: "iam.denypolicies.update" },
  "DELETE /v2/policies/{attachment}/denypolicies/{policy}": { permission: "iam.denypolicies.delete" },
  "GET /v2/policies/{attachment}/denypolicies/{policy}/operations/{operation}": {
    permission: "iam.denypolicies.get",
  },
  "GET /v2/policies/{attachment}/operations/{operation}": { permission: "iam.denypolicies.get" },
  "POST /warrant/v1/groups": { permission: ORG_ADMIN },
  "GET /warrant/v1/groups": { permission: ORG_READ },
  "GET /warrant/v1/groups/{group}": { permission: ORG_READ },
  "DELETE /warrant/v1/groups/{group}": { permission: ORG_ADMIN },
  "POST /warrant/v1/groups/{group}:addMember": { permission: ORG_ADMIN },
  "POST /warrant/v1/groups/{group}:removeMember": { permission: ORG_ADMIN },

  // Metadata-server agents
  "POST /warrant/v1/projects/{project}/zones/{zone}/instances/{instance}:issueEnrollmentToken": {
    permission: "compute.instances.setMetadata",
    conditional: ["iam.serviceAccounts.actAs"],
  },
  "POST /warrant/v1/agents:enroll": {
    exempt:
      "Agent enrollment: the one-time enrollment token in the body is the credential (stored as a digest, consumed on first use, expiring); it was issued only after compute.instances.setMetadata and actAs were checked.",
  },
  "POST /warrant/v1/projects/{project}/zones/{zone}/instances/{instance}:resetAgent": {
    permission: "compute.instances.setMetadata",
  },
  "POST /warrant/v1/agent/credential:renew": { exempt: AGENT },
  "GET /warrant/v1/agent/view": { exempt: AGENT },
  "POST /warrant/v1/agent/token": { exempt: AGENT },
  "POST /warrant/v1/agent/identity": { exempt: AGENT },

  // Compute Engine
  "POST /batch/compute/v1": {
    exempt:
      "Batch envelope: grants nothing itself; each part is dispatched to a Compute route and held to that route's declaration (compute/batch.ts).",
  },
  "GET /compute/v1/projects/{project}/zones": { permission: "compute.zones.list" },
  "GET /compute/v1/projects/{project}/zones/{zone}": { permission: "compute.zones.get" },
  [`GET ${instances}`]: { permission: "compute.instances.list" },
  "GET /compute/v1/projects/{project}/aggregated/instances": { permission: "compute.instances.list" },
  [`GET ${instance}`]: { permission: "compute.instances.get" },
  [`POST ${instances}`]: {
    permission: "compute.instances.create",
    conditional: ["iam.serviceAccounts.actAs"],
  },
  [`DELETE ${instance}`]: { permission: "compute.instances.delete" },
  [`POST ${instance}/start`]: { permission: "compute.instances.start" },
  [`POST ${instance}/stop`]: { permission: "compute.instances.stop" },
  [`POST ${instance}/setServiceAccount`]: {
    permission: "compute.instances.setServiceAccount",
    conditional: ["iam.serviceAccounts.actAs"],
  },
  [`POST ${instance}/setMetadata`]: { permission: "compute.instances.setMetadata" },
  [`GET ${operation}`]: { permission: "compute.projects.get" },
  [`POST ${operation}/wait`]: { permission: "compute.projects.get" },

  // Cloud Storage: every route under both the JSON API base and the bare one gsutil uses
  ...Object.fromEntries(
    storageBases.flatMap((base): [string, RouteAuthz][] => {
      const object = `${base}/b/{bucket}/o/{object}`;
      const copy = {
        permission: ["storage.objects.get", "storage.objects.create"],
        conditional: ["storage.objects.delete"],
      } as const;
      return [
        [`GET ${base}/b`, { permission: "storage.buckets.list" }],
        [`POST ${base}/b`, { permission: "storage.buckets.create" }],
        [`GET ${base}/b/{bucket}`, { permission: "storage.buckets.get" }],
        [`PATCH ${base}/b/{bucket}`, { permission: "storage.buckets.update" }],
        [`DELETE ${base}/b/{bucket}`, { permission: "storage.buckets.delete" }],
        [`GET ${base}/b/{bucket}/iam`, { permission: "storage.buckets.getIamPolicy" }],
        [`PUT ${base}/b/{bucket}/iam`, { permission: "storage.buckets.setIamPolicy" }],
        [
          `GET ${base}/b/{bucket}/iam/testPermissions`,
          {
            exempt: `${TEST_PERMISSIONS} It does tell any caller whether the bucket exists (404), as GCS does: bucket names are one global namespace.`,
          },
        ],
        [`GET ${base}/b/{bucket}/o`, { permission: "storage.objects.list" }],
        [`GET ${object}`, { permission: "storage.objects.get" }],
        [`PATCH ${object}`, { permission: "storage.objects.update" }],
        [`PUT ${object}`, { permission: "storage.objects.update" }],
        [`DELETE ${object}`, { permission: "storage.objects.delete" }],
        [`POST ${object}/copyTo/b/{destinationBucket}/o/{destinationObject}`, copy],
        [`POST ${object}/rewriteTo/b/{destinationBucket}/o/{destinationObject}`, copy],
        [`POST ${object}/compose`, copy],
      ];
    }),
  ),
  "GET /download/storage/v1/b/{bucket}/o/{object}": { permission: "storage.objects.get" },
  ...Object.fromEntries(
    uploadPaths.flatMap((p): [string, RouteAuthz][] => [
      [`POST ${p}`, { permission: "storage.objects.create", conditional: ["storage.objects.delete"] }],
      [`PUT ${p}`, { exempt: UPLOAD_SESSION }],
      [`DELETE ${p}`, { exempt: UPLOAD_SESSION }],
    ]),
  ),
};

export interface DeclaredRoute {
  method: Method;
  path: string;
  authz: RouteAuthz;
}

/** The whole table, for the tests and the docs. */
export const ROUTE_AUTHZ: Readonly<Record<string, RouteAuthz>> = table;

/** The declaration of a route being registered; throws if there is none or it cannot hold. */
export function declaredAuthz(method: Method, path: string, auth: AuthMode): RouteAuthz {
  const key = `${method} ${path}`;
  const authz = table[key];
  if (!authz)
    throw new Error(
      `route ${key} declares no authorization: add it to src/server/http/route-authz.ts with the permission its handler checks, or { exempt: "why" }`,
    );
  // A route that reads no credential has no principal to check a permission for.
  if (auth === "none" && !("exempt" in authz))
    throw new Error(`route ${key} reads no credential (auth "none"), so it must be declared exempt`);
  return authz;
}

/** The declared permissions a request did not check (allowed, or would-deny in audit-only mode). */
export function missingChecks(authz: RouteAuthz, checks: readonly AuthzCheck[]): string[] {
  if (!("permission" in authz)) return [];
  const required = typeof authz.permission === "string" ? [authz.permission] : authz.permission;
  const made = new Set(checks.filter((c) => c.allowed || c.wouldDeny).map((c) => c.permission));
  return required.filter((p) => !made.has(p));
}

/**
 * Throws an `Internal` error (the adapter answers 500) and logs one line naming the route when a
 * request about to succeed with `status` has not made the checks its route declares.
 */
export function requireDeclaredChecks(
  route: DeclaredRoute,
  ctx: RequestContext,
  checks: readonly AuthzCheck[],
  status: number,
  log: (line: string) => void,
): void {
  const missing = missingChecks(route.authz, checks);
  if (!missing.length) return;
  log(
    `authorization: ${route.method} ${route.path} was about to answer ${status} to ${memberOf(ctx.caller.principal)} without checking ${missing.join(", ")}; answered 500 instead (request ${ctx.requestId})`,
  );
  throw new Internal(`Internal error encountered. Request id: ${ctx.requestId}.`);
}

/**
 * Fails closed when a handler forgot to authorize: the check to run just before a 2xx/3xx
 * response's headers leave, comparing the request's checks with the route's declaration
 * (`requireDeclaredChecks`); undefined when the route declares no permission. Hooking the headers
 * rather than the handler's return also covers handlers that stream their own response, whose bytes
 * would otherwise be gone before the handler returns.
 */
export function declaredAuthorizationGuard(
  route: DeclaredRoute,
  ctx: RequestContext,
  log: (line: string) => void,
): ((status: number) => void) | undefined {
  if (!("permission" in route.authz)) return undefined;
  return (status) => requireDeclaredChecks(route, ctx, ctx.checks, status, log);
}
