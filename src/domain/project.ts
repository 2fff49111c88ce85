/** Projects, as Cloud Resource Manager v1 shows them. */
export interface Project {
  projectId: string;
  projectNumber: string;
  name: string;
  lifecycleState: "ACTIVE" | "DELETE_REQUESTED";
  createTime: string;
  labels?: Record<string, string>;
  parent?: { type: "organization"; id: string };
}

const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

export function projectNameProblem(name: unknown): string | null {
  if (name === undefined) return null;
  if (typeof name !== "string" || !/^[A-Za-z0-9 '"!-]{4,30}$/.test(name))
    return "name must be 4 to 30 letters, digits, spaces, hyphens, single or double quotes or exclamation points.";
  return null;
}

export function labelsProblem(labels: unknown): string | null {
  if (labels === undefined) return null;
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) return "labels must be a map.";
  const entries = Object.entries(labels);
  if (entries.length > 64) return "labels: at most 64 labels.";
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k)) return `labels: invalid key '${k}'.`;
    if (typeof v !== "string" || !LABEL_VALUE.test(v)) return `labels: invalid value for '${k}'.`;
  }
  return null;
}
