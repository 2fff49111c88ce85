/**
 * Warrant's user directory (no Google equivalent: Google's users live in Cloud Identity). A
 * `user:EMAIL` token works only while EMAIL is an active user here, so deleting or disabling a user
 * ends their access; `:issueCredential` hands an administrator an `authorized_user` credential for
 * a user (what `warrant auth application-default login --user` writes).
 *
 * Authorization, on the installation's organization: reading the directory needs
 * `resourcemanager.projects.getIamPolicy` there (whoever may read the organization's project
 * policies already sees every member); changing it or issuing credentials needs
 * `resourcemanager.projects.setIamPolicy` there (roles/owner on the organization, as for the
 * signing keys). A credential lets its holder act as the user, so issuing one is administration.
 */
import { randomBytes } from "node:crypto";
import { repositories } from "../../../datastore/repositories.js";
import { CLOUD_PLATFORM, SCOPE_PREFIX } from "../../../domain/compute/scopes.js";
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from "../../../domain/errors.js";
import { projectIdProblem } from "../../../domain/ids.js";
import { parseScopes } from "../../../domain/oauth/assertion.js";
import { newClientSecret, newRefreshToken, sha256Hex } from "../../../domain/oauth/secrets.js";
import { DEFAULT_ACCESS_TOKEN_LIFETIME_S } from "../../../domain/tokens/access-token.js";
import {
  makeUser,
  normalizeEmail,
  type User,
  userDisplayNameProblem,
  userEmailProblem,
} from "../../../domain/user.js";
import { hashPassword, passwordProblem } from "../../../domain/user-password.js";
import { ADMIN_EMAIL } from "../../bootstrap.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { claimPendingMembers } from "../../iam/account-members.js";
import { pageSize, pageToken } from "../params.js";
import {
  DIRECTORY_READ_PERMISSION,
  DIRECTORY_WRITE_PERMISSION,
  directoryAccess,
} from "./directory-access.js";

export const USERS_READ_PERMISSION = DIRECTORY_READ_PERMISSION;
export const USERS_WRITE_PERMISSION = DIRECTORY_WRITE_PERMISSION;
/** Scopes of an issued credential when none are asked for: gcloud's ADC login defaults. */
export const DEFAULT_CREDENTIAL_SCOPES = [CLOUD_PLATFORM, "openid", `${SCOPE_PREFIX}userinfo.email`];
/** Live (unrevoked) credentials a user may hold at once. */
export const MAX_CREDENTIALS_PER_USER = 100;
/** A revoked credential's record is kept until every access token it issued has expired. */
const REVOKED_RETENTION_MS = (DEFAULT_ACCESS_TOKEN_LIFETIME_S + 300) * 1000;

/**
 * Adds a user to the directory; false if the address is taken. Bindings written for the address
 * before the user existed become this user's (bound to its unique id), so a later user of the
 * address will not inherit them. Also used by the upstream SSO sign-in (first sign-in creates the user).
 */
export async function addUser(deps: ServerDeps, user: User): Promise<boolean> {
  const claimed = await deps.store.transaction(async (tx) => {
    if (!(await repositories(tx).users.insert(user))) return null;
    return claimPendingMembers(tx, "user", user.email, user.uniqueId!);
  });
  if (!claimed) return false;
  for (const [resource, policy] of claimed) deps.access.policyChanged(resource, policy);
  deps.users.invalidateUser(user.email);
  return true;
}

export function registerUsers(router: Router, deps: ServerDeps) {
  const { requireRead, requireWrite, audit } = directoryAccess(deps, "the user directory");

  /** The path's e-mail, validated (a malformed one is 400, not a 404 that hides nothing). */
  function emailParam(ctx: RequestContext): string {
    const email = ctx.params.user!;
    const problem = userEmailProblem(email);
    if (problem) throw new InvalidArgument(problem);
    return normalizeEmail(email);
  }

  async function existing(email: string): Promise<User> {
    const u = await deps.repos.users.get(email);
    if (!u) throw new NotFound(`User ${email} not found.`);
    return u;
  }

  router.add("POST", "/warrant/v1/users", async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const problem = userEmailProblem(body.email) ?? userDisplayNameProblem(body.displayName);
    if (problem) throw new InvalidArgument(problem);
    await requireWrite(ctx, "Creating a user");
    const user = makeUser(body.email as string, {
      ...(typeof body.displayName === "string" ? { displayName: body.displayName } : {}),
    });
    if (!(await addUser(deps, user))) throw new AlreadyExists(`User ${user.email} already exists.`);
    audit(ctx, "users.create", { user: user.email });
    return user;
  });

  router.add("GET", "/warrant/v1/users", async (ctx) => {
    const size = pageSize(ctx, "pageSize", 100, 1000);
    const token = pageToken(ctx);
    await requireRead(ctx);
    const page = await deps.repos.users.list({ pageSize: size, ...(token ? { pageToken: token } : {}) });
    return { users: page.items, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) };
  });

  router.add("GET", "/warrant/v1/users/{user}", async (ctx) => {
    const email = emailParam(ctx);
    await requireRead(ctx);
    return existing(email);
  });

  router.add("DELETE", "/warrant/v1/users/{user}", async (ctx) => {
    const email = emailParam(ctx);
    await requireWrite(ctx, "Deleting a user");
    if (email === ADMIN_EMAIL)
      throw new FailedPrecondition(
        `${ADMIN_EMAIL} is the installation's administrator and cannot be deleted.`,
      );
    const subject = `user:${email}`;
    const removed = await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      if (!(await r.users.delete(email))) return null;
      // Their credentials go with them: refresh tokens are deleted, and the clients issued to them
      // are marked revoked (kept, like any revoked client, until their access tokens have expired,
      // so that a refresh answers invalid_grant as Google's does, not invalid_client).
      const tokens = await r.refreshTokens.ofSubject(subject);
      for (const t of tokens) await r.refreshTokens.delete(t.tokenSha256);
      await r.userPasswords.delete(email);
      for (const x of await r.signInSessions.ofUser(email)) await r.signInSessions.delete(x.sessionSha256);
      const clients = await r.oauthClients.ofSubject(subject);
      const revokeTime = new Date().toISOString();
      for (const c of clients) if (!c.revokeTime) await r.oauthClients.put({ ...c, revokeTime });
      return { refreshTokens: tokens.length, clients: clients.length };
    });
    if (!removed) throw new NotFound(`User ${email} not found.`);
    deps.users.invalidateUser(email);
    audit(ctx, "users.delete", { user: email, ...removed });
    return {};
  });

  for (const [verb, state] of [
    ["disable", "DISABLED"],
    ["enable", "ACTIVE"],
  ] as const)
    router.add("POST", `/warrant/v1/users/{user}:${verb}`, async (ctx) => {
      await readJsonObject(ctx.req);
      const email = emailParam(ctx);
      await requireWrite(ctx, `${verb === "disable" ? "Disabling" : "Enabling"} a user`);
      if (email === ADMIN_EMAIL && state === "DISABLED")
        throw new FailedPrecondition(
          `${ADMIN_EMAIL} is the installation's administrator and cannot be disabled.`,
        );
      const user = await deps.store.transaction(async (tx) => {
        const r = repositories(tx);
        const u = await r.users.get(email);
        if (!u) throw new NotFound(`User ${email} not found.`);
        if (u.state === state) return u;
        const next: User = {
          ...u,
          state,
          // Tokens from before the disable stay refused once the user is enabled again.
          ...(state === "ACTIVE" ? { tokensValidAfter: new Date().toISOString() } : {}),
        };
        await r.users.put(next);
        return next;
      });
      deps.users.invalidateUser(email);
      audit(ctx, `users.${verb}`, { user: email });
      return user;
    });

  // Sets (or replaces) the password the user signs in with at the authorization endpoint. The
  // password is hashed here (scrypt) and never stored, logged or audited as given.
  router.add("POST", "/warrant/v1/users/{user}:setPassword", async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const email = emailParam(ctx);
    const problem = passwordProblem(body.password);
    if (problem) throw new InvalidArgument(problem);
    await requireWrite(ctx, "Setting a user's password");
    const hash = await hashPassword(body.password as string);
    await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      const u = await r.users.get(email);
      if (!u) throw new NotFound(`User ${email} not found.`);
      await r.userPasswords.put({ email, uid: u.uniqueId!, hash, updateTime: new Date().toISOString() });
      // A new password ends the browser sessions signed in with any earlier one.
      for (const x of await r.signInSessions.ofUser(email)) await r.signInSessions.delete(x.sessionSha256);
    });
    audit(ctx, "users.setPassword", { user: email });
    return {};
  });

  router.add("POST", "/warrant/v1/users/{user}:issueCredential", async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const email = emailParam(ctx);
    let scopes = DEFAULT_CREDENTIAL_SCOPES;
    if (body.scopes !== undefined) {
      if (!Array.isArray(body.scopes) || body.scopes.some((s) => typeof s !== "string"))
        throw new InvalidArgument("Invalid value at 'scopes': expected a list of strings.");
      const parsed = parseScopes((body.scopes as string[]).join(" "));
      if (typeof parsed === "string") throw new InvalidArgument(parsed);
      if (parsed.length === 0) throw new InvalidArgument("scopes must not be empty.");
      scopes = parsed;
    }
    const quotaProject = body.quotaProjectId;
    if (quotaProject !== undefined) {
      const p = projectIdProblem(quotaProject);
      if (p) throw new InvalidArgument(`Invalid quotaProjectId: ${p}`);
    }
    await requireWrite(ctx, "Issuing a user credential");
    const user = await existing(email);
    if (user.state !== "ACTIVE")
      throw new FailedPrecondition(`User ${email} is disabled; enable it before issuing a credential.`);
    const subject = `user:${email}`;
    const clientId = `warrant-adc-${randomBytes(10).toString("hex")}.apps.warrant.local`;
    const clientSecret = newClientSecret();
    const refreshToken = newRefreshToken();
    const now = new Date();
    await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      const holder = await r.users.get(email);
      if (!holder) throw new NotFound(`User ${email} not found.`);
      let live = 0;
      for (const c of await r.oauthClients.ofSubject(subject)) {
        if (!c.revokeTime) live++;
        else if (now.getTime() - Date.parse(c.revokeTime) > REVOKED_RETENTION_MS)
          await r.oauthClients.delete(c.clientId);
      }
      if (live >= MAX_CREDENTIALS_PER_USER)
        throw new FailedPrecondition(
          `User ${email} already holds ${MAX_CREDENTIALS_PER_USER} credentials; revoke some first.`,
        );
      await r.oauthClients.put({
        clientId,
        secretSha256: sha256Hex(clientSecret),
        displayName: `Application default credentials of ${email}`,
        subject,
        createTime: now.toISOString(),
      });
      await r.refreshTokens.put({
        tokenSha256: sha256Hex(refreshToken),
        subject,
        ...(holder.uniqueId ? { uid: holder.uniqueId } : {}),
        clientId,
        scopes,
        createTime: now.toISOString(),
      });
    });
    audit(ctx, "users.issueCredential", { user: email, clientId, scopes });
    return {
      type: "authorized_user",
      client_id: clientId,
      client_secret: clientSecret,
      refresh_token: refreshToken,
      token_uri: `${ctx.baseUrl}/token`,
      ...(typeof quotaProject === "string" ? { quota_project_id: quotaProject } : {}),
      universe_domain: "googleapis.com",
      account: email,
    };
  });
}
