/**
 * The control plane's side of the metadata-server agents (Warrant's own API, SPIRE-style):
 *  - an instance administrator issues a one-time enrollment token for an instance;
 *  - the agent exchanges it once for an agent credential bound to that instance;
 *  - with it, the agent reads the instance's metadata view (long-polling for changes) and asks
 *    for tokens of the instance's service account. The instance is taken from the credential,
 *    never from the request, so one instance's agent cannot obtain another's tokens;
 *  - the credential is short-lived: the agent renews it before half its lifetime has passed, each
 *    renewal replacing the secret (SPIRE's SVID rotation), and an administrator can revoke it at
 *    once (`:resetAgent`). Every enrollment, renewal, revocation and refusal is audited.
 */
import { randomBytes } from "node:crypto";
import { type AgentRecord, repositories } from "../../../datastore/repositories.js";
import { ApiError, InvalidArgument, NotFound, Unauthenticated } from "../../../domain/errors.js";
import { effectiveScopes, type InstanceView, tokenProblem } from "../../../domain/metadata/view.js";
import { secretMatches, sha256Hex } from "../../../domain/oauth/secrets.js";
import { childOf, instanceResource, projectRef, serviceAccountResource } from "../../../domain/resources.js";
import { claimProblem } from "../../../domain/tokens/claims.js";
import { mintIdToken } from "../../../domain/tokens/id-token.js";
import type { ChangeFeed } from "../../agents/change-feed.js";
import { recordIssued } from "../../audit.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { issueAccessToken } from "../../tokens/issue.js";

export const ENROLLMENT_TTL_MS = 3600_000;
export const MAX_VIEW_WAIT_S = 300;
export const DEFAULT_AGENT_CREDENTIAL_LIFETIME_S = 3600;

/** `WarrantAgent <agentId>.<secret>` */
const AGENT_AUTH = /^WarrantAgent ([a-f0-9]{32})\.([A-Za-z0-9_-]{43})$/;

export interface AgentApiOptions {
  /** How long an agent credential works unless renewed (default 3600 s). */
  credentialLifetimeSeconds?: number;
}

export function registerAgentApi(
  router: Router,
  deps: ServerDeps,
  feed: ChangeFeed,
  options: AgentApiOptions = {},
) {
  const lifetimeMs = (options.credentialLifetimeSeconds ?? DEFAULT_AGENT_CREDENTIAL_LIFETIME_S) * 1000;

  /** A fresh secret and its validity; the record keeps only the secret's digest. */
  function newSecret() {
    const secret = randomBytes(32).toString("base64url");
    const now = Date.now();
    return {
      secret,
      fields: {
        secretSha256: sha256Hex(secret),
        issueTime: new Date(now).toISOString(),
        expireTime: new Date(now + lifetimeMs).toISOString(),
      },
    };
  }

  /** An audit line about an agent credential (never the secret). */
  function audit(ctx: RequestContext, event: string, fields: Record<string, unknown>) {
    deps.audit.record({
      time: new Date().toISOString(),
      kind: "agentCredential",
      requestId: ctx.requestId,
      event,
      ...fields,
    });
  }

  async function agentOf(ctx: RequestContext): Promise<{ agent: AgentRecord; secret: string }> {
    const m = AGENT_AUTH.exec(ctx.req.headers.authorization ?? "");
    if (!m) throw Unauthenticated.invalid("agent calls need 'Authorization: WarrantAgent <id>.<secret>'");
    const [, agentId, secret] = m as unknown as [string, string, string];
    const agent = await deps.repos.agents.get(agentId);
    if (!agent || !secretMatches(secret, agent.secretSha256)) {
      audit(ctx, "refused", { agentId, reason: "unknown, revoked or replaced by a renewal" });
      throw Unauthenticated.invalid(
        "unknown agent credential (revoked, replaced by a renewal, or never issued): the agent must be re-enrolled",
      );
    }
    const problem = claimProblem(
      {
        iat: Date.parse(agent.issueTime ?? agent.createTime) / 1000,
        exp: agent.expireTime ? Date.parse(agent.expireTime) / 1000 : 0,
      },
      { nowSeconds: Date.now() / 1000, toleranceSeconds: 0 },
    );
    if (problem) {
      audit(ctx, "refused", { agentId, instance: instanceOf(agent), reason: `credential ${problem}` });
      throw Unauthenticated.invalid(
        `the agent credential expired${agent.expireTime ? ` at ${agent.expireTime}` : ""}: the agent must be re-enrolled`,
      );
    }
    return { agent, secret };
  }

  /** The instance of the agent, as its metadata server must show it; undefined once deleted. */
  async function viewOf(agent: AgentRecord): Promise<InstanceView | undefined> {
    const i = await deps.repos.instances.get(agent.projectId, agent.zone, agent.instance);
    if (!i || i.id !== agent.instanceId) return undefined;
    const project = await deps.repos.projects.get(i.projectId);
    if (!project) return undefined;
    const attached = i.serviceAccounts[0];
    const sa = attached ? await deps.repos.serviceAccounts.get(attached.email) : undefined;
    return {
      project: { projectId: project.projectId, projectNumber: project.projectNumber, attributes: {} },
      instance: {
        id: i.id,
        name: i.name,
        zone: i.zone,
        hostname: i.hostname,
        machineType: i.machineType,
        description: i.description,
        status: i.status,
        creationTimestamp: i.creationTimestamp,
        networkIP: i.networkIP,
        tags: i.tags,
        attributes: Object.fromEntries(i.metadata.map((m) => [m.key, m.value])),
      },
      ...(attached && sa
        ? {
            serviceAccount: {
              email: sa.email,
              uniqueId: sa.uniqueId,
              scopes: attached.scopes,
              disabled: !!sa.disabled,
            },
          }
        : {}),
    };
  }

  /** The instance's view and attached account, or GCE's refusal (404 unknown account, 503 stopped, 403 disabled). */
  async function tokenTarget(agent: AgentRecord, account: string) {
    const view = await viewOf(agent);
    if (!view) throw new NotFound("The agent's instance no longer exists.");
    const problem = tokenProblem(view, account);
    if (problem)
      throw new ApiError(
        problem.status,
        problem.status === 404 ? "NOT_FOUND" : "FAILED_PRECONDITION",
        "metadata",
        problem.message,
      );
    return { view, sa: view.serviceAccount! };
  }

  const instancePath = "/warrant/v1/projects/{project}/zones/{zone}/instances/{instance}";

  router.add("POST", `${instancePath}:issueEnrollmentToken`, async (ctx) => {
    await readJsonObject(ctx.req);
    const { project, zone, instance } = ctx.params as { project: string; zone: string; instance: string };
    const ref = childOf(projectRef(deps.organizationId, project), instanceResource(project, zone, instance));
    await deps.access.require(ctx, "compute.instances.setMetadata", ref);
    const i = await deps.repos.instances.get(project, zone, instance);
    if (!i) throw new NotFound(`The resource '${instanceResource(project, zone, instance)}' was not found`);
    // Whoever enrolls an agent can get the account's tokens through it: as attaching it, that needs actAs.
    const attached = i.serviceAccounts[0];
    if (attached) {
      const sa = await deps.repos.serviceAccounts.get(attached.email);
      if (sa)
        await deps.access.require(
          ctx,
          "iam.serviceAccounts.actAs",
          childOf(
            projectRef(deps.organizationId, sa.projectId),
            serviceAccountResource(sa.projectId, sa.email),
          ),
        );
    }
    const token = randomBytes(32).toString("base64url");
    const expireTime = new Date(Date.now() + ENROLLMENT_TTL_MS).toISOString();
    await deps.repos.enrollments.put({
      tokenSha256: sha256Hex(token),
      projectId: project,
      zone,
      instance,
      instanceId: i.id,
      expireTime,
    });
    return { enrollmentToken: token, expireTime, instance: instanceResource(project, zone, instance) };
  });

  router.add(
    "POST",
    "/warrant/v1/agents:enroll",
    async (ctx) => {
      const body = await readJsonObject(ctx.req);
      if (typeof body.enrollmentToken !== "string" || body.enrollmentToken === "")
        throw new InvalidArgument("enrollmentToken is required.");
      const sha = sha256Hex(body.enrollmentToken);
      const agent = await deps.store.transaction(async (tx) => {
        const r = repositories(tx);
        const e = await r.enrollments.get(sha);
        // One use only: the token is consumed whether or not it is still valid.
        if (e) await r.enrollments.delete(sha);
        if (!e || Date.parse(e.expireTime) < Date.now())
          throw Unauthenticated.invalid("the enrollment token is unknown, used or expired");
        const { secret, fields } = newSecret();
        const record: AgentRecord = {
          agentId: randomBytes(16).toString("hex"),
          ...fields,
          projectId: e.projectId,
          zone: e.zone,
          instance: e.instance,
          instanceId: e.instanceId,
          createTime: new Date().toISOString(),
          ...(e.inProcess ? { inProcess: true } : {}),
        };
        await r.agents.put(record);
        return { record, secret };
      });
      const instance = instanceOf(agent.record);
      audit(ctx, "enrolled", {
        agentId: agent.record.agentId,
        instance,
        expireTime: agent.record.expireTime,
        ...(agent.record.inProcess ? { inProcess: true } : {}),
      });
      return {
        agentCredential: `${agent.record.agentId}.${agent.secret}`,
        expireTime: agent.record.expireTime,
        instance,
      };
    },
    "none",
  );

  // Renewal replaces the secret: the one presented here stops working as this call commits.
  router.add(
    "POST",
    "/warrant/v1/agent/credential:renew",
    async (ctx) => {
      const { agent, secret: presented } = await agentOf(ctx);
      await readJsonObject(ctx.req);
      const renewed = await deps.store.transaction(async (tx) => {
        const r = repositories(tx);
        const cur = await r.agents.get(agent.agentId);
        // Revoked, or renewed by a concurrent call, since `agentOf` read it.
        if (!cur || !secretMatches(presented, cur.secretSha256)) return undefined;
        const { secret, fields } = newSecret();
        const next: AgentRecord = { ...cur, ...fields };
        await r.agents.put(next);
        return { record: next, secret };
      });
      if (!renewed) {
        audit(ctx, "refused", { agentId: agent.agentId, reason: "revoked or renewed concurrently" });
        throw Unauthenticated.invalid("the agent credential was revoked or already renewed");
      }
      audit(ctx, "renewed", {
        agentId: agent.agentId,
        instance: instanceOf(agent),
        expireTime: renewed.record.expireTime,
      });
      return {
        agentCredential: `${agent.agentId}.${renewed.secret}`,
        expireTime: renewed.record.expireTime,
      };
    },
    "none",
  );

  // Revokes every credential of the instance's agents: they get 401 on their next call, and must be
  // enrolled again (`warrant serve` re-enrolls its in-process agent by itself). Who may enroll an
  // agent (setMetadata) may end its credential; ending one grants nothing, so actAs is not needed.
  router.add("POST", `${instancePath}:resetAgent`, async (ctx) => {
    await readJsonObject(ctx.req);
    const { project, zone, instance } = ctx.params as { project: string; zone: string; instance: string };
    const ref = childOf(projectRef(deps.organizationId, project), instanceResource(project, zone, instance));
    await deps.access.require(ctx, "compute.instances.setMetadata", ref);
    const i = await deps.repos.instances.get(project, zone, instance);
    if (!i) throw new NotFound(`The resource '${instanceResource(project, zone, instance)}' was not found`);
    const revoked = await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      const agents = await r.agents.ofInstance(i.id);
      for (const a of agents) await r.agents.delete(a.agentId);
      return agents.map((a) => a.agentId);
    });
    for (const agentId of revoked)
      audit(ctx, "revoked", { agentId, instance: instanceResource(project, zone, instance) });
    feed.bump();
    return { instance: instanceResource(project, zone, instance), revokedCredentials: revoked.length };
  });

  router.add(
    "GET",
    "/warrant/v1/agent/view",
    async (ctx) => {
      const { agent } = await agentOf(ctx);
      const wait = ctx.url.searchParams.get("waitForChange") === "true";
      const since = Number(ctx.url.searchParams.get("sinceVersion") ?? "-1");
      const timeout = Number(ctx.url.searchParams.get("timeoutSec") ?? "60");
      if (!Number.isFinite(timeout) || timeout < 0 || timeout > MAX_VIEW_WAIT_S)
        throw new InvalidArgument(`timeoutSec must be between 0 and ${MAX_VIEW_WAIT_S}.`);
      if (wait && Number.isInteger(since) && since === feed.version) {
        const aborted = new AbortController();
        ctx.req.once("close", () => aborted.abort());
        await feed.waitFor(since, timeout * 1000, aborted.signal);
      }
      const version = feed.version;
      const view = await viewOf(agent);
      if (!view) throw new NotFound("The agent's instance no longer exists.");
      return { version, view };
    },
    "none",
  );

  router.add(
    "POST",
    "/warrant/v1/agent/token",
    async (ctx) => {
      const { agent } = await agentOf(ctx);
      const body = await readJsonObject(ctx.req);
      const requested = Array.isArray(body.scopes)
        ? body.scopes.filter((s): s is string => typeof s === "string")
        : [];
      const account = typeof body.account === "string" ? body.account : "default";
      const { sa } = await tokenTarget(agent, account);
      const scopes = effectiveScopes(sa.scopes, requested);
      const { token, claims } = await issueAccessToken(deps, {
        sub: `serviceAccount:${sa.email}`,
        uid: sa.uniqueId,
        scopes,
        azp: sa.uniqueId,
        via: "metadata",
      });
      recordIssued(deps.audit, ctx.requestId, "metadata", {
        subject: `serviceAccount:${sa.email}`,
        tokenType: "access_token",
        scopes,
        instance: instanceOf(agent),
        jti: claims.jti,
        exp: claims.exp,
      });
      return { access_token: token, expires_in: claims.exp - claims.iat, expires_at: claims.exp, scopes };
    },
    "none",
  );

  router.add(
    "POST",
    "/warrant/v1/agent/identity",
    async (ctx) => {
      const { agent } = await agentOf(ctx);
      const body = await readJsonObject(ctx.req);
      if (typeof body.audience !== "string" || body.audience === "")
        throw new InvalidArgument("non-empty audience parameter required");
      const full = body.format === "full";
      const account = typeof body.account === "string" ? body.account : "default";
      const { view, sa } = await tokenTarget(agent, account);
      const token = await mintIdToken(deps.keyRing.primary(), deps.idTokenIssuer, {
        audience: body.audience,
        subject: sa.uniqueId,
        azp: sa.uniqueId,
        ...(full ? { email: sa.email } : {}),
        ...(full
          ? {
              extra: {
                google: {
                  compute_engine: {
                    project_id: view.project.projectId,
                    project_number: Number(view.project.projectNumber),
                    zone: view.instance.zone,
                    instance_id: view.instance.id,
                    instance_name: view.instance.name,
                    instance_creation_timestamp: Math.floor(
                      Date.parse(view.instance.creationTimestamp.replace(/-00:00$/, "Z")) / 1000,
                    ),
                    ...(body.licenses === true ? { license_id: [] } : {}),
                  },
                },
              },
            }
          : {}),
      });
      recordIssued(deps.audit, ctx.requestId, "metadata", {
        subject: `serviceAccount:${sa.email}`,
        tokenType: "id_token",
        audience: body.audience,
        instance: instanceOf(agent),
      });
      return { token };
    },
    "none",
  );
}

const instanceOf = (a: AgentRecord) => instanceResource(a.projectId, a.zone, a.instance);
