/** Quotes a value for POSIX shells, leaving simple values bare. */
export function shellQuote(v: string): string {
  if (v !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(v)) return v;
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

export function exportLine(name: string, value: string): string {
  return `export ${name}=${shellQuote(value)}\n`;
}

export interface EnvTarget {
  url: string;
  credentialFile: string;
  project: string;
}

export function warrantExports(t: EnvTarget): string {
  return (
    exportLine("WARRANT_ENDPOINT", t.url) +
    exportLine("WARRANT_CREDENTIAL_FILE", t.credentialFile) +
    exportLine("WARRANT_PROJECT", t.project)
  );
}

export function gcloudExports(t: EnvTarget & { tokenFile: string }): string {
  const url = t.url.replace(/\/+$/, "");
  return (
    exportLine("CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", t.tokenFile) +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM", `${url}/`) +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER", `${url}/`) +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", `${url}/compute/v1/`) +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE", `${url}/`) +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_POLICYTROUBLESHOOTER", `${url}/`) +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING", `${url}/`) +
    exportLine("CLOUDSDK_CORE_PROJECT", t.project)
  );
}

/** Exports that make a shell act as an instance: every runtime's metadata-server variable. */
export function instanceExports(t: { url: string; metadata: string; project: string }): string {
  const url = t.url.replace(/\/+$/, "");
  return (
    "unset GOOGLE_APPLICATION_CREDENTIALS WARRANT_CREDENTIAL_FILE CLOUDSDK_AUTH_ACCESS_TOKEN_FILE\n" +
    exportLine("GCE_METADATA_HOST", t.metadata) +
    exportLine("GCE_METADATA_IP", t.metadata) +
    exportLine("GCE_METADATA_ROOT", t.metadata) +
    exportLine("WARRANT_ENDPOINT", url) +
    // As on a VM: the CLI authenticates through ADC (the metadata server), not the admin credential.
    exportLine("WARRANT_CREDENTIAL_SOURCE", "adc") +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM", `${url}/`) +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER", `${url}/`) +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", `${url}/compute/v1/`) +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE", `${url}/`) +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_POLICYTROUBLESHOOTER", `${url}/`) +
    exportLine("CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING", `${url}/`) +
    exportLine("GOOGLE_CLOUD_PROJECT", t.project)
  );
}

/**
 * Exports that route HTTPS to Google API hosts through Warrant's interception proxy and make
 * each runtime trust Warrant's CA: Node adds NODE_EXTRA_CA_CERTS to its store (the CA alone); the
 * Python/OpenSSL/gcloud variables replace the store, so they get the system bundle + the CA.
 */
export function proxyExports(t: { proxyUrl: string; caFile: string; caBundleFile: string }): string {
  const noProxy = "127.0.0.1,localhost";
  return (
    exportLine("HTTPS_PROXY", t.proxyUrl) +
    exportLine("https_proxy", t.proxyUrl) +
    exportLine("NO_PROXY", noProxy) +
    exportLine("no_proxy", noProxy) +
    exportLine("NODE_EXTRA_CA_CERTS", t.caFile) +
    exportLine("REQUESTS_CA_BUNDLE", t.caBundleFile) +
    exportLine("SSL_CERT_FILE", t.caBundleFile) +
    exportLine("CURL_CA_BUNDLE", t.caBundleFile) +
    exportLine("HTTPLIB2_CA_CERTS", t.caBundleFile) +
    exportLine("CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", t.caBundleFile)
  );
}
