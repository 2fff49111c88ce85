/**
 * The audit log through Cloud Logging's `entries:list` (Warrant serves it over its audit log):
 * filters on principal, permission, result, time and request id, all kept in the URL; live tail
 * polls for entries newer than the newest shown.
 */
import { type FormEvent, useCallback, useEffect, useId, useRef, useState } from "react";
import { call } from "../api";
import { ApiErrorView } from "../components/ApiErrorView";
import { Scroller } from "../components/Scroller";
import { setQuery, useLocation } from "../nav";
import type { PageProps } from "../routes";

interface AuthorizationInfo {
  resource?: string;
  permission?: string;
  granted?: boolean;
}
export interface LogEntry {
  insertId?: string;
  logName?: string;
  timestamp?: string;
  severity?: string;
  labels?: Record<string, string>;
  operation?: { id?: string };
  trace?: string;
  httpRequest?: { requestMethod?: string; requestUrl?: string; status?: number };
  protoPayload?: {
    methodName?: string;
    resourceName?: string;
    serviceName?: string;
    authenticationInfo?: { principalEmail?: string; principalSubject?: string };
    authorizationInfo?: AuthorizationInfo[];
    status?: { code?: number; message?: string };
    requestMetadata?: { requestAttributes?: { id?: string; method?: string; path?: string } };
  };
}

export interface AuditFilters {
  principal: string;
  permission: string;
  result: "" | "granted" | "denied";
  since: string;
  until: string;
  requestId: string;
}

const q = (s: string) => JSON.stringify(s);

/** The request id of an entry, wherever the log put it. */
export function requestIdOf(e: LogEntry): string | undefined {
  return e.operation?.id ?? e.labels?.requestId ?? e.protoPayload?.requestMetadata?.requestAttributes?.id;
}

/** Cloud Logging's filter language for the chosen filters. */
export function buildFilter(f: AuditFilters, after?: string): string {
  const parts: string[] = [];
  if (f.principal) {
    const email = f.principal.replace(/^(user|serviceAccount|group):/, "");
    parts.push(`protoPayload.authenticationInfo.principalEmail=${q(email)}`);
  }
  if (f.permission) parts.push(`protoPayload.authorizationInfo.permission=${q(f.permission)}`);
  if (f.result === "granted") parts.push("protoPayload.authorizationInfo.granted=true");
  if (f.result === "denied") parts.push("protoPayload.authorizationInfo.granted=false");
  if (f.requestId) parts.push(`operation.id=${q(f.requestId)}`);
  if (f.since) parts.push(`timestamp>=${q(new Date(f.since).toISOString())}`);
  if (f.until) parts.push(`timestamp<=${q(new Date(f.until).toISOString())}`);
  if (after) parts.push(`timestamp>${q(after)}`);
  return parts.join(" AND ");
}

function fromQuery(query: URLSearchParams): AuditFilters {
  const r = query.get("result");
  return {
    principal: query.get("principal") ?? "",
    permission: query.get("permission") ?? "",
    result: r === "granted" || r === "denied" ? r : "",
    since: query.get("since") ?? "",
    until: query.get("until") ?? "",
    requestId: query.get("requestId") ?? "",
  };
}

async function list(project: string, f: AuditFilters, after?: string, signal?: AbortSignal) {
  const filter = buildFilter(f, after);
  const r = await call<{ entries?: LogEntry[]; nextPageToken?: string }>("POST", "/v2/entries:list", {
    body: {
      resourceNames: [`projects/${project}`],
      ...(filter ? { filter } : {}),
      orderBy: "timestamp desc",
      pageSize: 100,
    },
    ...(signal ? { signal } : {}),
  });
  return r.entries ?? [];
}

const key = (e: LogEntry) => e.insertId ?? `${e.timestamp}-${requestIdOf(e)}`;

function EntryRow({ e }: { e: LogEntry }) {
  const p = e.protoPayload ?? {};
  const checks = p.authorizationInfo ?? [];
  const denied = checks.some((c) => c.granted === false) || (p.status?.code ?? 0) !== 0;
  const rid = requestIdOf(e);
  return (
    <tr data-request-id={rid} data-testid="audit-entry">
      <td>{e.timestamp ? new Date(e.timestamp).toLocaleString() : ""}</td>
      <td>
        <code>{p.authenticationInfo?.principalEmail ?? "—"}</code>
      </td>
      <td>
        <code>
          {p.methodName ?? `${e.httpRequest?.requestMethod ?? ""} ${e.httpRequest?.requestUrl ?? ""}`}
        </code>
        {p.resourceName && (
          <div className="muted">
            <code>{p.resourceName}</code>
          </div>
        )}
      </td>
      <td>
        {checks.length === 0 && <span className="muted">none</span>}
        <ul className="inline-list">
          {checks.map((c) => (
            <li key={`${c.permission}|${c.resource}|${c.granted}`}>
              <span className={c.granted ? "badge ok" : "badge bad"}>{c.granted ? "granted" : "denied"}</span>{" "}
              <code>{c.permission}</code>
            </li>
          ))}
        </ul>
      </td>
      <td>
        <span className={denied ? "badge bad" : "badge ok"}>
          {p.status?.code ? `code ${p.status.code}` : "OK"}
        </span>
        {p.status?.message && <div className="muted">{p.status.message}</div>}
      </td>
      <td>
        <code data-testid="entry-request-id">{rid}</code>
        <details>
          <summary>Entry</summary>
          <pre>{JSON.stringify(e, null, 2)}</pre>
        </details>
      </td>
    </tr>
  );
}

export function AuditPage({ project }: PageProps) {
  const { query } = useLocation();
  const applied = fromQuery(query);
  const appliedKey = JSON.stringify(applied);
  const [form, setForm] = useState<AuditFilters>(applied);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the key stands for the filters
  useEffect(() => setForm(applied), [appliedKey]);
  const [entries, setEntries] = useState<LogEntry[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(false);
  const [tail, setTail] = useState(query.get("tail") === "1");
  const newest = useRef<string | undefined>(undefined);
  const ids = {
    principal: useId(),
    permission: useId(),
    result: useId(),
    since: useId(),
    until: useId(),
    requestId: useId(),
    tail: useId(),
  };

  const load = useCallback(
    async (signal?: AbortSignal) => {
      if (!project) return;
      setLoading(true);
      try {
        const got = await list(project, JSON.parse(appliedKey) as AuditFilters, undefined, signal);
        setEntries(got);
        newest.current = got[0]?.timestamp;
        setError(undefined);
      } catch (err) {
        if ((err as Error).name !== "AbortError") setError(err);
      } finally {
        setLoading(false);
      }
    },
    [project, appliedKey],
  );
  useEffect(() => {
    const ctl = new AbortController();
    void load(ctl.signal);
    return () => ctl.abort();
  }, [load]);

  // Live tail: every 2 s, the entries newer than the newest shown, on top.
  useEffect(() => {
    if (!tail || !project) return;
    let stopped = false;
    const f = JSON.parse(appliedKey) as AuditFilters;
    const timer = setInterval(async () => {
      try {
        const got = await list(project, f, newest.current);
        if (stopped || got.length === 0) return;
        newest.current = got[0]?.timestamp ?? newest.current;
        setEntries((old) => {
          const seen = new Set((old ?? []).map(key));
          return [...got.filter((e) => !seen.has(key(e))), ...(old ?? [])].slice(0, 500);
        });
      } catch (err) {
        if (!stopped) setError(err);
      }
    }, 2000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [tail, project, appliedKey]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setQuery({ ...form, result: form.result || undefined });
  };
  const set = (k: keyof AuditFilters) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));

  if (!project) return <h1>Audit log</h1>;
  return (
    <>
      <h1>
        Audit log <span className="muted">of</span> <code>{project}</code>
      </h1>
      <form className="panel" onSubmit={submit} aria-label="Filters">
        <div className="row">
          <div className="field">
            <label htmlFor={ids.principal}>Principal</label>
            <input
              id={ids.principal}
              value={form.principal}
              onChange={set("principal")}
              placeholder="alice@example.com"
              spellCheck={false}
            />
          </div>
          <div className="field">
            <label htmlFor={ids.permission}>Permission</label>
            <input
              id={ids.permission}
              value={form.permission}
              onChange={set("permission")}
              placeholder="iam.serviceAccounts.create"
              spellCheck={false}
            />
          </div>
          <div className="field">
            <label htmlFor={ids.result}>Result</label>
            <select id={ids.result} value={form.result} onChange={set("result")}>
              <option value="">Any</option>
              <option value="granted">Granted</option>
              <option value="denied">Denied</option>
            </select>
          </div>
        </div>
        <div className="row">
          <div className="field">
            <label htmlFor={ids.since}>From</label>
            <input id={ids.since} type="datetime-local" value={form.since} onChange={set("since")} />
          </div>
          <div className="field">
            <label htmlFor={ids.until}>To</label>
            <input id={ids.until} type="datetime-local" value={form.until} onChange={set("until")} />
          </div>
          <div className="field">
            <label htmlFor={ids.requestId}>Request id</label>
            <input id={ids.requestId} value={form.requestId} onChange={set("requestId")} spellCheck={false} />
          </div>
        </div>
        <div className="actions">
          <button type="submit" className="primary">
            Apply filters
          </button>
          <button type="button" onClick={() => void load()} disabled={loading}>
            Refresh
          </button>
          <label htmlFor={ids.tail} className="checkbox">
            <input
              id={ids.tail}
              type="checkbox"
              checked={tail}
              onChange={(e) => {
                setTail(e.target.checked);
                setQuery({ tail: e.target.checked ? "1" : undefined }, { replace: true });
              }}
            />{" "}
            Live tail
          </label>
          {tail && (
            <span className="muted" role="status">
              Following new entries…
            </span>
          )}
        </div>
      </form>
      {error !== undefined && <ApiErrorView error={error} project={project} />}
      {loading && !entries && <p className="loading">Loading…</p>}
      {entries && entries.length === 0 && <p>No entries match.</p>}
      {entries && entries.length > 0 && (
        <Scroller label="Audit entries">
          <table data-testid="audit-entries">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Principal</th>
                <th scope="col">Method</th>
                <th scope="col">Checks</th>
                <th scope="col">Result</th>
                <th scope="col">Request id</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <EntryRow key={key(e)} e={e} />
              ))}
            </tbody>
          </table>
        </Scroller>
      )}
    </>
  );
}
