/** The project chosen in the switcher: its number, parent and default compute service account. */
import { call } from "../api";
import { ApiErrorView } from "../components/ApiErrorView";
import { useLoad } from "../hooks";
import { href, Link } from "../nav";
import type { PageProps } from "../routes";

interface Project {
  projectId: string;
  name?: string;
  projectNumber: string;
  lifecycleState?: string;
  createTime?: string;
  parent?: { type: string; id: string };
}

export function ProjectPage({ project }: PageProps) {
  const p = useLoad(
    async (signal) =>
      project ? call<Project>("GET", `/v1/projects/${encodeURIComponent(project)}`, { signal }) : undefined,
    [project],
  );
  return (
    <>
      <h1>Project {project && <code>{project}</code>}</h1>
      {!project && <p>Choose a project with the switcher above, or type its id.</p>}
      {p.error !== undefined && <ApiErrorView error={p.error} project={project} />}
      {p.loading && !p.data && project && <p className="loading">Loading…</p>}
      {p.data && (
        <div className="panel">
          <dl className="facts" data-testid="project-facts">
            <dt>Name</dt>
            <dd>{p.data.name ?? "—"}</dd>
            <dt>Project id</dt>
            <dd>
              <code>{p.data.projectId}</code>
            </dd>
            <dt>Project number</dt>
            <dd>
              <code data-testid="project-number">{p.data.projectNumber}</code>
            </dd>
            <dt>Parent</dt>
            <dd>
              <code>{p.data.parent ? `${p.data.parent.type}s/${p.data.parent.id}` : "none"}</code>
            </dd>
            <dt>Default compute account</dt>
            <dd>
              <code>{`${p.data.projectNumber}-compute@developer.gserviceaccount.com`}</code>
            </dd>
            <dt>State</dt>
            <dd>{p.data.lifecycleState ?? "ACTIVE"}</dd>
            {p.data.createTime && (
              <>
                <dt>Created</dt>
                <dd>{new Date(p.data.createTime).toLocaleString()}</dd>
              </>
            )}
          </dl>
        </div>
      )}
      {project && (
        <ul className="inline-list">
          <li>
            <Link href={href("/iam", { project })}>IAM</Link>
          </li>
          <li>
            <Link href={href("/service-accounts", { project })}>Service accounts</Link>
          </li>
          <li>
            <Link href={href("/audit", { project })}>Audit log</Link>
          </li>
          <li>
            <Link href={href("/troubleshooter", { project })}>Policy troubleshooter</Link>
          </li>
        </ul>
      )}
    </>
  );
}
