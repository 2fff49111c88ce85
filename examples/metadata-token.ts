/**
 * Example (b): get an access token from the metadata server by hand, then list buckets with it —
 * what client libraries do under the hood on an instance. Run it as an instance:
 *
 *   eval "$(npx warrant env --instance demo-vm)"
 *   node dist/examples/metadata-token.js
 */
const metadata = process.env.GCE_METADATA_HOST ?? "169.254.169.254";
const endpoint = (process.env.WARRANT_ENDPOINT ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const project = process.argv[2] ?? process.env.GOOGLE_CLOUD_PROJECT ?? "demo-project";

// The Metadata-Flavor header is required: it proves the request is not a forwarded one (SSRF).
const tokenUrl = `http://${metadata}/computeMetadata/v1/instance/service-accounts/default/token`;
const tokenRes = await fetch(tokenUrl, { headers: { "Metadata-Flavor": "Google" } });
if (!tokenRes.ok) {
  console.error(`metadata server: ${tokenRes.status} ${await tokenRes.text()}`);
  process.exit(1);
}
// {"access_token": "...", "expires_in": 3599, "token_type": "Bearer"}; the server caches it.
const { access_token: token, expires_in: expiresIn } = (await tokenRes.json()) as {
  access_token: string;
  expires_in: number;
};
console.error(`token valid for ${expiresIn} s`);

const res = await fetch(`${endpoint}/storage/v1/b?project=${encodeURIComponent(project)}`, {
  headers: { Authorization: `Bearer ${token}` },
});
const body = (await res.json()) as { items?: { name: string }[]; error?: { message: string } };
if (!res.ok) {
  console.error(`${res.status}: ${body.error?.message}`);
  process.exit(1);
}
for (const bucket of body.items ?? []) console.log(bucket.name);
