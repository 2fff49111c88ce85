/**
 * First start: the installation's organization, its administrator and a demo world in which the
 * seed's flows (list buckets, list instances as the VM's service account) succeed. Idempotent:
 * later starts only re-issue the admin credential file if it was removed, and add the administrator
 * to the user directory if the state predates it.
 */
import { existsSync, writeFileSync } from "node:fs";
import type { Datastore, DocumentStore } from "../datastore/datastore.js";
import { repositories } from "../datastore/repositories.js";
import { computeTimestamp, type Instance, instanceHostname } from "../domain/compute/instance.js";
import { CLOUD_PLATFORM, SCOPE_PREFIX } from "../domain/compute/scopes.js";
import { boundMember } from "../domain/iam/members.js";
import { addBinding, emptyPolicy, newEtag, type Policy } from "../domain/iam/policy.js";
import { newComputeId, newProjectNumber, newUniqueId, randomDigits } from "../domain/ids.js";
import type { Installation } from "../domain/installation.js";
import { newClientSecret, newRefreshToken, sha256Hex } from "../domain/oauth/secrets.js";
import type { Project } from "../domain/project.js";
import { organizationResource, projectResource } from "../domain/resources.js";
import {
  defaultComputeServiceAccount,
  makeServiceAccount,
  serviceAccountEmail,
} from "../domain/service-account.js";
import { makeUser } from "../domain/user.js";
import { bindLegacyMembers } from "./iam/account-members.js";

export const ADMIN_EMAIL = "admin@warrant.local";
export const CLI_CLIENT_ID = "warrant-cli.apps.warrant.local";
export const DEMO_PROJECT = "demo-project";
export const DEMO_ACCOUNT_ID = "demo-sa";
export const DEMO_INSTANCE = "demo-vm";
export const DEMO_ZONE = "us-central1-a";
export const ADMIN_SCOPES = [CLOUD_PLATFORM, "openid", `${SCOPE_PREFIX}userinfo.email`];

export type { Installation } from "../domain/installation.js";

function policyWith(bindings: [string, string][]): Policy {
  let p: Omit<Policy, "etag"> = emptyPolicy();
  for (const [role, member] of bindings) p = addBinding(p, role, member);
  return { ...p, etag: newEtag() };
}

export async function bootstrap(
  store: Datastore,
  adminCredentialFile: string,
  tokenUri: string,
): Promise<Installation> {
  const installation = await store.transaction(async (tx) => {
    const r = repositories(tx);
    const existing = await r.meta.get("installation");
    if (existing) {
      // State from before the user directory: the administrator joins it, dated from the installation
      // so that the tokens it already holds stay valid.
      if (!(await r.users.get(ADMIN_EMAIL)))
        await r.users.insert(
          makeUser(ADMIN_EMAIL, { displayName: "Warrant administrator", createTime: existing.createdAt }),
        );
      await bindMembersToUniqueIds(tx);
      return existing;
    }
    const inst: Installation = {
      organizationId: randomDigits(12),
      createdAt: new Date().toISOString(),
      defaultProject: DEMO_PROJECT,
    };
    const adminUser = makeUser(ADMIN_EMAIL, {
      displayName: "Warrant administrator",
      createTime: inst.createdAt,
    });
    await r.users.insert(adminUser);
    const admin = boundMember("user", ADMIN_EMAIL, adminUser.uniqueId!);
    await r.policies.put(
      organizationResource(inst.organizationId),
      policyWith([
        ["roles/owner", admin],
        ["roles/resourcemanager.projectCreator", admin],
      ]),
    );
    const project: Project = {
      projectId: DEMO_PROJECT,
      projectNumber: newProjectNumber(),
      name: "Demo Project",
      lifecycleState: "ACTIVE",
      createTime: new Date().toISOString(),
      parent: { type: "organization", id: inst.organizationId },
    };
    await r.projects.insert(project);
    const email = serviceAccountEmail(DEMO_ACCOUNT_ID, DEMO_PROJECT);
    const demo = makeServiceAccount(DEMO_PROJECT, email, {
      displayName: "Demo workload",
      description: "Runs demo-vm; may list buckets and instances of demo-project.",
    });
    await r.serviceAccounts.insert(demo);
    await r.serviceAccounts.insert(defaultComputeServiceAccount(DEMO_PROJECT, project.projectNumber));
    const workload = boundMember("serviceAccount", email, demo.uniqueId);
    await r.policies.put(
      projectResource(DEMO_PROJECT),
      policyWith([
        ["roles/owner", admin],
        ["roles/storage.admin", workload],
        ["roles/compute.viewer", workload],
      ]),
    );
    const now = computeTimestamp();
    const vm: Instance = {
      id: newComputeId(),
      projectId: DEMO_PROJECT,
      zone: DEMO_ZONE,
      name: DEMO_INSTANCE,
      description: "Runs as demo-sa with the cloud-platform scope.",
      machineType: "e2-medium",
      status: "RUNNING",
      serviceAccounts: [{ email, scopes: [CLOUD_PLATFORM] }],
      networkIP: "10.128.0.2",
      hostname: instanceHostname(DEMO_INSTANCE, DEMO_PROJECT),
      creationTimestamp: now,
      lastStartTimestamp: now,
      labels: {},
      metadata: [],
      tags: [],
    };
    await r.instances.insert(vm);
    await r.meta.put("installation", inst);
    await r.meta.put(MEMBERS_BOUND, true);
    return inst;
  });
  if (!existsSync(adminCredentialFile))
    await issueAdminCredential(store, adminCredentialFile, tokenUri, installation);
  return installation;
}

/** Marks state whose policy members are bound to unique ids (see `account-members.ts`). */
const MEMBERS_BOUND = "members-bound-to-unique-ids";

/** Once, for state from before unique-id binding: users get unique ids, policy members get bound. */
async function bindMembersToUniqueIds(tx: DocumentStore) {
  const r = repositories(tx);
  if (await r.meta.get(MEMBERS_BOUND)) return;
  for (const { value: user } of await tx.list("user"))
    if (!user.uniqueId) await r.users.put({ ...user, uniqueId: newUniqueId() });
  await bindLegacyMembers(tx);
  await r.meta.put(MEMBERS_BOUND, true);
}

/** Writes an authorized_user credential for the administrator (mode 0600). */
async function issueAdminCredential(store: Datastore, file: string, tokenUri: string, inst: Installation) {
  const clientSecret = newClientSecret();
  const refreshToken = newRefreshToken();
  await store.transaction(async (tx) => {
    const r = repositories(tx);
    await r.oauthClients.put({
      clientId: CLI_CLIENT_ID,
      secretSha256: sha256Hex(clientSecret),
      displayName: "Warrant CLI",
    });
    // A new client secret invalidates every earlier admin refresh token: the old file is gone.
    await r.refreshTokens.put({
      tokenSha256: sha256Hex(refreshToken),
      subject: `user:${ADMIN_EMAIL}`,
      clientId: CLI_CLIENT_ID,
      scopes: ADMIN_SCOPES,
      createTime: new Date().toISOString(),
    });
  });
  const credential = {
    type: "authorized_user",
    client_id: CLI_CLIENT_ID,
    client_secret: clientSecret,
    refresh_token: refreshToken,
    token_uri: tokenUri,
    quota_project_id: inst.defaultProject,
    universe_domain: "googleapis.com",
    account: ADMIN_EMAIL,
  };
  writeFileSync(file, `${JSON.stringify(credential, null, 2)}\n`, { mode: 0o600, flag: "w" });
}
