/**
 * The OAuth clients Warrant knows without registration: gcloud's two (their ids and secrets are
 * published in the Cloud SDK, so the "secret" authenticates nothing and PKCE is what binds a code
 * to the client that asked for it), Warrant's own CLI, and the web console. One table, used by the
 * authorization endpoint (which redirect URIs a client may name) and the token endpoint (how a
 * client authenticates). Pure: the console's redirect URIs depend on the origins the server was
 * configured to answer at, which the caller passes in.
 */
import { timingSafeEqual } from "node:crypto";

/** `http://HOST:PORT/` on a loopback host, any port: RFC 8252 §7.3 (the port is the only variable). */
export interface LoopbackRedirect {
  loopback: readonly ("localhost" | "127.0.0.1" | "[::1]")[];
}

export interface FirstPartyClient {
  clientId: string;
  displayName: string;
  /**
   * A secret published with the client's software (gcloud's). When set, a token request that
   * names the client must present it; it proves nothing beyond "this is the client's software".
   * Absent: a public client (RFC 6749 §2.1) that sends only its id.
   */
  publishedSecret?: string;
  /** Loopback redirects allowed for native clients. */
  loopback?: LoopbackRedirect;
  /** Exact redirect URIs. */
  exact?: readonly string[];
  /**
   * Exact redirect URIs at which Warrant shows the code on its own page instead of redirecting
   * (gcloud's `--no-launch-browser` pages on sdk.cloud.google.com, which only display the code).
   */
  codeDisplay?: readonly string[];
  /** Redirect URIs relative to each of the server's own origins (the console). */
  ownOriginPaths?: readonly string[];
}

export const GCLOUD_CLIENT_ID = "32555940559.apps.googleusercontent.com";
export const GCLOUD_ADC_CLIENT_ID =
  "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com";
export const WARRANT_CLI_CLIENT_ID = "warrant-cli-login.apps.warrant.local";
export const CONSOLE_CLIENT_ID = "warrant-console";
export const CONSOLE_CALLBACK_PATH = "/console/auth/callback";

const ANY_LOOPBACK: LoopbackRedirect = { loopback: ["localhost", "127.0.0.1", "[::1]"] };

export const FIRST_PARTY_CLIENTS: readonly FirstPartyClient[] = [
  {
    clientId: GCLOUD_CLIENT_ID,
    displayName: "Google Cloud SDK (gcloud auth login)",
    publishedSecret: "ZmssLNjJy2998hD4CTg2ejr2",
    loopback: ANY_LOOPBACK,
    codeDisplay: ["https://sdk.cloud.google.com/authcode.html"],
  },
  {
    clientId: GCLOUD_ADC_CLIENT_ID,
    displayName: "Google Auth Library (gcloud auth application-default login)",
    publishedSecret: "d-FL95Q19q7MQmFpd7hHD0Ty",
    loopback: ANY_LOOPBACK,
    codeDisplay: ["https://sdk.cloud.google.com/applicationdefaultauthcode.html"],
  },
  {
    clientId: WARRANT_CLI_CLIENT_ID,
    displayName: "Warrant CLI (warrant auth login)",
    // RFC 8252 §8.3: loopback IP literals, not `localhost` (which a hosts file may point elsewhere).
    loopback: { loopback: ["127.0.0.1", "[::1]"] },
  },
  {
    clientId: CONSOLE_CLIENT_ID,
    displayName: "Warrant console",
    ownOriginPaths: [CONSOLE_CALLBACK_PATH],
  },
];

export function firstPartyClient(clientId: string): FirstPartyClient | undefined {
  return FIRST_PARTY_CLIENTS.find((c) => c.clientId === clientId);
}

/** How the authorization response reaches the client: a redirect, or Warrant's own code page. */
export type RedirectKind = "redirect" | "display";

const LOOPBACK = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\]):([1-9][0-9]{0,4})\/$/;

/**
 * Whether `uri` is registered for the client: exact string comparison (RFC 9700 §2.1, §4.1.3),
 * except the port of a loopback redirect. Returns how to answer, or undefined when not registered.
 */
export function redirectKind(
  client: FirstPartyClient,
  uri: string,
  ownOrigins: readonly string[],
): RedirectKind | undefined {
  if (client.exact?.includes(uri)) return "redirect";
  if (client.codeDisplay?.includes(uri)) return "display";
  if (client.ownOriginPaths?.some((p) => ownOrigins.some((o) => `${o}${p}` === uri))) return "redirect";
  const m = LOOPBACK.exec(uri);
  if (m && client.loopback?.loopback.includes(m[1] as "localhost") && Number(m[2]) <= 65535)
    return "redirect";
  return undefined;
}

/** The console's client id and the redirect URIs it may use, at the server's own origins. */
export function consoleClient(ownOrigins: readonly string[]): { clientId: string; redirectUris: string[] } {
  return {
    clientId: CONSOLE_CLIENT_ID,
    redirectUris: ownOrigins.map((o) => `${new URL(o).origin}${CONSOLE_CALLBACK_PATH}`),
  };
}

/**
 * Client authentication at the token endpoint: a client with a published secret must present it
 * (compared in constant time); a public client must not present one (a secret it cannot keep
 * would only suggest a protection that is not there).
 */
export function clientAuthenticates(client: FirstPartyClient, secret: string | undefined): boolean {
  if (client.publishedSecret === undefined) return secret === undefined || secret === "";
  if (secret === undefined) return false;
  const a = Buffer.from(secret, "utf8");
  const b = Buffer.from(client.publishedSecret, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}
