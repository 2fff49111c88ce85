/**
 * Example (c): the curl flow — a token from the metadata server, then the instances of a zone from
 * the Compute API. The same two requests with curl:
 *
 *   TOKEN=$(curl -s -H 'Metadata-Flavor: Google' \
 *     "http://$GCE_METADATA_HOST/computeMetadata/v1/instance/service-accounts/default/token" \
 *     | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
 *   curl -s -H "Authorization: Bearer $TOKEN" \
 *     "$WARRANT_ENDPOINT/compute/v1/projects/demo-project/zones/us-central1-a/instances"
 *
 *   eval "$(npx warrant env --instance demo-vm)"
 *   node dist/examples/list-instances.js [PROJECT] [ZONE]
 */
const metadata = process.env.GCE_METADATA_HOST ?? "169.254.169.254";
const endpoint = (process.env.WARRANT_ENDPOINT ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const project = process.argv[2] ?? process.env.GOOGLE_CLOUD_PROJECT ?? "demo-project";
const zone = process.argv[3] ?? "us-central1-a";

const tokenRes = await fetch(
  `http://${metadata}/computeMetadata/v1/instance/service-accounts/default/token`,
  {
    headers: { "Metadata-Flavor": "Google" },
  },
);
if (!tokenRes.ok) {
  console.error(`metadata server: ${tokenRes.status} ${await tokenRes.text()}`);
  process.exit(1);
}
const { access_token: token } = (await tokenRes.json()) as { access_token: string };

const res = await fetch(`${endpoint}/compute/v1/projects/${project}/zones/${zone}/instances`, {
  headers: { Authorization: `Bearer ${token}` },
});
const body = (await res.json()) as {
  items?: { name: string; status: string; serviceAccounts?: { email: string }[] }[];
  error?: { message: string };
};
if (!res.ok) {
  // Needs compute.instances.list (e.g. roles/compute.viewer) and a compute or cloud-platform scope.
  console.error(`${res.status}: ${body.error?.message}`);
  process.exit(1);
}
for (const i of body.items ?? [])
  console.log(`${i.name}\t${i.status}\t${i.serviceAccounts?.[0]?.email ?? "-"}`);
