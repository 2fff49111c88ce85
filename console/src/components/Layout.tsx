/**
 * The frame of every page: a skip link, the header with the project switcher and the signed-in
 * user's menu, the navigation, and the page in <main>.
 */
import { type FormEvent, type ReactNode, useEffect, useId, useRef, useState } from "react";
import { listAll, type SessionInfo, signOut } from "../api";
import { href, Link, navigate, setQuery, useLocation } from "../nav";
import { routes } from "../routes";

interface ProjectSummary {
  projectId: string;
  name?: string;
}

export const LAST_PROJECT_KEY = "warrant.console.project";

function ProjectSwitcher(props: { project: string }) {
  const id = useId();
  const [projects, setProjects] = useState<ProjectSummary[]>([]);
  const [value, setValue] = useState(props.project);
  useEffect(() => setValue(props.project), [props.project]);
  useEffect(() => {
    listAll<ProjectSummary>("/v1/projects", "projects").then(
      (list) => {
        setProjects(list);
        // No project chosen yet: the last one used, else the first the user can see.
        if (!new URL(location.href).searchParams.get("project")) {
          const last = localStorage.getItem(LAST_PROJECT_KEY);
          const pick = last ?? list[0]?.projectId;
          if (pick) setQuery({ project: pick }, { replace: true });
        }
      },
      () => setProjects([]),
    );
  }, []);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const p = value.trim();
    if (!p) return;
    localStorage.setItem(LAST_PROJECT_KEY, p);
    setQuery({ project: p });
  };
  return (
    <form className="project-switcher" onSubmit={submit} aria-label="Project">
      <label htmlFor={id}>Project</label>
      <input
        id={id}
        name="project"
        list={`${id}-list`}
        value={value}
        onChange={(e) => setValue(e.target.value)}
        autoComplete="off"
        spellCheck={false}
        placeholder="project id"
      />
      <datalist id={`${id}-list`}>
        {projects.map((p) => (
          <option key={p.projectId} value={p.projectId}>
            {p.name ?? p.projectId}
          </option>
        ))}
      </datalist>
      <button type="submit">Open</button>
    </form>
  );
}

function UserMenu(props: { session: SessionInfo }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const menuId = useId();
  useEffect(() => {
    if (!open) return;
    const close = (e: Event) => {
      if (e instanceof KeyboardEvent ? e.key === "Escape" : !ref.current?.contains(e.target as Node))
        setOpen(false);
    };
    document.addEventListener("mousedown", close);
    document.addEventListener("keydown", close);
    return () => {
      document.removeEventListener("mousedown", close);
      document.removeEventListener("keydown", close);
    };
  }, [open]);
  const out = async () => {
    await signOut();
    location.assign("/console/?signedOut=1");
  };
  return (
    <div className="user-menu" ref={ref}>
      <button
        type="button"
        className="user-button"
        aria-expanded={open}
        aria-controls={menuId}
        onClick={() => setOpen((o) => !o)}
      >
        <span className="user-label">Signed in as</span>{" "}
        <span data-testid="signed-in-as">{props.session.email}</span>
      </button>
      <div id={menuId} className="user-dropdown" hidden={!open}>
        <p className="user-principal">
          <code>{props.session.principal}</code>
        </p>
        <button type="button" onClick={out}>
          Sign out
        </button>
      </div>
    </div>
  );
}

export function Layout(props: { session: SessionInfo; project: string; children: ReactNode }) {
  const { path } = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to main content
      </a>
      <header className="topbar">
        <Link className="brand" href={href("/", { project: props.project })}>
          Warrant
        </Link>
        <ProjectSwitcher project={props.project} />
        <UserMenu session={props.session} />
      </header>
      <div className="frame">
        <nav className="sidenav" aria-label="Console">
          <ul>
            {routes.map((r) => (
              <li key={r.path}>
                <Link
                  href={href(r.path, { project: props.project })}
                  aria-current={r.path === path ? "page" : undefined}
                >
                  {r.title}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" ref={mainRef} tabIndex={-1}>
          {props.children}
        </main>
      </div>
    </>
  );
}

/** Moves to a console path, keeping the project. */
export function goto(path: string, project: string, params: Record<string, string> = {}) {
  navigate(href(path, { project, ...params }));
}
