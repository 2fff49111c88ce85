/**
 * Service accounts of the project: create, disable, enable, delete (first showing which role
 * bindings the account loses), and its keys: list, delete, and create — the new key's JSON file is
 * offered for download once, while the panel is open, and is never shown again.
 */
import { type FormEvent, useEffect, useId, useState } from "react";
import { call, listAll } from "../api";
import { ApiErrorView } from "../components/ApiErrorView";
import { Scroller } from "../components/Scroller";
import { useLoad } from "../hooks";
import type { PageProps } from "../routes";
import { type Binding, getPolicy } from "./iam";

interface ServiceAccount {
  name: string;
  email: string;
  uniqueId: string;
  displayName?: string;
  description?: string;
  disabled?: boolean;
}

interface Key {
  name: string;
  keyType?: string;
  keyAlgorithm?: string;
  validAfterTime?: string;
  validBeforeTime?: string;
  disabled?: boolean;
}

const saPath = (project: string, email: string) =>
  `/v1/projects/${encodeURIComponent(project)}/serviceAccounts/${encodeURIComponent(email)}`;
const keyId = (k: Key) => k.name.split("/").pop() ?? k.name;

interface Loss {
  /** Bindings on the project that name the account. */
  project: Binding[];
  /** Bindings on the account itself (who could use or manage it). */
  own: Binding[];
  error?: unknown;
}

async function bindingsLost(project: string, email: string): Promise<Loss> {
  const member = `serviceAccount:${email}`;
  const out: Loss = { project: [], own: [] };
  try {
    const p = await getPolicy(project);
    out.project = (p.bindings ?? []).filter((b) => b.members.includes(member));
  } catch (err) {
    out.error = err;
  }
  try {
    const own = await call<{ bindings?: Binding[] }>("POST", `${saPath(project, email)}:getIamPolicy`, {
      body: {},
    });
    out.own = own.bindings ?? [];
  } catch (err) {
    out.error ??= err;
  }
  return out;
}

/** The freshly created key: its file, offered once. */
interface NewKey {
  id: string;
  account: string;
  url: string;
  fileName: string;
}

function KeysPanel(props: { project: string; account: ServiceAccount; onClose: () => void }) {
  const { project, account } = props;
  const keys = useLoad(
    () =>
      call<{ keys?: Key[] }>("GET", `${saPath(project, account.email)}/keys`).then((r) =>
        (r.keys ?? []).sort((a, b) => (a.validAfterTime ?? "").localeCompare(b.validAfterTime ?? "")),
      ),
    [project, account.email],
  );
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [fresh, setFresh] = useState<NewKey | undefined>();
  // The file lives in memory only while the panel shows it.
  useEffect(() => () => fresh && URL.revokeObjectURL(fresh.url), [fresh]);

  const create = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const k = await call<Key & { privateKeyData?: string }>(
        "POST",
        `${saPath(project, account.email)}/keys`,
        {
          body: { privateKeyType: "TYPE_GOOGLE_CREDENTIALS_FILE", keyAlgorithm: "KEY_ALG_RSA_2048" },
        },
      );
      const bytes = Uint8Array.from(atob(k.privateKeyData ?? ""), (c) => c.charCodeAt(0));
      const id = keyId(k);
      setFresh({
        id,
        account: account.email,
        url: URL.createObjectURL(new Blob([bytes], { type: "application/json" })),
        fileName: `${project}-${id.slice(0, 12)}.json`,
      });
      keys.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (k: Key) => {
    setBusy(true);
    setError(undefined);
    try {
      await call("DELETE", `${saPath(project, account.email)}/keys/${keyId(k)}`);
      keys.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel" aria-labelledby="keys-heading" data-testid="keys-panel">
      <h2 id="keys-heading">
        Keys of <code>{account.email}</code>
      </h2>
      {fresh && (
        <div className="notice" role="alert" data-testid="new-key">
          <h3>Key {fresh.id.slice(0, 12)}… created</h3>
          <p>
            Download its file now. It holds the private key, which Warrant does not keep: this is the only
            time it is offered.
          </p>
          <div className="actions">
            <a
              className="button primary"
              href={fresh.url}
              download={fresh.fileName}
              data-testid="download-key"
            >
              Download {fresh.fileName}
            </a>
            <button
              type="button"
              onClick={() => {
                URL.revokeObjectURL(fresh.url);
                setFresh(undefined);
              }}
            >
              Done
            </button>
          </div>
        </div>
      )}
      {error !== undefined && <ApiErrorView error={error} project={project} />}
      {keys.error !== undefined && <ApiErrorView error={keys.error} project={project} />}
      <div className="actions">
        <button type="button" className="primary" onClick={create} disabled={busy}>
          Create key
        </button>
        <button type="button" onClick={props.onClose}>
          Close keys
        </button>
      </div>
      {keys.data && keys.data.length === 0 && <p>No keys.</p>}
      {keys.data && keys.data.length > 0 && (
        <Scroller label="Keys">
          <table>
            <thead>
              <tr>
                <th scope="col">Key id</th>
                <th scope="col">Type</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.name} data-key={keyId(k)}>
                  <td>
                    <code>{keyId(k)}</code>
                  </td>
                  <td>{k.keyType === "SYSTEM_MANAGED" ? "Google-managed" : "User-managed"}</td>
                  <td>{k.validAfterTime ? new Date(k.validAfterTime).toLocaleString() : "—"}</td>
                  <td>{k.validBeforeTime ? new Date(k.validBeforeTime).toLocaleDateString() : "—"}</td>
                  <td>
                    {k.keyType !== "SYSTEM_MANAGED" && (
                      <button
                        type="button"
                        className="danger"
                        onClick={() => remove(k)}
                        disabled={busy}
                        aria-label={`Delete key ${keyId(k)}`}
                      >
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroller>
      )}
    </section>
  );
}

function DeletePanel(props: {
  project: string;
  account: ServiceAccount;
  onDone: () => void;
  onCancel: () => void;
}) {
  const { project, account } = props;
  const loss = useLoad(() => bindingsLost(project, account.email), [project, account.email]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await call("DELETE", saPath(project, account.email));
      props.onDone();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <section className="panel" aria-labelledby="delete-heading" data-testid="delete-panel">
      <h2 id="delete-heading">
        Delete <code>{account.email}</code>?
      </h2>
      {loss.loading && <p className="loading">Finding the bindings it would lose…</p>}
      {loss.data && (
        <>
          {loss.data.project.length === 0 && loss.data.own.length === 0 && (
            <p>It appears in no binding of the project's policy or its own.</p>
          )}
          {loss.data.project.length > 0 && (
            <>
              <p>Its roles on the project end with it:</p>
              <ul data-testid="lost-bindings">
                {loss.data.project.map((b) => (
                  <li key={b.role + (b.condition?.expression ?? "")}>
                    <code>{b.role}</code>
                    {b.condition && <> (if {b.condition.title ?? b.condition.expression})</>}
                  </li>
                ))}
              </ul>
            </>
          )}
          {loss.data.own.length > 0 && (
            <>
              <p>Its own policy goes too (who may use or manage it):</p>
              <ul>
                {loss.data.own.map((b) => (
                  <li key={b.role}>
                    <code>{b.role}</code>: {b.members.join(", ")}
                  </li>
                ))}
              </ul>
            </>
          )}
          {loss.data.error !== undefined && (
            <p className="muted">Some bindings could not be read, so the list may be incomplete.</p>
          )}
        </>
      )}
      {error !== undefined && <ApiErrorView error={error} project={project} />}
      <div className="actions">
        <button type="button" className="danger" onClick={confirm} disabled={busy}>
          Delete {account.email}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </section>
  );
}

export function ServiceAccountsPage({ project }: PageProps) {
  const accounts = useLoad(
    async () =>
      project
        ? listAll<ServiceAccount>(`/v1/projects/${encodeURIComponent(project)}/serviceAccounts`, "accounts", {
            pageSize: 100,
          })
        : [],
    [project],
  );
  const idField = useId();
  const nameField = useId();
  const [accountId, setAccountId] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState("");
  const [keysFor, setKeysFor] = useState<ServiceAccount | undefined>();
  const [deleting, setDeleting] = useState<ServiceAccount | undefined>();

  const act = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    setMessage("");
    try {
      await fn();
      setMessage(what);
      accounts.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const create = (e: FormEvent) => {
    e.preventDefault();
    const id = accountId.trim();
    void act(`Created ${id}@${project}.iam.gserviceaccount.com.`, async () => {
      await call("POST", `/v1/projects/${encodeURIComponent(project)}/serviceAccounts`, {
        body: { accountId: id, serviceAccount: { displayName: displayName.trim() || undefined } },
      });
      setAccountId("");
      setDisplayName("");
    });
  };

  if (!project) return <h1>Service accounts</h1>;
  return (
    <>
      <h1>
        Service accounts <span className="muted">in</span> <code>{project}</code>
      </h1>
      <section className="panel" aria-labelledby="create-heading">
        <h2 id="create-heading">Create a service account</h2>
        <form onSubmit={create} className="row">
          <div className="field">
            <label htmlFor={idField}>
              Account id <span className="hint">6–30 lowercase letters, digits, hyphens</span>
            </label>
            <input
              id={idField}
              value={accountId}
              onChange={(e) => setAccountId(e.target.value)}
              required
              pattern="[a-z][a-z0-9\-]{4,28}[a-z0-9]"
              autoComplete="off"
              spellCheck={false}
            />
          </div>
          <div className="field">
            <label htmlFor={nameField}>Display name</label>
            <input id={nameField} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
          </div>
          <div className="field">
            <button type="submit" className="primary" disabled={busy || !accountId.trim()}>
              Create
            </button>
          </div>
        </form>
      </section>
      {message && (
        <p className="success" role="status">
          {message}
        </p>
      )}
      {error !== undefined && <ApiErrorView error={error} project={project} />}
      {deleting && (
        <DeletePanel
          project={project}
          account={deleting}
          onCancel={() => setDeleting(undefined)}
          onDone={() => {
            setMessage(`Deleted ${deleting.email}.`);
            if (keysFor?.email === deleting.email) setKeysFor(undefined);
            setDeleting(undefined);
            accounts.reload();
          }}
        />
      )}
      {keysFor && <KeysPanel project={project} account={keysFor} onClose={() => setKeysFor(undefined)} />}
      {accounts.error !== undefined && <ApiErrorView error={accounts.error} project={project} />}
      {accounts.loading && !accounts.data && <p className="loading">Loading…</p>}
      {accounts.data && accounts.data.length === 0 && <p>The project has no service accounts.</p>}
      {accounts.data && accounts.data.length > 0 && (
        <Scroller label="Service accounts">
          <table data-testid="accounts">
            <thead>
              <tr>
                <th scope="col">E-mail</th>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {accounts.data.map((a) => (
                <tr key={a.uniqueId} data-account={a.email}>
                  <td>
                    <code>{a.email}</code>
                  </td>
                  <td>{a.displayName ?? ""}</td>
                  <td>
                    <span className={a.disabled ? "badge bad" : "badge ok"} data-testid="status">
                      {a.disabled ? "Disabled" : "Enabled"}
                    </span>
                  </td>
                  <td>
                    <div className="actions">
                      {a.disabled ? (
                        <button
                          type="button"
                          disabled={busy}
                          aria-label={`Enable ${a.email}`}
                          onClick={() =>
                            act(`Enabled ${a.email}.`, () =>
                              call("POST", `${saPath(project, a.email)}:enable`, { body: {} }),
                            )
                          }
                        >
                          Enable
                        </button>
                      ) : (
                        <button
                          type="button"
                          disabled={busy}
                          aria-label={`Disable ${a.email}`}
                          onClick={() =>
                            act(`Disabled ${a.email}.`, () =>
                              call("POST", `${saPath(project, a.email)}:disable`, { body: {} }),
                            )
                          }
                        >
                          Disable
                        </button>
                      )}
                      <button type="button" aria-label={`Keys of ${a.email}`} onClick={() => setKeysFor(a)}>
                        Keys
                      </button>
                      <button
                        type="button"
                        className="danger"
                        aria-label={`Delete ${a.email}`}
                        onClick={() => setDeleting(a)}
                      >
                        Delete
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroller>
      )}
    </>
  );
}
