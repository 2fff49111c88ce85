/** The console's entry: finds the session, then renders the page the URL names inside the layout. */
import "./styles.css";
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { currentSession, onSignedOut, type SessionInfo, signInUrl } from "./api";
import { ApiErrorView } from "./components/ApiErrorView";
import { Layout } from "./components/Layout";
import { useTitle } from "./hooks";
import { useLocation } from "./nav";
import { routeFor } from "./routes";

function SignedOut(props: { expired: boolean }) {
  useTitle("Sign in");
  const { query } = useLocation();
  return (
    <main id="main" className="signed-out">
      <h1>Warrant console</h1>
      {query.get("signedOut") ? (
        <p role="status">You are signed out.</p>
      ) : props.expired ? (
        <p role="status">Your session ended. Sign in again to continue.</p>
      ) : (
        <p>See and change IAM, service accounts and the audit log of this Warrant installation.</p>
      )}
      <p>
        <a className="button primary" href={signInUrl(query.get("signedOut") ? "/console/" : undefined)}>
          Sign in
        </a>
      </p>
      {query.get("signInError") && (
        <p className="error" role="alert">
          Sign-in did not complete: {query.get("signInError")}
        </p>
      )}
    </main>
  );
}

function NotFound() {
  useTitle("Not found");
  return (
    <>
      <h1>Page not found</h1>
      <p>The console has no page at this address.</p>
    </>
  );
}

function Page(props: { project: string }) {
  const { path } = useLocation();
  const route = routeFor(path);
  useTitle(route?.title ?? "Not found");
  if (!route) return <NotFound />;
  const C = route.component;
  return <C project={props.project} />;
}

function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [error, setError] = useState<unknown>();
  const [expired, setExpired] = useState(false);
  const { query } = useLocation();
  useEffect(() => {
    currentSession().then(setSession, setError);
    return onSignedOut(() => {
      setExpired(true);
      setSession(null);
    });
  }, []);
  if (error)
    return (
      <main id="main">
        <ApiErrorView error={error} />
      </main>
    );
  if (session === undefined)
    return (
      <main id="main" aria-busy="true">
        <p className="loading">Loading…</p>
      </main>
    );
  if (session === null) return <SignedOut expired={expired} />;
  const project = query.get("project") ?? "";
  return (
    <Layout session={session} project={project}>
      <Page project={project} />
    </Layout>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
