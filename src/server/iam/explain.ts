/**
 * The one explanation of an IAM decision, shared by `warrant iam explain` (offline, over a read-only
 * view of the datastore) and the Policy Troubleshooter API (`POST /v1/iam:troubleshoot`, over the
 * server's policy cache): resolve a resource name to the chain the server checks, decide exactly as
 * `AccessControl` does (`evaluationInputs()`, then `authorize()`), and annotate every binding of every
 * policy along the chain: whether its role contains the permission, which of its members include the
 * principal (and through which groups), and what its condition made of it.
 */
import type { Repositories } from "../../datastore/repositories.js";
import { InvalidArgument, NotFound } from "../../domain/errors.js";
import { type AuthorizeContext, authorize, type Decision, holds } from "../../domain/iam/authorize.js";
import { parseMember } from "../../domain/iam/members.js";
import type { Condition, Policy } from "../../domain/iam/policy.js";
import { type Principal, serviceAccountPrincipal, userPrincipal } from "../../domain/iam/principal.js";
import { KNOWN_PERMISSIONS, rolesGranting } from "../../domain/iam/roles.js";
import {
  childOf,
  instanceResource,
  organizationRef,
  projectRef,
  type ResourceRef,
  serviceAccountResource,
} from "../../domain/resources.js";
import { bucketResource } from "../../domain/storage/bucket.js";
import { objectResource } from "../../domain/storage/object.js";
import { memberDisplayer } from "./account-members.js";
import { evaluationInputs, type PolicySource } from "./decide.js";

export const RESOURCE_FORMS =
  "organizations/ORG, projects/P, projects/P/serviceAccounts/EMAIL, projects/P/zones/Z/instances/NAME, " +
  "projects/_/buckets/BUCKET or projects/_/buckets/BUCKET/objects/OBJECT";

export interface ResolvedResource {
  ref: ResourceRef;
  /** The project the resource belongs to, if any. */
  projectId?: string;
  /** For a service account: its email. */
  serviceAccount?: string;
}

/** A resource the datastore does not hold; `what` names it ("Project p"). */
export class ResourceNotFound extends NotFound {
  constructor(
    readonly what: string,
    readonly note = "",
  ) {
    super(`${what} not found${note}.`);
  }
}

const unsupported = (name: string, what = "unsupported resource") =>
  new InvalidArgument(`${what} '${name}'. Use ${RESOURCE_FORMS}.`);

/** Resolves a resource name to the chain the server would check, from the datastore's records. */
export async function resolveResource(
  repos: Repositories,
  organizationId: string,
  name: string,
): Promise<ResolvedResource> {
  const object = /^projects\/([^/]+)\/buckets\/([^/]+)\/objects\/(.+)$/.exec(name.replace(/^\/+/, ""));
  if (object) {
    const bucket = await repos.buckets.get(object[2]!);
    if (!bucket || (object[1] !== "_" && bucket.projectId !== object[1]))
      throw new ResourceNotFound(`Bucket ${object[2]}`);
    // As the server checks an object: by name, existing or not (a create is checked before it exists).
    return {
      ref: childOf(
        childOf(projectRef(organizationId, bucket.projectId), bucketResource(bucket.name)),
        objectResource(bucket.name, object[3]!),
      ),
      projectId: bucket.projectId,
    };
  }
  const parts = name.replace(/^\/+|\/+$/g, "").split("/");
  const [k0, v0, k1, v1, k2, v2] = parts;
  if (parts.some((p) => p === "") || parts.length % 2 !== 0) throw unsupported(name, "cannot parse");
  if (parts.length === 2 && k0 === "organizations") {
    if (v0 !== organizationId)
      throw new ResourceNotFound(
        `Organization ${v0}`,
        ` (its organization is organizations/${organizationId})`,
      );
    return { ref: organizationRef(organizationId) };
  }
  if (k0 !== "projects") throw unsupported(name);
  let project = v0!;
  const existingProject = async (id: string) => {
    if (await repos.projects.get(id)) return id;
    // A project number names the project too (full resource names often carry it).
    const byNumber = /^\d+$/.test(id)
      ? (await repos.projects.all()).find((p) => p.projectNumber === id)
      : undefined;
    if (!byNumber) throw new ResourceNotFound(`Project ${id}`);
    return byNumber.projectId;
  };
  if (parts.length === 2) {
    project = await existingProject(project);
    return { ref: projectRef(organizationId, project), projectId: project };
  }
  if (parts.length === 4 && k1 === "serviceAccounts") {
    const id = v1!;
    const sa = id.includes("@")
      ? await repos.serviceAccounts.get(id)
      : await repos.serviceAccounts.getByUniqueId(project === "-" ? undefined : project, id);
    if (!sa || (project !== "-" && sa.projectId !== project))
      throw new ResourceNotFound(`Service account ${id}`);
    return {
      ref: childOf(projectRef(organizationId, sa.projectId), serviceAccountResource(sa.projectId, sa.email)),
      projectId: sa.projectId,
      serviceAccount: sa.email,
    };
  }
  if (parts.length === 4 && k1 === "buckets") {
    const bucket = await repos.buckets.get(v1!);
    if (!bucket || (project !== "_" && bucket.projectId !== project))
      throw new ResourceNotFound(`Bucket ${v1}`);
    return {
      ref: childOf(projectRef(organizationId, bucket.projectId), bucketResource(bucket.name)),
      projectId: bucket.projectId,
    };
  }
  if (parts.length === 6 && k1 === "zones" && k2 === "instances") {
    project = await existingProject(project);
    if (!(await repos.instances.get(project, v1!, v2!)))
      throw new ResourceNotFound(`Instance ${v2} in zone ${v1} of project ${project}`);
    return {
      ref: childOf(projectRef(organizationId, project), instanceResource(project, v1!, v2!)),
      projectId: project,
    };
  }
  throw unsupported(name);
}

/** The service host of each resource form, in Google's full resource names (`//HOST/NAME`). */
function serviceOf(resource: string): string {
  if (/^projects\/[^/]+\/serviceAccounts\//.test(resource)) return "iam.googleapis.com";
  if (/^projects\/_\/buckets\//.test(resource)) return "storage.googleapis.com";
  if (/^projects\/[^/]+\/zones\//.test(resource)) return "compute.googleapis.com";
  return "cloudresourcemanager.googleapis.com";
}

/** `projects/p` → `//cloudresourcemanager.googleapis.com/projects/p`, and so on for each form. */
export function fullResourceName(resource: string): string {
  return `//${serviceOf(resource)}/${resource}`;
}

/**
 * A full resource name (`//cloudresourcemanager.googleapis.com/projects/p`) to Warrant's resource
 * name (`projects/p`); the host must be the resource's service. A relative name is taken as is.
 */
export function fromFullResourceName(full: string): string {
  if (!full.startsWith("//")) return full;
  const m = /^\/\/([a-z0-9.-]+)\/(.+)$/.exec(full);
  if (!m) throw new InvalidArgument(`Invalid full resource name '${full}': expected //SERVICE/NAME.`);
  const [, host, name] = m as unknown as [string, string, string];
  if (serviceOf(name) !== host)
    throw new InvalidArgument(
      `Invalid full resource name '${full}': ${name} is named through //${serviceOf(name)}/, not //${host}/.`,
    );
  return name;
}

/**
 * The IAM permissions any one of which lets a caller read the allow policy of `resource` (its
 * service's getIamPolicy). The organization's policy is also readable with
 * resourcemanager.projects.getIamPolicy on the organization, Warrant's rule for reading what applies
 * to every project (its bindings are inherited into each project's effective policy), so the
 * installation's administrator, an owner, may read it.
 */
export function getIamPolicyPermissions(resource: string): readonly string[] {
  if (/^organizations\/[^/]+$/.test(resource))
    return ["resourcemanager.organizations.getIamPolicy", "resourcemanager.projects.getIamPolicy"];
  if (/^projects\/[^/]+$/.test(resource)) return ["resourcemanager.projects.getIamPolicy"];
  if (/^projects\/[^/]+\/serviceAccounts\//.test(resource)) return ["iam.serviceAccounts.getIamPolicy"];
  if (/^projects\/_\/buckets\/[^/]+$/.test(resource)) return ["storage.buckets.getIamPolicy"];
  if (/^projects\/_\/buckets\/[^/]+\/objects\//.test(resource)) return ["storage.objects.getIamPolicy"];
  return ["compute.instances.getIamPolicy"];
}

/**
 * The caller as the server would authenticate it: bound to the unique id of the live account of
 * that e-mail (bindings of a deleted account of the address do not apply), with its project number.
 */
export async function asAuthenticated(repos: Repositories, p: Principal): Promise<Principal> {
  if (p.kind === "user") return userPrincipal(p.email, [], (await repos.users.get(p.email))?.uniqueId);
  if (p.kind !== "serviceAccount") return p;
  const sa = await repos.serviceAccounts.get(p.email);
  if (!sa) return p;
  const projectNumber = (await repos.projects.get(sa.projectId))?.projectNumber;
  return serviceAccountPrincipal(sa.email, projectNumber, sa.uniqueId);
}

/** What a binding does for the principal: Policy Troubleshooter's access states. */
export type BindingAccess = "GRANTED" | "NOT_GRANTED" | "UNKNOWN_CONDITIONAL";

export interface ExplainedMember {
  /** As clients see it (`deleted:…` for an account that is gone). */
  member: string;
  /** Whether it includes the principal: directly, through a group, or as a convenience member. */
  included: boolean;
  /** For a group member that includes the principal: the groups through which, innermost first. */
  via?: string[];
}

export interface BindingAnalysis {
  role: string;
  /** Whether the role contains the permission (false for a role that no longer exists). */
  rolePermission: boolean;
  members: ExplainedMember[];
  condition?: Condition;
  /** GRANTED: this binding grants the permission; UNKNOWN_CONDITIONAL: its condition could not be evaluated. */
  access: BindingAccess;
  /** For a conditional binding that would grant: the condition's value and the attribute values it saw. */
  conditionExplanation?: string;
  conditionError?: string;
  /** The member through which the principal matched (for bindings whose role holds the permission). */
  matchedMember?: string;
  via?: string[];
}

export interface PolicyAnalysis {
  resource: string;
  /** The policy as clients see it; undefined when the resource has none. */
  policy?: Policy;
  bindings: BindingAnalysis[];
  access: BindingAccess;
}

export interface AccessAnalysis {
  decision: Decision;
  /** The chain, closest first, each policy with every binding annotated. */
  policies: PolicyAnalysis[];
  /** Whether any predefined role contains the permission (custom roles may hold only those). */
  knownPermission: boolean;
  /** Predefined roles that contain the permission, best advice first (at most ten). */
  rolesThatGrantPermission: string[];
}

const sameCondition = (a?: Condition, b?: Condition) => a?.expression === b?.expression;

/**
 * Decides whether `principal` holds `permission` on `ref` as the server does, and explains every
 * binding along the chain. `now` is `request.time` of conditions (default: now).
 */
export async function analyzeAccess(
  source: PolicySource,
  repos: Repositories,
  organizationId: string,
  principal: Principal,
  permission: string,
  ref: ResourceRef,
  now?: Date,
): Promise<AccessAnalysis> {
  const inputs = await evaluationInputs(source, organizationId, ref, principal);
  const ctx: AuthorizeContext = now ? { ...inputs.ctx, now } : inputs.ctx;
  const d = authorize(inputs.principal, permission, inputs.chain, ctx);
  const display = memberDisplayer(repos);
  const policies: PolicyAnalysis[] = [];
  for (const link of inputs.chain) {
    const bindings: BindingAnalysis[] = [];
    for (const b of link.policy?.bindings ?? []) {
      const rolePermission = ctx.roles.permissions(b.role)?.has(permission) === true;
      const members: ExplainedMember[] = [];
      for (const stored of b.members) {
        const included = holds(inputs.principal, stored, ctx);
        const parsed = parseMember(stored);
        const via =
          included && typeof parsed !== "string" && parsed.type === "group"
            ? ctx.groupPath?.(parsed.email)
            : undefined;
        members.push({ member: await display(stored), included, ...(via ? { via: [...via] } : {}) });
      }
      members.sort((x, y) => (x.member < y.member ? -1 : x.member > y.member ? 1 : 0));
      const match = (g: { resource: string; role: string; condition?: Condition }) =>
        g.resource === link.resource && g.role === b.role && sameCondition(g.condition, b.condition);
      const granted = rolePermission ? d.grantedBy.find(match) : undefined;
      const skipped = rolePermission ? d.conditionalSkipped.find(match) : undefined;
      const hit = granted ?? skipped;
      bindings.push({
        role: b.role,
        rolePermission,
        members,
        ...(b.condition ? { condition: b.condition } : {}),
        access: granted ? "GRANTED" : skipped?.error ? "UNKNOWN_CONDITIONAL" : "NOT_GRANTED",
        ...(skipped ? { conditionExplanation: skipped.explanation } : {}),
        ...(skipped?.error ? { conditionError: skipped.error } : {}),
        ...(hit ? { matchedMember: hit.member } : {}),
        ...(hit?.via ? { via: hit.via } : {}),
      });
    }
    const access: BindingAccess = bindings.some((b) => b.access === "GRANTED")
      ? "GRANTED"
      : bindings.some((b) => b.access === "UNKNOWN_CONDITIONAL")
        ? "UNKNOWN_CONDITIONAL"
        : "NOT_GRANTED";
    const shown = link.policy ? { ...link.policy, bindings: [] as Policy["bindings"] } : undefined;
    if (shown && link.policy)
      for (const b of link.policy.bindings)
        shown.bindings.push({ ...b, members: (await Promise.all(b.members.map(display))).sort() });
    policies.push({ resource: link.resource, ...(shown ? { policy: shown } : {}), bindings, access });
  }
  return {
    decision: d,
    policies,
    knownPermission: KNOWN_PERMISSIONS.has(permission),
    rolesThatGrantPermission: rolesGranting(permission).slice(0, 10),
  };
}

/** SERVICE.RESOURCE.VERB; a few catalog permissions have a longer service (iam.googleapis.com/…). */
export function isPermissionName(permission: string): boolean {
  return KNOWN_PERMISSIONS.has(permission) || /^[a-z][\w/-]*\.[\w-]+\.[\w-]+$/.test(permission);
}
