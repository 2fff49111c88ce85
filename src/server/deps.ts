/** What the API handlers share: the datastore, IAM enforcement, the token key ring. */
import type { Datastore } from "../datastore/datastore.js";
import type { Repositories } from "../datastore/repositories.js";
import type { ChangeFeed } from "./agents/change-feed.js";
import type { ProjectDirectory } from "./auth/project-directory.js";
import type { ServiceAccountDirectory } from "./auth/service-account-directory.js";
import type { UserDirectory } from "./auth/user-directory.js";
import type { AuditSink } from "./http/server.js";
import type { AccessControl } from "./iam/access-control.js";
import type { PolicyService } from "./iam/policy-service.js";
import type { ObjectService } from "./storage/object-service.js";
import type { KeyRing } from "./tokens/key-ring.js";
import type { Signer } from "./tokens/signing-pool.js";
import type { SystemKeys } from "./tokens/system-keys.js";

export interface ServerDeps {
  store: Datastore;
  /** Committed reads; writes go through `store.transaction`. */
  repos: Repositories;
  access: AccessControl;
  policies: PolicyService;
  keyRing: KeyRing;
  /** Makes the RS256 signatures of minted access tokens (a pool of threads in a server). */
  signer: Signer;
  /** Keys Warrant signs with on behalf of service accounts (signBlob, signJwt). */
  systemKeys: SystemKeys;
  /** Cached service accounts and their public keys, for the token paths. */
  directory: ServiceAccountDirectory;
  /** Cached projects, for the routes that load their project on every call. */
  projects: ProjectDirectory;
  /** Cached users and issued user credentials, for the token paths. */
  users: UserDirectory;
  /** `iss` of ID tokens (Google's, so stock verifiers accept them). */
  idTokenIssuer: string;
  /** `iss` of Warrant access tokens. */
  tokenIssuer: string;
  organizationId: string;
  /**
   * The origins this installation answers at (`http://127.0.0.1:8080`, its HTTPS URL, configured
   * external URLs), from configuration only: the audiences JWTs presented to it may name.
   */
  ownOrigins: readonly string[];
  accessTokenLifetimeSeconds: number;
  log: (line: string) => void;
  /** Bumped on every change an instance's metadata may depend on; agents long-poll it. */
  changes: ChangeFeed;
  /** Cloud Storage objects: metadata in the datastore, bytes in the blob store. */
  objects: ObjectService;
  /** The audit log: requests, tokens issued and refused. Never holds a secret. */
  audit: AuditSink;
  /** Its file (`<state-dir>/audit.log`, rotated beside it), read back by `entries:list`. */
  auditFile: string;
}
