/**
 * The one way the server mints an access token: with the key ring's primary key, the installation's
 * issuer, the signing pool and the configured lifetime (unless the grant asks for less). Every grant
 * calls this rather than wiring `mintAccessToken` itself, so none can sign on the event loop or with
 * another key by leaving an argument out.
 */
import { type MintRequest, mintAccessToken } from "../../domain/tokens/access-token.js";
import type { ServerDeps } from "../deps.js";

export function issueAccessToken(
  deps: Pick<ServerDeps, "keyRing" | "tokenIssuer" | "signer" | "accessTokenLifetimeSeconds">,
  req: MintRequest,
) {
  return mintAccessToken(
    deps.keyRing.primary(),
    deps.tokenIssuer,
    { ...req, lifetimeSeconds: req.lifetimeSeconds ?? deps.accessTokenLifetimeSeconds },
    deps.signer,
  );
}
