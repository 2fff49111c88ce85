/**
 * Resource names and the hierarchy IAM walks: organization → project → {service accounts,
 * instances, buckets}. A `ResourceRef` lists the resource and its ancestors, closest first.
 */
export interface ResourceRef {
  /** Full resource name, closest first: [resource, ...ancestors]. */
  chain: readonly string[];
}

export const organizationResource = (orgId: string) => `organizations/${orgId}`;
export const projectResource = (projectId: string) => `projects/${projectId}`;
export const serviceAccountResource = (projectId: string, email: string) =>
  `projects/${projectId}/serviceAccounts/${email}`;
export const instanceResource = (projectId: string, zone: string, name: string) =>
  `projects/${projectId}/zones/${zone}/instances/${name}`;

export function organizationRef(orgId: string): ResourceRef {
  return { chain: [organizationResource(orgId)] };
}
export function projectRef(orgId: string, projectId: string): ResourceRef {
  return { chain: [projectResource(projectId), organizationResource(orgId)] };
}
export function childOf(parent: ResourceRef, name: string): ResourceRef {
  return { chain: [name, ...parent.chain] };
}
