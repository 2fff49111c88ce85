/**
 * Authentication: the bearer credential of a request → the calling principal. Two credential
 * kinds are accepted, both verified offline:
 *  - Warrant access tokens (signed by the installation's key ring);
 *  - self-signed JWTs from a service-account key (Google's clients send these instead of going
 *    to the token endpoint when no scopes are set), checked for key, lifetime and audience.
 * A service account that is disabled or deleted is refused (see ServiceAccountDirectory for the
 * bound on how fast other nodes notice), and so is a user who is disabled, deleted or was re-created
 * after the token was issued, and a token issued to a revoked user credential (see UserDirectory).
 */
import type { IncomingMessage } from "node:http";
import { compactVerify, decodeProtectedHeader } from "jose";
import { CLOUD_PLATFORM } from "../../domain/compute/scopes.js";
import { Unauthenticated } from "../../domain/errors.js";
import { principalFromMember, serviceAccountPrincipal, userPrincipal } from "../../domain/iam/principal.js";
import { parseScopes } from "../../domain/oauth/assertion.js";
import {
  ACCESS_TOKEN_TYP,
  type AccessTokenClaims,
  CLOCK_TOLERANCE_S,
  InvalidToken,
  verifyAccessToken,
} from "../../domain/tokens/access-token.js";
import { CLAIM_PROBLEM_TEXT, claimProblem } from "../../domain/tokens/claims.js";
import { userAcceptsToken } from "../../domain/user.js";
import type { Caller } from "../http/context.js";
import type { Authenticator } from "../http/server.js";
import type { KeyRing } from "../tokens/key-ring.js";
import type { ServiceAccountDirectory } from "./service-account-directory.js";
import type { UserDirectory } from "./user-directory.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";
import type { WorkloadIdentityDirectory } from "./workload-identity-directory.js";

export const MAX_SELF_SIGNED_LIFETIME_S = 3600;
const FEDERATED_SUB =
  /^principal:\/\/iam\.googleapis\.com\/(projects\/\d+\/locations\/global\/workloadIdentityPools\/[a-z0-9-]{4,32})\/subject\/(.+)$/;
export const MAX_BEARER_BYTES = 8192;
const BEARER = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i;

export class BearerAuthenticator implements Authenticator {
  /** Signatures already verified on this node (the per-request checks still run on every hit). */
  private readonly verified = new VerifiedTokenCache();

  constructor(
    private readonly keyRing: KeyRing,
    private readonly issuer: string,
    private readonly directory: ServiceAccountDirectory,
    private readonly users: UserDirectory,
    /**
     * Whether a self-signed JWT's `aud` designates this installation: decided from the URLs it is
     * configured to answer at and the Google API hosts it serves, never from the request's `Host`.
     */
    private readonly isOwnAudience: (aud: string) => boolean,
    /** Pools' state, for tokens of federated identities (STS); absent: such tokens are refused. */
    private readonly workloadIdentity?: WorkloadIdentityDirectory,
  ) {}

  async authenticate(req: IncomingMessage): Promise<Caller | null> {
    const header = req.headers.authorization;
    if (header === undefined || header === "") return null;
    // A token verified before was checked against the pattern below when it was: its exact
    // header needs no second look (the pattern is a tenth of a cached call's cost).
    if (header.startsWith("Bearer ") && header.length - 7 <= MAX_BEARER_BYTES) {
      const token = header.slice(7);
      const digest = VerifiedTokenCache.digest(token);
      if (this.verified.has(digest)) return this.verify(token, digest);
    }
    const m = BEARER.exec(header);
    if (!m) throw Unauthenticated.invalid("the Authorization header must be 'Bearer <access token>'");
    return this.verify(m[1]!);
  }

  /** Verifies a bearer token presented to this server (`digest`: its digest, when already made). */
  async verify(token: string, digest?: string): Promise<Caller> {
    if (token.length > MAX_BEARER_BYTES) throw Unauthenticated.invalid("the bearer token is too large");
    try {
      digest ??= VerifiedTokenCache.digest(token);
      const caller = (await this.cached(digest)) ?? (await this.uncached(token, digest));
      if (caller.principal.kind === "user") {
        const uid = await this.checkUser(caller.principal.email, caller.token!);
        return { ...caller, principal: userPrincipal(caller.principal.email, [], uid) };
      }
      if (caller.principal.kind === "federated") {
        // A disabled or deleted pool stops its identities' tokens (a disabled provider does not),
        // and a token names the pool's unique id: a re-created pool of the same id does not honour it.
        const ok = await this.workloadIdentity?.poolAccepts(caller.principal.pool, caller.token?.uid);
        if (!ok)
          throw new InvalidToken(
            `the workload identity pool ${caller.principal.pool} is disabled or deleted`,
          );
        return caller;
      }
      if (caller.principal.kind !== "serviceAccount") return caller;
      const sa = await this.directory.activeAccount(caller.principal.email);
      if (!sa) throw new InvalidToken(`service account ${caller.principal.email} is disabled or deleted`);
      // A token acts for the account it was issued to: not for a later account of the same e-mail.
      // (Tokens from before the uid claim carry the account's unique id as azp.)
      const boundTo = caller.token?.uid ?? caller.token?.azp;
      if (boundTo !== sa.uniqueId)
        throw new InvalidToken(`the token was issued to a deleted service account ${sa.email}`);
      // The project number lets `principalSet://…/projects/NUMBER/type/ServiceAccount` members match.
      const projectNumber = await this.directory.projectNumber(sa.projectId);
      return { ...caller, principal: serviceAccountPrincipal(sa.email, projectNumber, sa.uniqueId) };
    } catch (err) {
      if (err instanceof InvalidToken) throw Unauthenticated.invalid(err.message);
      throw err;
    }
  }

  /**
   * A user's token works while the user is active, for the user it was issued to (its unique id),
   * and while the credential it came from is not revoked. Returns the user's unique id.
   */
  private async checkUser(email: string, token: { iat: number; azp: string; uid?: string }) {
    const user = await this.users.user(email);
    if (!userAcceptsToken(user, token.iat) || (token.uid !== undefined && token.uid !== user?.uniqueId))
      throw new InvalidToken(
        `user ${email} is disabled or deleted, or was re-created after the token was issued`,
      );
    if (token.azp !== "") {
      const client = await this.users.client(token.azp);
      if (client?.revokeTime)
        throw new InvalidToken("the credential this token was issued to has been revoked");
    }
    return user?.uniqueId;
  }

  private async uncached(token: string, digest: string): Promise<Caller> {
    let typ: unknown;
    try {
      typ = decodeProtectedHeader(token).typ;
    } catch {
      throw new InvalidToken("the bearer token is not a Warrant access token or a signed JWT");
    }
    return typ === ACCESS_TOKEN_TYP ? this.accessToken(token, digest) : this.selfSignedJwt(token, digest);
  }

  /**
   * A token verified before, still within its lifetime and signed by a key still trusted: the
   * installation's key ring for access tokens, an enabled key of a live account for self-signed JWTs.
   */
  private async cached(digest: string): Promise<Caller | undefined> {
    const nowSeconds = Date.now() / 1000;
    const hit = this.verified.get(digest, nowSeconds);
    if (hit === undefined) return undefined;
    const lifetime = claimProblem(
      { iat: hit.claims.iat, exp: hit.claims.exp },
      { nowSeconds, toleranceSeconds: CLOCK_TOLERANCE_S },
    );
    if (lifetime !== null) return undefined;
    const trusted = hit.selfSigned
      ? (await this.directory.key(hit.kid)) !== undefined
      : this.keyRing.verificationKey(hit.kid) !== undefined;
    return trusted ? hit.caller : undefined;
  }

  private async accessToken(token: string, digest: string): Promise<Caller> {
    const signedBy = headerKid(token);
    // Signed by a key this node does not trust yet: maybe another node has just rotated.
    if (signedBy !== undefined && this.keyRing.verificationKey(signedBy) === undefined)
      await this.keyRing.refreshFor(signedBy);
    let kid = "";
    const claims = await verifyAccessToken(token, this.issuer, (k) => {
      kid = k;
      return this.keyRing.verificationKey(k);
    });
    // Shared by every later request presenting this token: nothing may change it.
    Object.freeze(claims.scopes);
    const caller = this.caller(Object.freeze(claims));
    this.verified.set(digest, { claims, caller, kid });
    return caller;
  }

  /** The caller the claims name; frozen, as the verified-token cache hands it to every later request. */
  private caller(claims: AccessTokenClaims): Caller {
    const federated = FEDERATED_SUB.exec(claims.sub);
    if (federated) {
      if (claims.via !== "sts" || !claims.federated)
        throw new InvalidToken("token subject is not a principal");
      return Object.freeze({
        principal: Object.freeze({
          kind: "federated",
          pool: federated[1]!,
          subject: federated[2]!,
          poolGroups: claims.federated.groups,
          attributes: claims.federated.attributes,
          groups: [],
        }),
        token: claims,
      });
    }
    const principal = principalFromMember(claims.sub);
    if (!principal) throw new InvalidToken("token subject is not a principal");
    return Object.freeze({ principal: Object.freeze(principal), token: claims });
  }

  private async selfSignedJwt(token: string, digest: string): Promise<Caller> {
    const { kid, alg } = decodeProtectedHeader(token);
    if (alg !== "RS256" || typeof kid !== "string") throw new InvalidToken("unsupported token");
    const key = await this.directory.key(kid);
    if (!key) throw new InvalidToken("the JWT's key is unknown, disabled or deleted");
    let payload: Record<string, unknown>;
    try {
      const { payload: raw } = await compactVerify(token, key.publicKey, { algorithms: ["RS256"] });
      payload = JSON.parse(Buffer.from(raw).toString("utf8"));
    } catch {
      throw new InvalidToken("invalid JWT signature");
    }
    const email = key.key.email;
    if (payload.iss !== email || (payload.sub !== undefined && payload.sub !== email))
      throw new InvalidToken("a self-signed JWT's iss and sub must be the key's service account");
    // Google's two forms: `scope` names the token's scopes; otherwise `aud` must name this service.
    const scoped = typeof payload.scope === "string" && payload.scope !== "";
    const problem = claimProblem(payload, {
      nowSeconds: Math.floor(Date.now() / 1000),
      toleranceSeconds: CLOCK_TOLERANCE_S,
      maxLifetimeSeconds: MAX_SELF_SIGNED_LIFETIME_S,
      ...(scoped ? {} : { audience: this.isOwnAudience }),
    });
    if (problem === "lifetime") throw new InvalidToken("a self-signed JWT must live at most 3600 s");
    if (problem) throw new InvalidToken(`self-signed JWT: ${CLAIM_PROBLEM_TEXT[problem]}`);
    const { iat, exp } = payload as { iat: number; exp: number };
    let scopes: string[] = [CLOUD_PLATFORM];
    if (scoped) {
      const parsed = parseScopes(payload.scope as string);
      if (typeof parsed === "string") throw new InvalidToken(parsed);
      scopes = parsed;
    }
    // Keys are deleted with their account, so a key made before keys recorded their account's
    // unique id belongs to the live account of its e-mail.
    const uid = key.key.uniqueId ?? (await this.directory.account(email))?.uniqueId;
    const claims: AccessTokenClaims = {
      sub: `serviceAccount:${email}`,
      ...(uid !== undefined ? { uid } : {}),
      scopes: Object.freeze(scopes) as string[],
      azp: email,
      jti: `${kid}:${iat}`,
      iat,
      exp,
      via: "self-signed-jwt",
    };
    const caller = this.caller(Object.freeze(claims));
    this.verified.set(digest, { claims, caller, kid, selfSigned: true });
    return caller;
  }
}

/** The `kid` of a JWT's header, or undefined when it has none (the verifier then refuses it). */
function headerKid(token: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf(".")), "base64url").toString("utf8"));
    return typeof header?.kid === "string" ? header.kid : undefined;
  } catch {
    return undefined;
  }
}
