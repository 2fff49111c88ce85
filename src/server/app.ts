/**
 * `warrant serve`: the whole control plane in one process — datastore, key ring, IAM, the REST
 * APIs and the token endpoint on one port.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo, Server as NetServer } from "node:net";
import { resolve } from "node:path";
import type { Datastore } from "../datastore/datastore.js";
import { describeDatastore, openDatastore } from "../datastore/open.js";
import { repositories } from "../datastore/repositories.js";
import { SqliteDatastore } from "../datastore/sqlite/sqlite-datastore.js";
import { isDiskFull, Unavailable } from "../domain/errors.js";
import { DEFAULT_ACCESS_TOKEN_LIFETIME_S } from "../domain/tokens/access-token.js";
import { audienceMatcher } from "../domain/tokens/claims.js";
import { GOOGLE_ISSUER } from "../domain/tokens/id-token.js";
import type { RotationPolicy } from "../domain/tokens/rotation.js";
import {
  ConnectionGovernor,
  type ConnectionLimits,
  defaultApiLimits,
  type GovernorStats,
  rawResponse,
} from "../net/connection-governor.js";
import { ChangeFeed } from "./agents/change-feed.js";
import { AgentSupervisor } from "./agents/supervisor.js";
import { registerSigningKeysAdmin } from "./api/admin/signing-keys.js";
import { registerAgentApi } from "./api/agent/agents.js";
import { registerCompute } from "./api/compute/instances.js";
import { registerDenyPolicies } from "./api/iam/deny-policies.js";
import { registerRoles } from "./api/iam/roles.js";
import { registerServiceAccountKeys } from "./api/iam/service-account-keys.js";
import { registerServiceAccounts } from "./api/iam/service-accounts.js";
import { registerWorkloadIdentityPools } from "./api/iam/workload-identity-pools.js";
import { registerIamCredentials } from "./api/iamcredentials/credentials.js";
import { registerLoggingEntries } from "./api/logging/entries.js";
import { registerMetrics } from "./api/metrics/metrics.js";
import { endBrowserSignIn, registerAuthorization } from "./api/oauth2/authorize.js";
import { registerCerts } from "./api/oauth2/certs.js";
import { registerRevoke } from "./api/oauth2/revoke.js";
import { registerTokenEndpoint } from "./api/oauth2/token.js";
import { registerTokenInfo } from "./api/oauth2/tokeninfo.js";
import { registerSsoCallback, type SsoConfig, UpstreamSso } from "./api/oauth2/upstream-sso.js";
import { registerPolicyTroubleshooter } from "./api/policytroubleshooter/troubleshoot.js";
import { registerProjects } from "./api/resourcemanager/projects.js";
import { registerBuckets } from "./api/storage/buckets.js";
import { registerObjects } from "./api/storage/objects.js";
import { registerUploads } from "./api/storage/uploads.js";
import { registerSts } from "./api/sts/sts.js";
import { registerGroups } from "./api/users/groups.js";
import { registerUsers } from "./api/users/users.js";
import { FileAuditSink } from "./audit.js";
import { BearerAuthenticator } from "./auth/bearer-authenticator.js";
import { ProjectDirectory } from "./auth/project-directory.js";
import { ServiceAccountDirectory } from "./auth/service-account-directory.js";
import { UserDirectory } from "./auth/user-directory.js";
import { WorkloadIdentityDirectory } from "./auth/workload-identity-directory.js";
import { bootstrap } from "./bootstrap.js";
import { ClusterSync } from "./cluster-sync.js";
import { type ConsoleHandle, registerConsole } from "./console/console.js";
import type { SessionLimits } from "./console/sessions.js";
import { type Logger, lineLogger } from "./log.js";
import { ServerMetrics } from "./metrics.js";
import { lockStateDir } from "./state-lock.js";
import { SigningPool, signHere } from "./tokens/signing-pool.js";

export { StateDirLocked } from "./state-lock.js";

import type { ServerDeps } from "./deps.js";
import { Lifecycle } from "./http/lifecycle.js";
import { type Route, Router } from "./http/router.js";

import { createHttpServer, type HttpServerDeps } from "./http/server.js";
import { AccessControl, type EnforcementMode } from "./iam/access-control.js";
import { PolicyService } from "./iam/policy-service.js";
import {
  BlobStore,
  DEFAULT_STORAGE_RESERVE_BYTES,
  freeBytes,
  SHARED_SWEEP_MARGIN_MS,
} from "./storage/blob-store.js";
import { ObjectService } from "./storage/object-service.js";
import { CertificateAuthority } from "./tls/ca.js";
import { GOOGLE_API_HOSTS, TlsFront } from "./tls/front.js";
import { type RunningProxy, startProxy } from "./tls/proxy.js";
import { DEFAULT_ROTATION_POLICY, KeyRing } from "./tokens/key-ring.js";
import { loadMasterKey } from "./tokens/master-key.js";
import { SystemKeys } from "./tokens/system-keys.js";

export interface ServeOptions {
  /**
   * Sign minted access tokens on the event loop instead of libuv's threads (signing-pool.ts).
   * Not a `warrant serve` flag: a bench and test setting.
   */
  signOnEventLoop?: boolean;
  stateDir: string;
  /**
   * Where state lives: `postgres://…` for PostgreSQL (docs/datastore.md); default the embedded
   * SQLite file `<state-dir>/warrant.db`.
   */
  datastore?: string;
  host: string;
  port: number;
  log?: (line: string) => void;
  /**
   * The structured log (`warrant serve`): a line per request with its request id, and the parts'
   * messages as records. Free-text messages go to `log` instead when that is given too.
   */
  logger?: Logger;
  /** Lifetime of issued access tokens (default 3600 s; shorter for tests). */
  accessTokenLifetimeSeconds?: number;
  enforcement?: EnforcementMode;
  /** `iss` of ID tokens; Google's by default so stock verifiers accept them. */
  idTokenIssuer?: string;
  /** Seals signing keys at rest; default WARRANT_MASTER_KEY, else `<state-dir>/master.key`. */
  masterKey?: string;
  /** Port of every in-process metadata server, each on its own 127.0.0.x (default: the server's port). */
  metadataPort?: number;
  /** Run a metadata server per instance (default true). */
  agents?: boolean;
  /** Metadata servers replace cached tokens when fewer seconds remain (default 300, as GCE). */
  tokenRefreshMarginSeconds?: number;
  /** Cache-miss token mints per second and instance (default 50). */
  mintsPerSecond?: number;
  /** Overrides of the signing-key rotation schedule (tests shorten it). */
  keyRotation?: Partial<RotationPolicy>;
  /** Also speak HTTPS on the API port (certificate from the installation's CA; see docs/tls-and-proxy.md). */
  tls?: boolean;
  /** Run the HTTPS interception proxy on this port of 127.0.0.1 (0: any free port); off when absent. */
  proxyPort?: number;
  /** Proxy timeouts (tests shorten them). */
  proxyIdleTimeoutMs?: number;
  proxyHandshakeTimeoutMs?: number;
  /** Connection limits of the API port (defaults: defaultApiLimits(), from the descriptor limit). */
  connectionLimits?: Partial<ConnectionLimits>;
  /** On close, how long in-flight requests (uploads included) may take to finish (default 30 s). */
  drainTimeoutMs?: number;
  /**
   * Other URLs clients reach this server at (a DNS name, a load balancer): JWT audiences naming
   * them are accepted, besides the bound URL and the HTTPS one.
   */
  externalUrls?: string[];
  /** How long an agent credential works unless its agent renews it (default 3600 s). */
  agentCredentialLifetimeSeconds?: number;
  /**
   * `GET /metrics` without a credential from loopback (default true); false: every caller needs
   * monitoring.timeSeries.list on the organization (behind a reverse proxy on the same host).
   */
  metricsLoopbackOpen?: boolean;
  /**
   * Where object bytes and resumable-upload bytes live (default `<state-dir>/storage`). Nodes sharing
   * a datastore must all mount one blob directory (docs/deployment.md).
   */
  blobDir?: string;
  /** How often every IAM cache is dropped and re-read, besides the change feed (default 30 s). */
  resyncMs?: number;
  /** Free bytes uploads must leave on the state directory's disk (default 64 MiB); less is a 503. */
  storageReserveBytes?: number;
  /** Rotate audit.log at this size (default 100 MiB; 0: never, for logrotate). */
  auditMaxBytes?: number;
  /** Rotated audit files kept (default 10). */
  auditMaxFiles?: number;
  /** Also log every audit entry as a record of `logger` (`"msg":"audit"`), for a log shipper on stdout. */
  auditToLog?: boolean;
  /** The upstream OpenID Connect provider people may sign in through (docs/sign-in.md). */
  sso?: SsoConfig;
  /** The web console's session lifetimes (tests shorten them; docs/console.md). */
  consoleSessions?: Partial<SessionLimits>;
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** A readiness check slower than this counts as failed: a probe must answer promptly. */
const READINESS_CHECK_TIMEOUT_MS = 2_000;

/** How often the key ring rotates when due and reloads from the datastore. */
export const KEY_RING_TICK_MS = 30_000;

export interface RunningServer {
  url: string;
  /** Where state lives, fit to print: the SQLite file, or the PostgreSQL URL without its password. */
  datastore: string;
  /** host:port of each instance's metadata server, by instance resource name. */
  metadataServers(): Record<string, string>;
  /** Every registered API route, with its declared authorization (route-authz.ts). */
  routes(): readonly Route[];
  /** The web console's sessions (tests inspect them). */
  console: ConsoleHandle;
  stateDir: string;
  adminCredentialFile: string;
  defaultProject: string;
  /** `https://…` of the API port, with `tls`. */
  httpsUrl?: string;
  /** `http://127.0.0.1:PORT` of the interception proxy, with `proxyPort`. */
  proxyUrl?: string;
  proxyStats?: RunningProxy["stats"];
  /** The CA certificate, and the system bundle + CA, with `tls` or `proxyPort`. */
  caFile?: string;
  caBundleFile?: string;
  /** The API port's connections held, and those refused, shed or timed out so far. */
  connectionStats(): GovernorStats;
  /** Reopens `audit.log` by name (SIGHUP after logrotate moved it). */
  reopenLogs(): Promise<void>;
  /** Drains (up to `drainMs`, default the drainTimeoutMs option), then stops and removes server.json. */
  close(drainMs?: number): Promise<void>;
}

/**
 * The origins this server answers at, from its configuration: its URL and HTTPS URL, both spellings
 * of loopback when it listens there (or on every interface), and the configured external URLs.
 */
export function answeringOrigins(
  host: string,
  port: number,
  url: string,
  httpsUrl: string | undefined,
  externalUrls: readonly string[],
): string[] {
  const schemes = httpsUrl ? ["http", "https"] : ["http"];
  const loopbacks =
    host === "127.0.0.1" || host === "0.0.0.0" || host === "localhost"
      ? ["127.0.0.1", "localhost"]
      : host === "::1"
        ? ["[::1]", "localhost"]
        : host === "::"
          ? ["127.0.0.1", "[::1]", "localhost"]
          : [];
  const local = schemes.flatMap((s) => loopbacks.map((h) => `${s}://${h}:${port}`));
  const origins = [url, ...(httpsUrl ? [httpsUrl] : []), ...local, ...externalUrls].map(
    (u) => new URL(u).origin,
  );
  return [...new Set(origins)];
}

export const SERVER_INFO_FILE = "server.json";
export const ADMIN_CREDENTIAL_FILE = "admin-credentials.json";

/** Below this much free space the server does not start: SQLite, the audit log and server.json need room. */
export const MIN_START_FREE_BYTES = 1024 * 1024;

/** The state directory's disk has no room to start in. */
export class StateDirFull extends Error {
  constructor(stateDir: string, free?: number) {
    super(
      `Cannot start: the disk holding the state directory ${stateDir} is full${free === undefined ? "" : ` (${free} bytes free, at least ${MIN_START_FREE_BYTES} needed)`}. Free space there and start again.`,
    );
    this.name = "StateDirFull";
  }
}

/** The configured datastore could not be opened: unreachable, refused, not Warrant's, or too new. */
export class DatastoreUnavailable extends Error {
  constructor(spec: string, cause: Error) {
    super(`Cannot open the datastore ${describeDatastore(spec)}: ${cause.message}`, { cause });
    this.name = "DatastoreUnavailable";
  }
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  try {
    return await start(opts);
  } catch (err) {
    // Whatever step ran out of room (SQLite, the key ring, server.json), the cause is one.
    if (isDiskFull(err)) throw new StateDirFull(resolve(opts.stateDir));
    throw err;
  }
}

async function start(opts: ServeOptions): Promise<RunningServer> {
  const log =
    opts.log ?? (opts.logger ? lineLogger(opts.logger) : (line: string) => process.stderr.write(`${line}\n`));
  const stateDir = resolve(opts.stateDir);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const free = await freeBytes(stateDir);
  if (free < MIN_START_FREE_BYTES) throw new StateDirFull(stateDir, free);
  const reserve = opts.storageReserveBytes ?? DEFAULT_STORAGE_RESERVE_BYTES;
  if (free < reserve)
    log(
      `storage: only ${free} bytes free under ${stateDir}, less than the ${reserve}-byte reserve: uploads are refused (503) until space is freed`,
    );
  // Before anything opens the datastore: one live server per state directory.
  const lock = lockStateDir(stateDir);
  const adminCredentialFile = resolve(stateDir, ADMIN_CREDENTIAL_FILE);
  let store: Datastore;
  let audit: FileAuditSink;
  // Its sources exist further down; until then they report nothing.
  let supervisorRef: AgentSupervisor | undefined;
  let governorRef: ConnectionGovernor | undefined;
  let signingPool: SigningPool | undefined;
  const metrics = new ServerMetrics({
    connections: () => governorRef?.stats() ?? { connections: 0, refused: 0, shed: 0, timedOut: 0 },
    metadataServers: () => supervisorRef?.stats() ?? {},
    auditWriteErrors: () => audit?.writeErrors ?? 0,
    signing: () => ({ threads: signingPool?.threads ?? 0, inline: signingPool?.signedInline ?? 0 }),
  });
  try {
    const opened: Datastore = opts.datastore
      ? await openDatastore(opts.datastore, { log }).catch((err: Error) => {
          throw new DatastoreUnavailable(opts.datastore!, err);
        })
      : new SqliteDatastore(resolve(stateDir, "warrant.db"));
    store = metrics.measuring(opened);
    // A copy for a log shipper: a record of its own, whatever the log level.
    const auditLog = opts.auditToLog && opts.logger ? opts.logger.child({}, { level: "info" }) : undefined;
    audit = new FileAuditSink(resolve(stateDir, "audit.log"), {
      ...(opts.auditMaxBytes !== undefined ? { maxBytes: opts.auditMaxBytes } : {}),
      ...(opts.auditMaxFiles !== undefined ? { maxFiles: opts.auditMaxFiles } : {}),
      ...(auditLog
        ? { copy: (entry: Record<string, unknown>) => auditLog.info({ audit: entry }, "audit") }
        : {}),
    });
  } catch (err) {
    lock.release();
    throw err;
  }
  const enforcement = opts.enforcement ?? "enforce";
  let listening: NetServer | undefined;
  const lifecycle = new Lifecycle();
  const governor = new ConnectionGovernor({ ...defaultApiLimits(), ...opts.connectionLimits }, () => {
    const busy = new Unavailable("The server is at its connection limit; retry shortly.");
    return rawResponse(
      503,
      "Service Unavailable",
      "application/json; charset=UTF-8",
      JSON.stringify(busy.toJSON()),
      busy.headers,
    );
  });
  governorRef = governor;
  /** Audit entries, also counted (tokens issued) by the metrics. */
  const audited = metrics.auditing(audit);
  let front: TlsFront | undefined;
  let proxy: RunningProxy | undefined;
  try {
    const router = new Router();
    // Listen first: the bound port goes into the admin credential's token_uri. Until the routes,
    // the datastore and the key ring are ready below, every request answers 503 with Retry-After.
    const httpDeps: HttpServerDeps = {
      router,
      authenticator: { authenticate: async () => null },
      audit: audited,
      log,
      metrics,
      enforcement,
      lifecycle,
      ...(opts.logger ? { logger: opts.logger } : {}),
    };
    const http: Server = createHttpServer(httpDeps);
    httpDeps.closeReason = (socket) => governor.closeReason(socket);
    const ca = opts.tls || opts.proxyPort !== undefined ? CertificateAuthority.open(stateDir) : undefined;
    const caBundleFile = ca?.writeBundle(stateDir);
    if (opts.tls) {
      const names = ["localhost", "127.0.0.1", "::1", ...GOOGLE_API_HOSTS];
      if (!["0.0.0.0", "::", ...names].includes(opts.host)) names.unshift(opts.host);
      front = new TlsFront(http, ca!, names, undefined, governor);
    }
    const listener: NetServer = front?.server ?? governor.listener(http);
    listening = listener;
    await new Promise<void>((ok, fail) => {
      listener.once("error", fail);
      listener.listen(opts.port, opts.host, () => {
        listener.off("error", fail);
        ok();
      });
    });
    // Accept failures (EMFILE under a flood) are reported, not fatal; the governor keeps them rare.
    listener.on("error", (err) => log(`listener: ${err.message}`));
    const { port } = listener.address() as AddressInfo;
    const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
    const hostPort = `${host === "0.0.0.0" ? "127.0.0.1" : host === "[::]" ? "[::1]" : host}:${port}`;
    const url = `http://${hostPort}`;
    const httpsUrl = opts.tls ? `https://${hostPort}` : undefined;
    if (opts.proxyPort !== undefined)
      proxy = await startProxy({
        inner: createHttpServer(httpDeps),
        ca: ca!,
        host: "127.0.0.1",
        port: opts.proxyPort,
        log,
        ...(opts.proxyIdleTimeoutMs !== undefined ? { idleTimeoutMs: opts.proxyIdleTimeoutMs } : {}),
        ...(opts.proxyHandshakeTimeoutMs !== undefined
          ? { handshakeTimeoutMs: opts.proxyHandshakeTimeoutMs }
          : {}),
      });
    const ownOrigins = answeringOrigins(opts.host, port, url, httpsUrl, opts.externalUrls ?? []);
    const tlsInfo = {
      ...(httpsUrl ? { httpsUrl } : {}),
      ...(proxy ? { proxyUrl: proxy.url } : {}),
      ...(ca ? { caFile: ca.certFile, caBundleFile } : {}),
    };

    const installation = await bootstrap(store, adminCredentialFile, `${url}/token`);
    const masterKey = loadMasterKey(stateDir, opts.masterKey ?? process.env.WARRANT_MASTER_KEY);
    const keyRing = await KeyRing.open(store, masterKey, { ...DEFAULT_ROTATION_POLICY, ...opts.keyRotation });
    // Rotate on schedule, retire expired keys, and pick up rotations made elsewhere.
    // Background users of the datastore, awaited on close before the datastore closes.
    const background = new Set<Promise<unknown>>();
    const inBackground = (p: Promise<unknown>) => {
      background.add(p);
      const done = () => background.delete(p);
      p.then(done, done);
    };
    const ringTimer = setInterval(() => {
      inBackground(keyRing.tick().catch((err) => log(`key ring: ${(err as Error).message}`)));
    }, KEY_RING_TICK_MS);
    ringTimer.unref();
    const tokenIssuer = `urn:warrant:organizations:${installation.organizationId}`;
    signingPool = opts.signOnEventLoop ? undefined : new SigningPool();
    const pool = signingPool;
    const access = new AccessControl(store, installation.organizationId, enforcement, log);
    const directory = new ServiceAccountDirectory(repositories(store));
    const users = new UserDirectory(repositories(store));
    const projects = new ProjectDirectory(repositories(store));
    const changes = new ChangeFeed();
    // Other nodes sharing the datastore change what this one caches: follow the change feed.
    const workloadIdentity = new WorkloadIdentityDirectory(repositories(store));
    const sync = new ClusterSync(
      store,
      { access, directory, users, projects, keyRing, changes, workloadIdentity },
      log,
      opts.resyncMs,
    );
    await store.feedReady?.();
    const blobs = opts.blobDir
      ? new BlobStore(resolve(opts.blobDir), reserve, true)
      : new BlobStore(resolve(stateDir, "storage"), reserve);
    await blobs.init();
    const objects = new ObjectService(store, blobs);
    const startedAt = Date.now();
    // Blobs a crash left without an object; in the background, and only those older than this start.
    inBackground(
      objects
        .sweep(opts.blobDir ? startedAt - SHARED_SWEEP_MARGIN_MS : startedAt)
        .then((n) => n && log(`storage: removed ${n} unreferenced blob(s) left by an interrupted run`))
        .catch((err) => log(`storage: sweep failed: ${(err as Error).message}`)),
    );
    const deps: ServerDeps = {
      store,
      repos: repositories(store),
      access,
      policies: new PolicyService(store, access),
      keyRing,
      signer: pool?.sign ?? signHere,
      directory,
      users,
      projects,
      systemKeys: new SystemKeys(store, masterKey, directory),
      tokenIssuer,
      idTokenIssuer: opts.idTokenIssuer ?? GOOGLE_ISSUER,
      organizationId: installation.organizationId,
      ownOrigins,
      accessTokenLifetimeSeconds: opts.accessTokenLifetimeSeconds ?? DEFAULT_ACCESS_TOKEN_LIFETIME_S,
      log,
      audit: audited,
      auditFile: resolve(stateDir, "audit.log"),
      changes,
      objects,
    };
    const authenticator = new BearerAuthenticator(
      keyRing,
      tokenIssuer,
      directory,
      users,
      // Google's rule for self-signed JWTs: `aud` is the API's URL, here one this server answers for.
      audienceMatcher([
        ...ownOrigins,
        ...GOOGLE_API_HOSTS.filter((h) => h.endsWith(".googleapis.com")).map((h) => `https://${h}`),
      ]),
      workloadIdentity,
    );
    registerTokenEndpoint(router, deps);
    const sso = opts.sso ? new UpstreamSso(deps, opts.sso, masterKey) : undefined;
    const authorization = registerAuthorization(router, deps, { sso: () => sso });
    registerSsoCallback(router, deps, authorization, sso);
    const signInSweep = setInterval(() => {
      inBackground(
        authorization.signIn.sweep().catch((err) => log(`sign-in: sweep failed: ${(err as Error).message}`)),
      );
    }, 60_000);
    signInSweep.unref();
    registerRevoke(router, deps, authenticator);
    registerCerts(router, deps);
    registerTokenInfo(router, deps, authenticator);
    registerServiceAccountKeys(router, deps);
    registerIamCredentials(router, deps);
    registerSigningKeysAdmin(router, deps);
    registerAgentApi(router, deps, changes, {
      ...(opts.agentCredentialLifetimeSeconds !== undefined
        ? { credentialLifetimeSeconds: opts.agentCredentialLifetimeSeconds }
        : {}),
    });
    registerBuckets(router, deps);
    registerUploads(router, deps);
    registerObjects(router, deps);
    registerProjects(router, deps);
    registerServiceAccounts(router, deps);
    registerRoles(router, deps);
    registerWorkloadIdentityPools(router, deps, (name) => workloadIdentity.poolChanged(name));
    registerSts(router, deps, workloadIdentity, authenticator);
    registerDenyPolicies(router, deps);
    registerPolicyTroubleshooter(router, deps);
    registerLoggingEntries(router, deps);
    registerUsers(router, deps);
    registerGroups(router, deps);
    registerCompute(router, deps);
    registerMetrics(router, deps, metrics, opts.metricsLoopbackOpen !== false);
    // Last: its catch-all routes under /console must not shadow anything.
    const consoleHandle = registerConsole(router, {
      apiUrl: url,
      store,
      masterKey,
      log,
      endSignIn: (ctx) => endBrowserSignIn(authorization.signIn, ctx),
      ...(opts.consoleSessions ? { limits: opts.consoleSessions } : {}),
    });
    httpDeps.authenticator = authenticator;

    const writeInfo = (agents: Record<string, string>) =>
      writeFileSync(
        resolve(stateDir, SERVER_INFO_FILE),
        `${JSON.stringify({ url, ...tlsInfo, pid: process.pid, defaultProject: installation.defaultProject, adminCredentialFile, enforcement, metadataServers: agents }, null, 2)}\n`,
        { mode: 0o600 },
      );
    writeInfo({});
    const supervisor = new AgentSupervisor(store, changes, {
      controlPlaneUrl: url,
      port: opts.metadataPort ?? port,
      ...(opts.tokenRefreshMarginSeconds !== undefined
        ? { refreshMarginSeconds: opts.tokenRefreshMarginSeconds }
        : {}),
      ...(opts.mintsPerSecond !== undefined ? { mintsPerSecond: opts.mintsPerSecond } : {}),
      log,
      onChange: writeInfo,
    });
    supervisorRef = supervisor;
    let agentsRunning = opts.agents === false;
    const withinDeadline = async (check: Promise<unknown>) =>
      Promise.race([
        check.then(
          () => true,
          () => false,
        ),
        new Promise<boolean>((r) => setTimeout(r, READINESS_CHECK_TIMEOUT_MS, false).unref()),
      ]);
    lifecycle.checks = async () => ({
      datastore: await withinDeadline(store.get("meta", "installation")),
      keyRing: await withinDeadline(Promise.resolve().then(() => keyRing.primary())),
      agents: agentsRunning,
    });
    // Serving from here: the in-process agents below enroll over HTTP like any other agent.
    lifecycle.phase = "serving";
    if (opts.agents !== false) {
      await supervisor.start();
      agentsRunning = true;
    }

    let closing: Promise<void> | undefined;
    return {
      url,
      datastore: opts.datastore ? describeDatastore(opts.datastore) : resolve(stateDir, "warrant.db"),
      stateDir,
      metadataServers: () => supervisor.addresses(),
      routes: () => router.all(),
      console: consoleHandle,
      connectionStats: () => governor.stats(),
      adminCredentialFile,
      defaultProject: installation.defaultProject,
      ...tlsInfo,
      ...(proxy ? { proxyStats: proxy.stats } : {}),
      reopenLogs: () => audit.reopen(),
      close(drainMs = opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS) {
        closing ??= (async () => {
          // Drain: /readyz and new requests answer 503, no new connection is accepted, and
          // requests in flight (uploads included) get until the deadline to finish.
          lifecycle.phase = "draining";
          agentsRunning = false;
          clearInterval(ringTimer);
          clearInterval(signInSweep);
          // Kept-alive connections stay: their next request (a probe's, say) gets 503 and a close.
          listener.close();
          await supervisor.close();
          // Agents' long polls of the change feed answer now rather than at their timeout.
          changes.bump();
          if (!(await lifecycle.settled(drainMs)))
            log(
              `shutdown: ${lifecycle.inFlight} request(s) still in flight after ${drainMs} ms; closing them`,
            );
          await proxy?.close();
          await front?.close();
          await new Promise<void>((ok) => {
            listener.close(() => ok());
            governor.close();
          });
          rmSync(resolve(stateDir, SERVER_INFO_FILE), { force: true });
          await Promise.allSettled([...background]);
          await pool?.close();
          await sync.close();
          await blobs.close();
          await store.close();
          await audit.close();
          lock.release();
        })();
        return closing;
      },
    };
  } catch (err) {
    // A start that fails after binding (bad master key, unreadable state) must not leave the port held.
    governor.close();
    await signingPool?.close();
    await proxy?.close();
    if (listening?.listening) await new Promise<void>((ok) => listening!.close(() => ok()));
    await store.close();
    await audit.close();
    lock.release();
    throw err;
  }
}
