/**
 * Compute Engine instances of the project, in every zone (the aggregated list): create one running
 * as a service account with scopes (attaching an account needs iam.serviceAccounts.actAs on it: a
 * refusal is shown as the API explains it), start, stop, delete; and, for one instance, what its
 * metadata server tells code running on it: the account, its scopes, the metadata items. Every call
 * is the Compute Engine API with the signed-in user's token. The chosen instance is in the URL
 * (`?instance=ZONE/NAME`).
 */
import "../components/fleet.css";
import { type FormEvent, useId, useState } from "react";
import { call, listAll } from "../api";
import { ApiErrorView } from "../components/ApiErrorView";
import { ListStatus } from "../components/ListStatus";
import { useLoad } from "../hooks";
import { href, Link, navigate, useLocation } from "../nav";
import type { PageProps } from "../routes";

interface Instance {
  id: string;
  name: string;
  zone: string;
  status: string;
  machineType: string;
  hostname?: string;
  description?: string;
  creationTimestamp?: string;
  lastStartTimestamp?: string;
  lastStopTimestamp?: string;
  networkInterfaces?: { networkIP?: string }[];
  serviceAccounts?: { email: string; scopes?: string[] }[];
  metadata?: { fingerprint?: string; items?: { key: string; value: string }[] };
  tags?: { items?: string[] };
  labels?: Record<string, string>;
}

interface ServiceAccount {
  email: string;
  displayName?: string;
  disabled?: boolean;
}

const SCOPE_PREFIX = "https://www.googleapis.com/auth/";
/** The scopes the form offers (gcloud's aliases in brackets); any other can be typed. */
const SCOPES: { scope: string; alias: string; what: string }[] = [
  { scope: "cloud-platform", alias: "cloud-platform", what: "every API, as far as IAM allows (recommended)" },
  { scope: "cloud-platform.read-only", alias: "cloud-platform-ro", what: "read-only, every API" },
  { scope: "devstorage.read_only", alias: "storage-ro", what: "Cloud Storage, read" },
  { scope: "devstorage.read_write", alias: "storage-rw", what: "Cloud Storage, read and write" },
  { scope: "devstorage.full_control", alias: "storage-full", what: "Cloud Storage, including IAM" },
  { scope: "compute", alias: "compute-rw", what: "Compute Engine, read and write" },
  { scope: "compute.readonly", alias: "compute-ro", what: "Compute Engine, read" },
  { scope: "iam", alias: "iam", what: "IAM Credentials (sign, impersonate)" },
  { scope: "userinfo.email", alias: "userinfo-email", what: "the account's e-mail address" },
];
const MACHINE_TYPES = [
  "e2-micro",
  "e2-small",
  "e2-medium",
  "e2-standard-2",
  "n1-standard-1",
  "n2-standard-2",
];

const last = (url: string) => url.slice(url.lastIndexOf("/") + 1);
const shortScope = (s: string) => (s.startsWith(SCOPE_PREFIX) ? s.slice(SCOPE_PREFIX.length) : s);
const instancePath = (project: string, zone: string, name: string) =>
  `/compute/v1/projects/${encodeURIComponent(project)}/zones/${encodeURIComponent(zone)}/instances/${encodeURIComponent(name)}`;

async function listInstances(project: string, signal: AbortSignal): Promise<Instance[]> {
  const out: Instance[] = [];
  let pageToken: string | undefined;
  for (let i = 0; i < 50; i++) {
    const page = await call<{
      items?: Record<string, { instances?: Instance[] }>;
      nextPageToken?: string;
    }>("GET", `/compute/v1/projects/${encodeURIComponent(project)}/aggregated/instances`, {
      query: { pageToken },
      signal,
    });
    for (const scope of Object.values(page.items ?? {})) out.push(...(scope.instances ?? []));
    pageToken = page.nextPageToken;
    if (!pageToken) break;
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.zone.localeCompare(b.zone));
}

/** `key=value` lines → metadata items (a line without `=` is an error naming it). */
export function parseMetadataLines(text: string): { key: string; value: string }[] {
  const items: { key: string; value: string }[] = [];
  text.split("\n").forEach((line, n) => {
    if (!line.trim()) return;
    const i = line.indexOf("=");
    if (i <= 0) throw new Error(`Metadata line ${n + 1} is not KEY=VALUE: ${line}`);
    items.push({ key: line.slice(0, i).trim(), value: line.slice(i + 1) });
  });
  return items;
}

function CreateInstance(props: { project: string; onCreated: (zone: string, name: string) => void }) {
  const ids = { name: useId(), zone: useId(), machine: useId(), sa: useId(), extra: useId(), md: useId() };
  const zones = useLoad(
    () =>
      listAll<{ name: string }>(
        `/compute/v1/projects/${encodeURIComponent(props.project)}/zones`,
        "items",
      ).catch(() => [] as { name: string }[]),
    [props.project],
  );
  const accounts = useLoad(
    (signal) =>
      listAll<ServiceAccount>(
        `/v1/projects/${encodeURIComponent(props.project)}/serviceAccounts`,
        "accounts",
      ).catch((err) => {
        if (signal.aborted) throw err;
        return [] as ServiceAccount[];
      }),
    [props.project],
  );
  const [name, setName] = useState("");
  const [zone, setZone] = useState("us-central1-a");
  const [machineType, setMachineType] = useState("e2-medium");
  const [account, setAccount] = useState("default");
  const [scopes, setScopes] = useState<Set<string>>(new Set(["cloud-platform"]));
  const [extraScopes, setExtraScopes] = useState("");
  const [metadata, setMetadata] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const toggle = (s: string) =>
    setScopes((cur) => {
      const next = new Set(cur);
      if (next.has(s)) next.delete(s);
      else next.add(s);
      return next;
    });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const all = [...scopes, ...extraScopes.split(/[\s,]+/).filter(Boolean)].map((s) =>
        s.startsWith("https://") ? s : SCOPE_PREFIX + s,
      );
      const body = {
        name: name.trim(),
        machineType: `zones/${zone}/machineTypes/${machineType.trim()}`,
        ...(account.trim() ? { serviceAccounts: [{ email: account.trim(), scopes: all }] } : {}),
        metadata: { items: parseMetadataLines(metadata) },
      };
      await call(
        "POST",
        `/compute/v1/projects/${encodeURIComponent(props.project)}/zones/${zone}/instances`,
        {
          body,
        },
      );
      setName("");
      props.onCreated(zone, body.name);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const zoneNames = zones.data?.length ? zones.data.map((z) => z.name) : [zone];
  return (
    <form className="panel" onSubmit={submit} aria-label="Create an instance">
      <h2>Create an instance</h2>
      <div className="row">
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input
            id={ids.name}
            name="name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
            spellCheck={false}
            autoComplete="off"
          />
        </div>
        <div className="field">
          <label htmlFor={ids.zone}>Zone</label>
          <select id={ids.zone} name="zone" value={zone} onChange={(e) => setZone(e.target.value)}>
            {zoneNames.map((z) => (
              <option key={z}>{z}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.machine}>Machine type</label>
          <input
            id={ids.machine}
            name="machineType"
            list={`${ids.machine}-list`}
            value={machineType}
            onChange={(e) => setMachineType(e.target.value)}
            autoComplete="off"
          />
          <datalist id={`${ids.machine}-list`}>
            {MACHINE_TYPES.map((m) => (
              <option key={m} value={m} />
            ))}
          </datalist>
        </div>
      </div>
      <div className="field">
        <label htmlFor={ids.sa}>
          Service account{" "}
          <span className="hint">
            (code on the instance gets its tokens; you need iam.serviceAccounts.actAs on it)
          </span>
        </label>
        <input
          id={ids.sa}
          name="serviceAccount"
          list={`${ids.sa}-list`}
          value={account}
          onChange={(e) => setAccount(e.target.value)}
          spellCheck={false}
          autoComplete="off"
          aria-describedby={`${ids.sa}-hint`}
        />
        <datalist id={`${ids.sa}-list`}>
          <option value="default">Compute Engine default service account</option>
          {(accounts.data ?? []).map((a) => (
            <option key={a.email} value={a.email}>
              {a.displayName || a.email}
              {a.disabled ? " (disabled)" : ""}
            </option>
          ))}
        </datalist>
        <span className="hint" id={`${ids.sa}-hint`}>
          An e-mail address, <code>default</code> for the project's default compute account, or empty for
          none.
        </span>
      </div>
      {account.trim() && (
        <fieldset className="scopes">
          <legend>Access scopes</legend>
          {SCOPES.map((s) => (
            <label key={s.scope}>
              <input
                type="checkbox"
                name="scope"
                value={s.scope}
                checked={scopes.has(s.scope)}
                onChange={() => toggle(s.scope)}
              />
              <span>
                <code>{s.alias}</code> <span className="muted">— {s.what}</span>
              </span>
            </label>
          ))}
          <div className="field">
            <label htmlFor={ids.extra}>
              Other scopes <span className="hint">(names or URLs, separated by spaces)</span>
            </label>
            <input
              id={ids.extra}
              value={extraScopes}
              onChange={(e) => setExtraScopes(e.target.value)}
              spellCheck={false}
              autoComplete="off"
            />
          </div>
        </fieldset>
      )}
      <div className="field">
        <label htmlFor={ids.md}>
          Metadata <span className="hint">(one KEY=VALUE a line)</span>
        </label>
        <textarea
          id={ids.md}
          name="metadata"
          rows={2}
          value={metadata}
          onChange={(e) => setMetadata(e.target.value)}
          spellCheck={false}
        />
      </div>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || !name.trim()}>
          Create instance
        </button>
      </div>
      {error !== undefined && (
        <ApiErrorView error={error} project={props.project} title="The instance was not created" />
      )}
    </form>
  );
}

/** What the instance's metadata server serves, from the instance resource (tokens are minted on demand). */
function MetadataView(props: { project: string; instance: Instance }) {
  const i = props.instance;
  const sa = i.serviceAccounts?.[0];
  const items = i.metadata?.items ?? [];
  const rows: [string, string][] = [
    ["instance/name", i.name],
    ["instance/zone", `projects/${props.project}/zones/${last(i.zone)}`],
    ["instance/hostname", i.hostname ?? ""],
    ["instance/network-interfaces/0/ip", i.networkInterfaces?.[0]?.networkIP ?? ""],
    ["instance/machine-type", `projects/${props.project}/machineTypes/${last(i.machineType)}`],
    ["instance/tags", JSON.stringify(i.tags?.items ?? [])],
    ["project/project-id", props.project],
  ];
  if (sa) {
    rows.push(["instance/service-accounts/default/email", sa.email]);
    rows.push(["instance/service-accounts/default/scopes", (sa.scopes ?? []).join("\n")]);
    rows.push([
      "instance/service-accounts/default/token",
      "(an access token for the account, minted per request)",
    ]);
  }
  for (const m of items) rows.push([`instance/attributes/${m.key}`, m.value]);
  return (
    <div className="table-wrap">
      <table className="mds-paths" aria-label={`What ${i.name}'s metadata server serves`}>
        <thead>
          <tr>
            <th scope="col">Path under /computeMetadata/v1/</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([path, value]) => (
            <tr key={path}>
              <td>
                <code>{path}</code>
              </td>
              <td>
                <code className="pre-line">{value}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function InstanceDetails(props: { project: string; zone: string; name: string }) {
  const { project, zone, name } = props;
  const inst = useLoad(
    (signal) => call<Instance>("GET", instancePath(project, zone, name), { signal }),
    [project, zone, name],
  );
  const i = inst.data;
  const sa = i?.serviceAccounts?.[0];
  return (
    <section className="panel spaced" aria-labelledby="instance-details" data-testid="instance-details">
      <h2 id="instance-details">
        Instance <code>{name}</code>
      </h2>
      {inst.error !== undefined && <ApiErrorView error={inst.error} project={project} />}
      {inst.loading && !i && <p className="loading">Loading…</p>}
      {i && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <span className={`badge status-${i.status}`}>{i.status}</span>
            </dd>
            <dt>Zone</dt>
            <dd>{last(i.zone)}</dd>
            <dt>Machine type</dt>
            <dd>{last(i.machineType)}</dd>
            <dt>Internal IP</dt>
            <dd>
              <code>{i.networkInterfaces?.[0]?.networkIP ?? "—"}</code>
            </dd>
            <dt>Service account</dt>
            <dd>
              {sa ? <code data-testid="instance-service-account">{sa.email}</code> : "none (no tokens)"}
            </dd>
            <dt>Scopes</dt>
            <dd>
              {sa?.scopes?.length ? (
                <ul className="inline-list" data-testid="instance-scopes">
                  {sa.scopes.map((s) => (
                    <li key={s}>
                      <code>{shortScope(s)}</code>
                    </li>
                  ))}
                </ul>
              ) : (
                "—"
              )}
            </dd>
            <dt>Metadata items</dt>
            <dd>{i.metadata?.items?.length ?? 0}</dd>
          </dl>
          <h3>What code on the instance sees</h3>
          <p className="muted">
            Its metadata server answers these paths (with <code>Metadata-Flavor: Google</code>); the token is
            the service account's, narrowed to the scopes, and IAM decides what it may do.
          </p>
          <MetadataView project={project} instance={i} />
        </>
      )}
    </section>
  );
}

function InstanceRow(props: {
  project: string;
  instance: Instance;
  selected: boolean;
  onChanged: () => void;
}) {
  const { project, instance: i } = props;
  const zone = last(i.zone);
  const [busy, setBusy] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>();
  const act = async (verb: "start" | "stop" | "delete") => {
    setBusy(verb);
    setError(undefined);
    try {
      if (verb === "delete") await call("DELETE", instancePath(project, zone, i.name));
      else await call("POST", `${instancePath(project, zone, i.name)}/${verb}`, { body: {} });
      if (verb === "delete" && props.selected) navigate(href("/instances", { project }), { replace: true });
      props.onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
      setConfirming(false);
    }
  };
  const sa = i.serviceAccounts?.[0]?.email;
  return (
    <tr data-testid="instance-row" data-name={i.name}>
      <td>
        <Link
          href={href("/instances", { project, instance: `${zone}/${i.name}` })}
          aria-current={props.selected ? "true" : undefined}
        >
          {i.name}
        </Link>
      </td>
      <td className="hide-narrow">{zone}</td>
      <td>
        <span className={`badge status-${i.status}`} data-testid="instance-status">
          {i.status}
        </span>
      </td>
      <td className="hide-narrow">{sa ? <code>{sa}</code> : <span className="muted">none</span>}</td>
      <td>
        <div className="actions tight">
          <button
            type="button"
            onClick={() => act("start")}
            disabled={busy !== null || i.status === "RUNNING"}
            aria-label={`Start ${i.name}`}
          >
            Start
          </button>
          <button
            type="button"
            onClick={() => act("stop")}
            disabled={busy !== null || i.status !== "RUNNING"}
            aria-label={`Stop ${i.name}`}
          >
            Stop
          </button>
          {confirming ? (
            <>
              <button type="button" className="danger" onClick={() => act("delete")} disabled={busy !== null}>
                Delete {i.name}?
              </button>
              <button type="button" onClick={() => setConfirming(false)} disabled={busy !== null}>
                Keep
              </button>
            </>
          ) : (
            <button
              type="button"
              className="danger"
              onClick={() => setConfirming(true)}
              disabled={busy !== null}
              aria-label={`Delete ${i.name}`}
            >
              Delete
            </button>
          )}
        </div>
        {error !== undefined && <ApiErrorView error={error} project={project} title="The action failed" />}
      </td>
    </tr>
  );
}

export function InstancesPage({ project }: PageProps) {
  const { query } = useLocation();
  const chosen = query.get("instance") ?? "";
  const [chosenZone, chosenName] = chosen.includes("/") ? chosen.split("/", 2) : ["", ""];
  const list = useLoad(
    (signal) => (project ? listInstances(project, signal) : Promise.resolve([])),
    [project],
  );
  const [created, setCreated] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const changed = () => {
    setTick((t) => t + 1);
    list.reload();
  };
  return (
    <>
      <h1>Instances {project && <code>{project}</code>}</h1>
      {!project && <p>Choose a project with the switcher above.</p>}
      <ListStatus list={list} project={project} empty="No instances in this project yet." />
      {list.data && list.data.length > 0 && (
        <div className="table-wrap">
          <table className="fits" aria-label="Instances">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" className="hide-narrow">
                  Zone
                </th>
                <th scope="col">Status</th>
                <th scope="col" className="hide-narrow">
                  Service account
                </th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((i) => (
                <InstanceRow
                  key={i.id}
                  project={project}
                  instance={i}
                  selected={last(i.zone) === chosenZone && i.name === chosenName}
                  onChanged={changed}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {created && (
        <p className="success" role="status">
          Created instance <code>{created}</code>.
        </p>
      )}
      {chosenZone && chosenName && project && (
        <InstanceDetails key={`${chosen}#${tick}`} project={project} zone={chosenZone} name={chosenName} />
      )}
      {project && (
        <CreateInstance
          project={project}
          onCreated={(zone, name) => {
            setCreated(name);
            changed();
            navigate(href("/instances", { project, instance: `${zone}/${name}` }));
          }}
        />
      )}
    </>
  );
}
