/**
 * A real OpenID Connect provider (`oidc-provider`) on 127.0.0.1, standing in for a corporate
 * identity provider: whoever types an e-mail at its (development) login form is signed in as that
 * account, with `email_verified` true unless the address starts with `unverified`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

interface GrantContext {
  oidc: {
    client: { clientId: string };
    session: { accountId: string };
    provider: {
      Grant: new (o: {
        clientId: string;
        accountId: string;
      }) => {
        addOIDCScope(s: string): void;
        addOIDCClaims(c: string[]): void;
        save(): Promise<unknown>;
      };
    };
  };
}

export interface UpstreamIdp {
  issuer: string;
  /** Registers Warrant as a client, once its callback URL is known. */
  register(client: { clientId: string; clientSecret: string; redirectUri: string }): void;
  close(): Promise<void>;
}

export async function startUpstreamIdp(): Promise<UpstreamIdp> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createServer((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    register({ clientId, clientSecret, redirectUri }) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: [redirectUri],
            response_types: ["code"],
            grant_types: ["authorization_code"],
          },
        ],
        async findAccount(_ctx: unknown, id: string) {
          return {
            accountId: id,
            async claims() {
              return {
                sub: id,
                email: id,
                email_verified: !id.startsWith("unverified"),
                name: id.split("@")[0],
              };
            },
          };
        },
        claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
        // Corporate IdPs put the e-mail in the ID token; so does this one.
        conformIdTokenClaims: false,
        // No consent screen: the grant is created on the spot.
        async loadExistingGrant(ctx: GrantContext) {
          const grant = new ctx.oidc.provider.Grant({
            clientId: ctx.oidc.client.clientId,
            accountId: ctx.oidc.session.accountId,
          });
          grant.addOIDCScope("openid email profile");
          grant.addOIDCClaims(["email", "email_verified", "name"]);
          await grant.save();
          return grant;
        },
        cookies: { keys: ["upstream-idp-test-key"] },
      });
      handler = provider.callback() as (req: IncomingMessage, res: ServerResponse) => void;
    },
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
