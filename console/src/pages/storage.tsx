/**
 * Cloud Storage: the project's buckets (list, create), and a bucket's objects as folders
 * (components/ObjectBrowser.tsx). The bucket and folder are in the URL (`?bucket=&prefix=`).
 * Every call is the Cloud Storage JSON API with the signed-in user's token.
 */
import "../components/fleet.css";
import { type FormEvent, useId, useState } from "react";
import { call } from "../api";
import { ApiErrorView } from "../components/ApiErrorView";
import { ListStatus } from "../components/ListStatus";
import { ObjectBrowser } from "../components/ObjectBrowser";
import { useLoad } from "../hooks";
import { href, Link, navigate, useLocation } from "../nav";
import type { PageProps } from "../routes";

interface Bucket {
  name: string;
  location?: string;
  storageClass?: string;
  timeCreated?: string;
}

async function listBuckets(project: string, signal: AbortSignal): Promise<Bucket[]> {
  const out: Bucket[] = [];
  let pageToken: string | undefined;
  for (let i = 0; i < 50; i++) {
    const page = await call<{ items?: Bucket[]; nextPageToken?: string }>("GET", "/storage/v1/b", {
      query: { project, pageToken },
      signal,
    });
    out.push(...(page.items ?? []));
    pageToken = page.nextPageToken;
    if (!pageToken) break;
  }
  return out;
}

function CreateBucket(props: { project: string; onCreated: (b: Bucket) => void }) {
  const id = useId();
  const locId = useId();
  const [name, setName] = useState("");
  const [location, setLocation] = useState("US");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const b = await call<Bucket>("POST", "/storage/v1/b", {
        query: { project: props.project },
        body: { name: name.trim(), location },
      });
      setName("");
      props.onCreated(b);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="panel" onSubmit={submit} aria-label="Create a bucket">
      <h2>Create a bucket</h2>
      <div className="row">
        <div className="field">
          <label htmlFor={id}>
            Bucket name <span className="hint">(unique across the installation; lowercase, 3–63)</span>
          </label>
          <input
            id={id}
            name="bucket"
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
            spellCheck={false}
            autoComplete="off"
          />
        </div>
        <div className="field">
          <label htmlFor={locId}>Location</label>
          <select id={locId} value={location} onChange={(e) => setLocation(e.target.value)}>
            {["US", "EU", "ASIA", "US-CENTRAL1", "EUROPE-WEST1"].map((l) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </div>
      </div>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || !name.trim()}>
          Create bucket
        </button>
      </div>
      {error !== undefined && (
        <ApiErrorView error={error} project={props.project} title="The bucket was not created" />
      )}
    </form>
  );
}

function BucketList(props: { project: string }) {
  const { project } = props;
  const buckets = useLoad(
    (signal) => (project ? listBuckets(project, signal) : Promise.resolve([])),
    [project],
  );
  const [created, setCreated] = useState<string | null>(null);
  const deleted = useLocation().query.get("deleted");
  return (
    <>
      <h1>Storage {project && <code>{project}</code>}</h1>
      {deleted && (
        <p className="success" role="status">
          Deleted bucket <code>{deleted}</code>.
        </p>
      )}
      {!project && <p>Choose a project with the switcher above.</p>}
      {project && (
        <CreateBucket
          project={project}
          onCreated={(b) => {
            setCreated(b.name);
            buckets.reload();
          }}
        />
      )}
      {created && (
        <p className="success" role="status">
          Created bucket{" "}
          <Link href={href("/storage", { project, bucket: created })}>
            <code>{created}</code>
          </Link>
          .
        </p>
      )}
      <h2>Buckets</h2>
      <ListStatus list={buckets} project={project} empty="No buckets in this project yet." />
      {buckets.data && buckets.data.length > 0 && (
        <div className="table-wrap">
          <table className="fits" aria-label="Buckets">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Location</th>
                <th scope="col" className="hide-narrow">
                  Storage class
                </th>
                <th scope="col" className="hide-narrow">
                  Created
                </th>
              </tr>
            </thead>
            <tbody>
              {buckets.data.map((b) => (
                <tr key={b.name} data-testid="bucket-row" data-name={b.name}>
                  <td>
                    <Link href={href("/storage", { project, bucket: b.name })}>
                      <code>{b.name}</code>
                    </Link>
                  </td>
                  <td>{b.location ?? "—"}</td>
                  <td className="hide-narrow">{b.storageClass ?? "—"}</td>
                  <td className="hide-narrow">
                    {b.timeCreated ? new Date(b.timeCreated).toLocaleString() : "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

export function StoragePage({ project }: PageProps) {
  const { query } = useLocation();
  const bucket = query.get("bucket") ?? "";
  const prefix = query.get("prefix") ?? "";
  if (!bucket) return <BucketList project={project} />;
  return (
    <>
      <h1>
        Bucket <code>{bucket}</code>
      </h1>
      <ObjectBrowser project={project} bucket={bucket} prefix={prefix} />
      {!prefix && <DeleteBucket project={project} bucket={bucket} />}
    </>
  );
}

/** Deletes the bucket (the API refuses one that still holds objects: 409, shown as it says). */
function DeleteBucket(props: { project: string; bucket: string }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const del = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await call("DELETE", `/storage/v1/b/${encodeURIComponent(props.bucket)}`);
      navigate(href("/storage", { project: props.project, deleted: props.bucket }));
    } catch (err) {
      setError(err);
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="panel spaced" aria-labelledby="delete-bucket-heading">
      <h2 id="delete-bucket-heading">Delete this bucket</h2>
      <p className="muted">Only an empty bucket can be deleted: delete its objects first.</p>
      <div className="actions">
        {confirming ? (
          <>
            <button type="button" className="danger" onClick={del} disabled={busy}>
              Delete bucket {props.bucket}?
            </button>
            <button type="button" onClick={() => setConfirming(false)} disabled={busy}>
              Keep
            </button>
          </>
        ) : (
          <button type="button" className="danger" onClick={() => setConfirming(true)}>
            Delete bucket
          </button>
        )}
      </div>
      {error !== undefined && (
        <ApiErrorView error={error} project={props.project} title="The bucket was not deleted" />
      )}
    </section>
  );
}
