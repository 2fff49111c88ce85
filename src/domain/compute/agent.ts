/** The records behind metadata-server agents: enrolled credentials and one-time enrollment tokens. */
/** A metadata-server agent's credential for one instance (the secret is stored only as a digest). */
export interface AgentRecord {
  agentId: string;
  secretSha256: string;
  projectId: string;
  zone: string;
  instance: string;
  instanceId: string;
  createTime: string;
  /** When the current secret was issued (at enrollment, then at each renewal). */
  issueTime?: string;
  /** When the current secret stops working; a record without one (enrolled before expiry existed) is expired. */
  expireTime?: string;
  /** Enrolled by `warrant serve` for its in-process metadata server (replaced at every start). */
  inProcess?: boolean;
}

/** A one-time enrollment token for an instance's agent (stored as a digest). */
export interface EnrollmentRecord {
  tokenSha256: string;
  projectId: string;
  zone: string;
  instance: string;
  instanceId: string;
  expireTime: string;
  inProcess?: boolean;
}
