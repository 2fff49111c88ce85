/** What a handler sees: the request, its authenticated caller, and helpers to answer. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Principal } from "../../domain/iam/principal.js";
import type { AccessTokenClaims } from "../../domain/tokens/access-token.js";

export interface Caller {
  principal: Principal;
  /** The verified token, absent for anonymous callers. */
  token?: AccessTokenClaims;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  caller: Caller;
  /** This server as the client reached it, e.g. `http://127.0.0.1:8080`; used for selfLinks. */
  baseUrl: string;
  /** Whether the client asked for full denial explanations (`?explain=true` or `X-Warrant-Explain: true`). */
  explain: boolean;
  requestId: string;
  /** Authorization checks made while serving this request, for the audit log. */
  checks: AuthzCheck[];
}

/** One authorization check, as the audit log records it. */
export interface AuthzCheck {
  permission: string;
  resource: string;
  allowed: boolean;
  /** A failed check's cause: the token's OAuth scopes (`scope`) or IAM (`iam`). */
  denial?: "scope" | "iam";
  /** A failed check's reason, naming the principal, permission and resource. */
  reason?: string;
  /** Enforcement mode `audit-only`: the check failed, but the call went ahead. */
  wouldDeny?: true;
  /** The project the resource belongs to, if any: its audit entry is listed under it (entries:list). */
  project?: string;
}

/** A handler returns the JSON body of a 200 response, or writes the response itself and returns undefined. */
export type Handler = (ctx: RequestContext) => Promise<unknown>;
