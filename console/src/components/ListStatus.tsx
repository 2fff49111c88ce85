/**
 * What a project-scoped list shows instead of its table: the explained error, "Loading…" on the
 * first load (later reloads keep the old rows on screen), or a line saying the list is empty.
 * Nothing until a project is chosen: the page says to pick one.
 */
import type { Loaded } from "../hooks";
import { ApiErrorView } from "./ApiErrorView";

export function ListStatus<T>(props: { list: Loaded<T[]>; project: string; empty: string }) {
  const { list, project } = props;
  return (
    <>
      {list.error !== undefined && <ApiErrorView error={list.error} project={project} />}
      {list.loading && !list.data && project && <p className="loading">Loading…</p>}
      {list.data && list.data.length === 0 && project && <p className="muted">{props.empty}</p>}
    </>
  );
}
