import { rmSync } from "node:fs";
import { besideAdcFile, inspectAdcFile, wellKnownAdcFile } from "../../../adc.js";
import { USER_AGENT } from "../../../api.js";
import { CliError } from "../../../errors.js";
import { command } from "../../../spec.js";

/**
 * Revokes a Warrant-issued authorized_user credential at its server (`/revoke`, beside its
 * token_uri). Resolves to "revoked", or "unknown" when the server no longer knows the token (servers
 * before RFC 7009's `200` for unknown tokens answered `400 invalid_token`).
 */
export async function revokeRemotely(
  fetchImpl: typeof fetch,
  credential: Record<string, unknown>,
): Promise<"revoked" | "unknown"> {
  const url = new URL("/revoke", String(credential.token_uri));
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": USER_AGENT },
      body: new URLSearchParams({ token: String(credential.refresh_token) }).toString(),
    });
  } catch (e) {
    throw new CliError(
      `Cannot reach ${url.origin} to revoke the credential: ${(e as Error).message}`,
      "Start the server that issued it (its URL is the file's token_uri) and try again; the file was kept.",
    );
  }
  if (res.ok) return "revoked";
  const body = (await res.json().catch(() => ({}))) as { error?: string; error_description?: string };
  if (res.status === 400 && body.error === "invalid_token") return "unknown";
  throw new CliError(
    `Revoking at ${url} failed: ${res.status} ${body.error ?? ""} ${body.error_description ?? ""}`.trim(),
  );
}

export default command({
  name: "revoke",
  summary: "revoke the Warrant-issued Application Default Credentials and delete their file",
  description:
    "Finds the Warrant-issued credential written by `warrant auth application-default login` " +
    "(`application_default_credentials.json` in `$CLOUDSDK_CONFIG` or `~/.config/gcloud`, else " +
    "`warrant_application_default_credentials.json` beside it), revokes it at the server that issued it " +
    "(POST /revoke: its refresh token then gets invalid_grant, and the access tokens it issued are refused), " +
    "and deletes the file. A file Warrant did not write is never touched. If the server no longer knows the " +
    "credential, the file is deleted all the same.",
  examples: ["warrant auth application-default revoke"],
  async run(ctx) {
    const candidates = [wellKnownAdcFile(ctx.rt.env), besideAdcFile(ctx.rt.env)];
    const notes: string[] = [];
    for (const file of candidates) {
      const state = inspectAdcFile(file);
      if (state.kind === "absent") continue;
      if (state.kind === "foreign") {
        notes.push(`${file} was not written by Warrant (${state.why}); left alone.`);
        continue;
      }
      const outcome = await revokeRemotely(ctx.rt.fetch, state.credential);
      rmSync(file, { force: true });
      for (const n of notes) ctx.status(n);
      const who = typeof state.credential.account === "string" ? ` of user:${state.credential.account}` : "";
      ctx.status(
        outcome === "revoked"
          ? `Revoked the credential${who} and removed [${file}].`
          : `The server no longer knows the credential${who} (already revoked, or its user deleted); removed [${file}].`,
      );
      return 0;
    }
    throw new CliError(
      `No Warrant-issued Application Default Credentials found (looked at ${candidates.join(" and ")}).` +
        (notes.length ? ` ${notes.join(" ")}` : ""),
    );
  },
});
