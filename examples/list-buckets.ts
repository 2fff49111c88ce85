/**
 * Example (a): list a project's buckets through the client library.
 *
 * Application Default Credentials find the credential on their own: a key file named by
 * GOOGLE_APPLICATION_CREDENTIALS, your `warrant auth application-default login` file, or — on an
 * instance — the metadata server. The same code runs as you on a laptop and as the instance's
 * service account on a VM.
 *
 *   node dist/examples/list-buckets.js [PROJECT]
 */
import { getApplicationDefault } from "warrant/client";

const endpoint = (process.env.WARRANT_ENDPOINT ?? "http://127.0.0.1:8080").replace(/\/+$/, "");

const { credential, source, projectId } = await getApplicationDefault();
const project = process.argv[2] ?? projectId;
if (!project) {
  console.error("No project: pass one, or set GOOGLE_CLOUD_PROJECT.");
  process.exit(2);
}
console.error(`credentials: ${source}`);

// authorizedFetch adds the bearer token, caches it, and refreshes it ahead of expiry.
const res = await credential.authorizedFetch(
  `${endpoint}/storage/v1/b?project=${encodeURIComponent(project)}`,
);
const body = (await res.json()) as { items?: { name: string }[]; error?: { message: string } };
if (!res.ok) {
  // Warrant's denials name the principal, the permission and the roles that would grant it.
  console.error(`${res.status}: ${body.error?.message}`);
  process.exit(1);
}
for (const bucket of body.items ?? []) console.log(bucket.name);
