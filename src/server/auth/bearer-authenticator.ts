/** Authentication: the bearer token of a request → the calling principal. */
import type { IncomingMessage } from "node:http";
import { Unauthenticated } from "../../domain/errors.js";
import { principalFromMember } from "../../domain/iam/principal.js";
import { InvalidToken, verifyAccessToken } from "../../domain/tokens/access-token.js";
import type { Caller } from "../http/context.js";
import type { Authenticator } from "../http/server.js";
import type { KeyRing } from "../tokens/key-ring.js";

export class BearerAuthenticator implements Authenticator {
  constructor(
    private readonly keyRing: KeyRing,
    private readonly issuer: string,
  ) {}

  async authenticate(req: IncomingMessage): Promise<Caller | null> {
    const header = req.headers.authorization;
    if (header === undefined || header === "") return null;
    const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
    if (!m) throw Unauthenticated.invalid("the Authorization header must be 'Bearer <access token>'");
    try {
      const claims = await verifyAccessToken(m[1]!, this.issuer, (kid) => this.keyRing.verificationKey(kid));
      const principal = principalFromMember(claims.sub);
      if (!principal) throw new InvalidToken("token subject is not a principal");
      return { principal, token: claims };
    } catch (err) {
      if (err instanceof InvalidToken) throw Unauthenticated.invalid(err.message);
      throw err;
    }
  }
}
