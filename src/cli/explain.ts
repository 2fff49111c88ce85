/**
 * `warrant iam explain`, offline: resolve a resource name to its ancestry chain from the datastore,
 * then decide and explain exactly as the server does (`analyzeAccess()` in src/server/iam/explain.ts,
 * which the Policy Troubleshooter API serves too), reading policies and custom roles from a read-only
 * view of the state directory.
 */
import { type Repositories, repositories } from "../datastore/repositories.js";
import { InvalidArgument } from "../domain/errors.js";
import type { BindingRef } from "../domain/iam/authorize.js";
import type { DenyRef } from "../domain/iam/deny.js";
import { GroupIndex } from "../domain/iam/groups.js";
import { parseMember } from "../domain/iam/members.js";
import {
  ANONYMOUS,
  type Principal,
  serviceAccountPrincipal,
  userPrincipal,
} from "../domain/iam/principal.js";
import { roleResolver } from "../domain/iam/roles.js";
import type { PolicySource } from "../server/iam/decide.js";
import {
  type AccessAnalysis,
  analyzeAccess,
  asAuthenticated,
  isPermissionName,
  RESOURCE_FORMS,
  type ResolvedResource,
  ResourceNotFound,
  resolveResource,
} from "../server/iam/explain.js";
import { CliError, UsageError } from "./errors.js";
import { openReadOnlyStore } from "./offline-store.js";

/** Exit code when the question cannot be answered (0 is allowed, 1 denied). */
export const EXPLAIN_ERROR_EXIT = 2;

export interface ExplainedBinding {
  resource: string;
  role: string;
  members: string[];
  condition?: string;
  /** `grants`: it grants the permission to the principal; `condition-not-met`: it would, but its condition was false or could not be evaluated; `not-a-member`: the principal is not among its members. */
  effect: "grants" | "condition-not-met" | "not-a-member";
  /** The member through which the principal matches (for `grants` and `condition-not-met`). */
  matchedMember?: string;
  /** For a group member: the groups through which the principal belongs to it, innermost first. */
  via?: string[];
  /** For a conditional binding: its condition's value and the attribute values it saw. */
  conditionExplanation?: string;
}

export interface Explanation {
  allowed: boolean;
  principal: string;
  permission: string;
  resource: string;
  reason: string;
  /** Whether any predefined role contains the permission (custom roles may hold only those). */
  knownPermission: boolean;
  /** The policy chain evaluated, closest first, with each policy's binding count. */
  chain: { resource: string; bindings: number }[];
  bindingsConsidered: number;
  /** Bindings along the chain whose role contains the permission: those that grant it or would. */
  bindingsWithPermission: ExplainedBinding[];
  grantedBy: BindingRef[];
  conditionalBindingsSkipped: BindingRef[];
  /** The deny rule that refused the permission (checked before the allow policies). */
  deniedBy?: DenyRef;
  /** Predefined roles that contain the permission, best advice first (at most ten). */
  rolesThatGrantPermission: string[];
  /** The role to grant for this permission: the first of the above. */
  suggestedRole?: string;
  /** A command that would grant the suggested role, when the CLI has one for the resource. */
  grantCommand?: string;
}

/** The caller a member names: `user:EMAIL`, `serviceAccount:EMAIL`, or `allUsers` (anonymous). */
export function principalOf(member: string): Principal {
  const parsed = parseMember(member);
  if (typeof parsed === "string")
    throw new UsageError(
      `argument --member: ${parsed}`,
      "Name a caller: user:EMAIL, serviceAccount:EMAIL, or allUsers for an anonymous caller.",
    );
  switch (parsed.type) {
    case "user":
      return userPrincipal(parsed.email);
    case "serviceAccount":
      return serviceAccountPrincipal(parsed.email);
    case "allUsers":
      return ANONYMOUS;
    case "federatedSubject":
      // Offline, the identity's mapped groups and attributes are unknown: only principal:// and
      // principalSet://…/* members of its pool can match it here.
      return {
        kind: "federated",
        pool: parsed.pool,
        subject: parsed.subject,
        poolGroups: [],
        groups: [],
        attributes: {},
      };
    default:
      throw new UsageError(
        `argument --member: '${member}' is a policy member, not a caller that can make a request.`,
        "Name a caller: user:EMAIL, serviceAccount:EMAIL, or allUsers for an anonymous caller " +
          "(group:, domain: and principalSet: members name sets of callers, see docs/iam.md).",
      );
  }
}

function notFound(what: string, stateDir: string, note = ""): CliError {
  return new CliError(
    `${what} not found in the datastore of ${stateDir}${note}.`,
    "Check the name, and --state-dir (or WARRANT_STATE_DIR): it must be the directory the server uses.",
    EXPLAIN_ERROR_EXIT,
  );
}

/** Resolves a resource name as the server does; its errors worded for the command line. */
async function resolveForCli(
  repos: Repositories,
  organizationId: string,
  name: string,
  stateDir: string,
): Promise<ResolvedResource> {
  try {
    return await resolveResource(repos, organizationId, name);
  } catch (e) {
    if (e instanceof ResourceNotFound) throw notFound(e.what, stateDir, e.note);
    if (e instanceof InvalidArgument)
      throw new UsageError(
        `argument --resource: ${e.message.replace(/\. Use .*$/, ".")}`,
        `Use ${RESOURCE_FORMS}.`,
      );
    throw e;
  }
}

function grantCommand(target: ResolvedResource, member: string, role: string): string | undefined {
  if (target.serviceAccount)
    return `warrant iam service-accounts add-iam-policy-binding ${target.serviceAccount} --member=${member} --role=${role}`;
  if (target.projectId)
    return `warrant projects add-iam-policy-binding ${target.projectId} --member=${member} --role=${role}`;
  return undefined;
}

/** The command's view of the shared analysis (`analyzeAccess`, which the troubleshooter API serves too). */
export function toExplanation(a: AccessAnalysis, permission: string, target: ResolvedResource): Explanation {
  const d = a.decision;
  const bindings: ExplainedBinding[] = [];
  for (const p of a.policies)
    for (const b of p.bindings) {
      if (!b.rolePermission) continue;
      bindings.push({
        resource: p.resource,
        role: b.role,
        members: b.members.map((m) => m.member),
        ...(b.condition ? { condition: b.condition.title || b.condition.expression } : {}),
        effect: b.access === "GRANTED" ? "grants" : b.matchedMember ? "condition-not-met" : "not-a-member",
        ...(b.matchedMember ? { matchedMember: b.matchedMember } : {}),
        ...(b.via ? { via: b.via } : {}),
        ...(b.conditionExplanation ? { conditionExplanation: b.conditionExplanation } : {}),
      });
    }
  const roles = a.rolesThatGrantPermission;
  // A deny is not cured by a grant: no role to suggest then.
  const suggested = d.allowed || d.deniedBy ? undefined : roles[0];
  const command = suggested && grantCommand(target, d.principal, suggested);
  return {
    allowed: d.allowed,
    principal: d.principal,
    permission,
    resource: d.resource,
    reason: d.reason,
    knownPermission: a.knownPermission,
    chain: a.policies.map((l) => ({ resource: l.resource, bindings: l.policy?.bindings.length ?? 0 })),
    bindingsConsidered: d.bindingsConsidered,
    bindingsWithPermission: bindings,
    grantedBy: d.grantedBy,
    conditionalBindingsSkipped: d.conditionalSkipped,
    ...(d.deniedBy ? { deniedBy: d.deniedBy } : {}),
    rolesThatGrantPermission: roles,
    ...(suggested ? { suggestedRole: suggested } : {}),
    ...(command ? { grantCommand: command } : {}),
  };
}

/** Answers "does MEMBER hold PERMISSION on RESOURCE?" from the state directory, without a server. */
export async function explainOffline(
  stateDir: string,
  member: string,
  permission: string,
  resource: string,
): Promise<Explanation> {
  const principal = principalOf(member);
  if (!isPermissionName(permission))
    throw new UsageError(
      `argument --permission: '${permission}' is not a permission name.`,
      "Permissions look like SERVICE.RESOURCE.VERB, e.g. storage.buckets.list.",
    );
  const store = await openReadOnlyStore(stateDir, EXPLAIN_ERROR_EXIT);
  try {
    const repos = repositories(store);
    const installation = await repos.meta.get("installation");
    if (!installation)
      throw new CliError(
        `The datastore of ${stateDir} has no installation yet.`,
        "Start `warrant serve` on it once.",
        EXPLAIN_ERROR_EXIT,
      );
    const caller = await asAuthenticated(repos, principal);
    const target = await resolveForCli(repos, installation.organizationId, resource, stateDir);
    const source: PolicySource = {
      policyOf: (r) => repos.policies.get(r),
      roles: async () => roleResolver(await repos.customRoles.all()),
      groups: async () => new GroupIndex(await repos.groups.all()),
      denyPolicies: (resource) => repos.denyPolicies.list(resource),
    };
    const analysis = await analyzeAccess(
      source,
      repos,
      installation.organizationId,
      caller,
      permission,
      target.ref,
    );
    return toExplanation(analysis, permission, target);
  } finally {
    store.close();
  }
}

const listed = (members: string[]) =>
  members.length <= 4
    ? members.join(", ")
    : `${members.slice(0, 3).join(", ")} and ${members.length - 3} more`;

/** The human-readable answer. */
export function renderExplanation(e: Explanation): string {
  const lines: string[] = [];
  lines.push(
    e.allowed
      ? `ALLOWED: ${e.principal} has ${e.permission} on ${e.resource}`
      : `DENIED: ${e.principal} does not have ${e.permission} on ${e.resource}`,
  );
  lines.push(`Reason: ${e.reason}`);
  if (e.deniedBy) {
    const d = e.deniedBy;
    lines.push(
      "",
      "Denied by a deny policy (deny policies are checked first; no grant overrides them):",
      `  policy:     ${d.policy}${d.displayName ? ` ("${d.displayName}")` : ""}`,
      `  attached:   ${d.attachedTo}`,
      `  rule:       ${d.rule}${d.description ? ` ("${d.description}")` : ""}`,
      `  permission: ${d.permission} (matched ${d.matchedPermission})`,
      `  principal:  ${d.matchedPrincipal}${d.via?.length ? ` (as a member of ${d.via.map((g) => `group:${g}`).join(" in ")})` : ""}`,
      ...(d.condition ? [`  condition:  ${d.condition}`] : []),
    );
  }
  lines.push("", "Policies evaluated (the resource, then its ancestors):");
  const width = Math.max(...e.chain.map((c) => c.resource.length));
  for (const c of e.chain)
    lines.push(
      `  ${c.resource.padEnd(width)}  ${c.bindings === 0 ? "no policy or no bindings" : `${c.bindings} binding${c.bindings === 1 ? "" : "s"}`}`,
    );
  lines.push("", `Bindings whose role contains ${e.permission}:`);
  if (e.bindingsWithPermission.length === 0) lines.push("  none");
  for (const b of e.bindingsWithPermission) {
    const through = `${b.matchedMember}${b.via?.length ? `, as a member of ${b.via.map((g) => `group:${g}`).join(" in ")}` : ""}`;
    const effect =
      b.effect === "grants"
        ? `grants it (through member ${through})${b.condition ? `; condition "${b.condition}" met` : ""}`
        : b.effect === "condition-not-met"
          ? `would grant it (through ${through}) but its ${b.conditionExplanation}: grants nothing`
          : `${e.principal} is not among its members (${listed(b.members)})`;
    lines.push(`  ${b.role} on ${b.resource}: ${effect}`);
  }
  if (!e.allowed && e.rolesThatGrantPermission.length > 0) {
    lines.push("", `Suggested role: ${e.suggestedRole}`);
    const others = e.rolesThatGrantPermission.slice(1, 5);
    if (others.length) lines.push(`Other roles that grant it: ${others.join(", ")}`);
    if (e.grantCommand) lines.push(`To grant it: ${e.grantCommand}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The Policy Troubleshooter's answer (`POST /v1/iam:troubleshoot`), as `warrant iam explain --online` reads it. */
export interface TroubleshootAnswer {
  access: string;
  explainedPolicies?: {
    access: string;
    fullResourceName?: string;
    bindingExplanations?: {
      access: string;
      role: string;
      rolePermission: string;
      memberships?: Record<string, { membership: string }>;
      condition?: { title?: string; expression: string };
      conditionExplanation?: { explanation?: string };
    }[];
  }[];
  denyExplanation?: { fullResourceName?: string; deniedBy?: DenyRef; message?: string };
  explanation?: { reason: string; rolesThatGrantPermission?: string[] };
}

/** The human-readable form of the server's answer: the offline form's, with what the caller may not read marked. */
export function renderTroubleshooting(
  a: TroubleshootAnswer,
  member: string,
  permission: string,
  resource: string,
): string {
  const verdict =
    a.access === "GRANTED"
      ? `ALLOWED: ${member} has ${permission} on ${resource}`
      : a.access === "NOT_GRANTED"
        ? `DENIED: ${member} does not have ${permission} on ${resource}`
        : `UNKNOWN (${a.access}): whether ${member} has ${permission} on ${resource}`;
  const lines = [verdict];
  if (a.explanation) lines.push(`Reason: ${a.explanation.reason}`);
  else if (a.access === "UNKNOWN_INFO_DENIED")
    lines.push("Reason: you may not read every policy involved (getIamPolicy on its resource).");
  const d = a.denyExplanation;
  if (d)
    lines.push(
      "",
      d.deniedBy
        ? `Denied by deny policy ${d.deniedBy.policy}${d.deniedBy.displayName ? ` ("${d.deniedBy.displayName}")` : ""}, rule ${d.deniedBy.rule}, attached to ${d.deniedBy.attachedTo}`
        : (d.message ?? `Denied by a deny policy attached to ${d.fullResourceName}`),
    );
  lines.push("", "Policies evaluated (the resource, then its ancestors):");
  for (const p of a.explainedPolicies ?? []) {
    if (!p.fullResourceName) {
      lines.push("  (a policy you may not read)");
      continue;
    }
    lines.push(`  ${p.fullResourceName}: ${p.access}`);
    for (const b of p.bindingExplanations ?? []) {
      if (b.rolePermission !== "ROLE_PERMISSION_INCLUDED") continue;
      const through = Object.entries(b.memberships ?? {})
        .filter(([, m]) => m.membership === "MEMBERSHIP_INCLUDED")
        .map(([k]) => k);
      const cond = b.condition ? ` if "${b.condition.title || b.condition.expression}"` : "";
      lines.push(
        `    ${b.role}${cond}: ${b.access}${through.length ? ` (through ${through.join(", ")})` : ""}${b.conditionExplanation?.explanation ? `; ${b.conditionExplanation.explanation}` : ""}`,
      );
    }
  }
  const roles = a.explanation?.rolesThatGrantPermission;
  if (a.access !== "GRANTED" && roles?.length)
    lines.push("", `Roles that grant it: ${roles.slice(0, 5).join(", ")}`);
  return `${lines.join("\n")}\n`;
}
