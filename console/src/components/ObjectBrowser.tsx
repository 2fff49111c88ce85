/**
 * One bucket's objects as folders: a listing with `delimiter=/` under the current prefix (kept in
 * the URL, so a folder is a link), a breadcrumb back up, upload (resumable, with progress) into the
 * current folder, download (`alt=media` through the console's back end) and delete.
 */
import { type FormEvent, useId, useRef, useState } from "react";
import { ApiError, apiUrl, CONSOLE_HEADER, call, errorFrom } from "../api";
import { useLoad } from "../hooks";
import { href, Link } from "../nav";
import { type UploadProgress as Progress, ResumableUpload } from "../upload";
import { ApiErrorView } from "./ApiErrorView";
import { formatBytes, UploadProgress } from "./UploadProgress";

export interface StorageObject {
  name: string;
  bucket: string;
  size: string;
  contentType?: string;
  updated?: string;
  generation?: string;
  md5Hash?: string;
}

interface Listing {
  items: StorageObject[];
  prefixes: string[];
}

const objectPath = (bucket: string, name: string) =>
  `/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`;

async function listFolder(bucket: string, prefix: string, signal: AbortSignal): Promise<Listing> {
  const out: Listing = { items: [], prefixes: [] };
  let pageToken: string | undefined;
  for (let i = 0; i < 50; i++) {
    const page = await call<{ items?: StorageObject[]; prefixes?: string[]; nextPageToken?: string }>(
      "GET",
      `/storage/v1/b/${encodeURIComponent(bucket)}/o`,
      { query: { delimiter: "/", prefix: prefix || undefined, pageToken }, signal },
    );
    out.items.push(...(page.items ?? []));
    out.prefixes.push(...(page.prefixes ?? []));
    pageToken = page.nextPageToken;
    if (!pageToken) break;
  }
  return out;
}

/** The last segment of a name or prefix (`a/b/c.txt` → `c.txt`, `a/b/` → `b/`). */
export function leaf(name: string, prefix: string): string {
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

function Breadcrumb(props: { project: string; bucket: string; prefix: string }) {
  const parts = props.prefix.split("/").filter(Boolean);
  return (
    <nav aria-label="Folder" className="breadcrumb">
      <ol>
        <li>
          <Link href={href("/storage", { project: props.project })}>Buckets</Link>
        </li>
        <li>
          <Link
            href={href("/storage", { project: props.project, bucket: props.bucket })}
            aria-current={parts.length === 0 ? "page" : undefined}
          >
            {props.bucket}
          </Link>
        </li>
        {parts.map((p, i) => {
          const prefix = `${parts.slice(0, i + 1).join("/")}/`;
          return (
            <li key={prefix}>
              <Link
                href={href("/storage", { project: props.project, bucket: props.bucket, prefix })}
                aria-current={i === parts.length - 1 ? "page" : undefined}
              >
                {p}
              </Link>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

function Uploader(props: { bucket: string; prefix: string; project: string; onUploaded: () => void }) {
  const fileId = useId();
  const nameId = useId();
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [progress, setProgress] = useState<Progress | null>(null);
  const [uploading, setUploading] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<StorageObject | null>(null);
  const abort = useRef<AbortController | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    const objectName = name.trim() || `${props.prefix}${file.name}`;
    const ctl = new AbortController();
    abort.current = ctl;
    setError(undefined);
    setDone(null);
    setUploading(objectName);
    setProgress({ persisted: 0, total: file.size, retries: 0, phase: "starting" });
    try {
      const obj = (await new ResumableUpload({
        bucket: props.bucket,
        name: objectName,
        data: file,
        contentType: file.type || "application/octet-stream",
        headers: { [CONSOLE_HEADER]: "1" },
        errorFrom: (status, body, path) => errorFrom(status, body, path),
        onProgress: setProgress,
        signal: ctl.signal,
      }).run()) as StorageObject;
      setDone(obj);
      setFile(null);
      setName("");
      if (inputRef.current) inputRef.current.value = "";
      props.onUploaded();
    } catch (err) {
      if ((err as Error).name === "AbortError") setError(new Error("The upload was cancelled."));
      else setError(err);
    } finally {
      abort.current = null;
      setUploading(null);
    }
  };

  return (
    <form className="panel" onSubmit={submit} aria-label="Upload a file">
      <h2>Upload</h2>
      <div className="row">
        <div className="field">
          <label htmlFor={fileId}>File</label>
          <input
            id={fileId}
            ref={inputRef}
            type="file"
            name="file"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            disabled={uploading !== null}
          />
        </div>
        <div className="field">
          <label htmlFor={nameId}>
            Object name <span className="hint">(default: this folder and the file's name)</span>
          </label>
          <input
            id={nameId}
            name="objectName"
            value={name}
            placeholder={file ? `${props.prefix}${file.name}` : `${props.prefix}…`}
            onChange={(e) => setName(e.target.value)}
            disabled={uploading !== null}
            spellCheck={false}
            autoComplete="off"
          />
        </div>
      </div>
      <div className="actions">
        <button type="submit" className="primary" disabled={!file || uploading !== null}>
          Upload
        </button>
        {uploading !== null && (
          <button type="button" onClick={() => abort.current?.abort()}>
            Cancel upload
          </button>
        )}
      </div>
      {progress && (uploading ?? done?.name) && (
        <UploadProgress name={uploading ?? done?.name ?? ""} progress={progress} />
      )}
      {done && (
        <p className="success" role="status" data-testid="upload-done">
          Uploaded <code>{done.name}</code> ({formatBytes(Number(done.size))}, MD5 <code>{done.md5Hash}</code>
          ).
        </p>
      )}
      {error !== undefined && <ApiErrorView error={error} project={props.project} title="Upload failed" />}
    </form>
  );
}

function ObjectRow(props: { obj: StorageObject; prefix: string; project: string; onDeleted: () => void }) {
  const { obj } = props;
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const base = leaf(obj.name, props.prefix);
  const del = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await call("DELETE", objectPath(obj.bucket, obj.name));
      props.onDeleted();
    } catch (err) {
      setError(err);
      setBusy(false);
      setConfirming(false);
    }
  };
  return (
    <tr data-testid="object-row" data-name={obj.name}>
      <td>
        <code>{base}</code>
      </td>
      <td>{formatBytes(Number(obj.size))}</td>
      <td className="hide-narrow">{obj.contentType ?? "—"}</td>
      <td className="hide-narrow">{obj.updated ? new Date(obj.updated).toLocaleString() : "—"}</td>
      <td>
        <div className="actions tight">
          <a
            className="button"
            href={apiUrl(objectPath(obj.bucket, obj.name), { alt: "media" })}
            download={base}
            aria-label={`Download ${obj.name}`}
          >
            Download
          </a>
          {confirming ? (
            <>
              <button type="button" className="danger" onClick={del} disabled={busy}>
                Delete {base}?
              </button>
              <button type="button" onClick={() => setConfirming(false)} disabled={busy}>
                Keep
              </button>
            </>
          ) : (
            <button
              type="button"
              className="danger"
              onClick={() => setConfirming(true)}
              aria-label={`Delete ${obj.name}`}
            >
              Delete
            </button>
          )}
        </div>
        {error !== undefined && <ApiErrorView error={error} project={props.project} title="Delete failed" />}
      </td>
    </tr>
  );
}

export function ObjectBrowser(props: { project: string; bucket: string; prefix: string }) {
  const { project, bucket, prefix } = props;
  const list = useLoad((signal) => listFolder(bucket, prefix, signal), [bucket, prefix]);
  const empty = list.data && list.data.items.length === 0 && list.data.prefixes.length === 0;
  return (
    <>
      <Breadcrumb project={project} bucket={bucket} prefix={prefix} />
      <Uploader bucket={bucket} prefix={prefix} project={project} onUploaded={list.reload} />
      <h2>
        Objects in <code>{`gs://${bucket}/${prefix}`}</code>
      </h2>
      {list.error !== undefined && <ApiErrorView error={list.error} project={project} />}
      {list.loading && !list.data && <p className="loading">Loading…</p>}
      {empty && (
        <p className="muted" data-testid="folder-empty">
          {prefix ? "This folder is empty." : "This bucket is empty. Upload a file above."}
        </p>
      )}
      {list.data && !empty && (
        <div className="table-wrap">
          <table className="fits" aria-label={`Objects in gs://${bucket}/${prefix}`}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
                <th scope="col" className="hide-narrow">
                  Type
                </th>
                <th scope="col" className="hide-narrow">
                  Updated
                </th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.prefixes.map((p) => (
                <tr key={p} data-testid="folder-row" data-prefix={p}>
                  <td>
                    <Link href={href("/storage", { project, bucket, prefix: p })}>
                      <span aria-hidden="true">📁 </span>
                      {leaf(p, prefix)}
                    </Link>
                  </td>
                  <td className="muted">—</td>
                  <td className="hide-narrow muted">folder</td>
                  <td className="hide-narrow" />
                  <td />
                </tr>
              ))}
              {list.data.items.map((o) => (
                <ObjectRow
                  key={`${o.name}#${o.generation}`}
                  obj={o}
                  prefix={prefix}
                  project={project}
                  onDeleted={list.reload}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** Whether an error is the bucket's absence (then the page offers the bucket list). */
export const isNotFound = (e: unknown) => e instanceof ApiError && e.code === 404;
