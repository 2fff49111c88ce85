/**
 * The signing-key ring's lifecycle, after Keystone's fernet repository and SPIRE's rotation:
 *
 *   staged ──rotate──▶ primary ──rotate──▶ secondary ──(every token it signed has expired)──▶ retired
 *
 * A staged key is published (certs, JWKS) but signs nothing, so every verifier knows it before it
 * signs; a secondary key only verifies, until the longest-lived token it could have signed is
 * past; then it is retired: removed, it verifies nothing. Pure: the caller applies the plan.
 */
export type RingState = "staged" | "primary" | "secondary";

export interface RingKey {
  kid: string;
  state: RingState;
  createdAt: string;
  /** When it became primary. */
  activatedAt?: string;
  /** When it stopped being primary. */
  demotedAt?: string;
}

export interface RotationPolicy {
  /** A primary older than this is rotated out by the scheduler. */
  rotationPeriodSeconds: number;
  /** A staged key must have been published this long before it may sign (verifiers' cache lifetime). */
  publishLeadSeconds: number;
  /** A secondary is retired this long after demotion: the longest token lifetime plus clock skew. */
  retireAfterSeconds: number;
}

export interface RotationPlan {
  promote: string;
  demote?: string;
  retire: string[];
  /** A new staged key is always created by a rotation. */
  stageNew: true;
}

const age = (iso: string | undefined, now: number) =>
  iso ? (now - Date.parse(iso)) / 1000 : Number.POSITIVE_INFINITY;

/** Whether the scheduler should rotate now. */
export function rotationDue(keys: readonly RingKey[], now: number, p: RotationPolicy): boolean {
  const primary = keys.find((k) => k.state === "primary");
  return !primary || age(primary.activatedAt ?? primary.createdAt, now) >= p.rotationPeriodSeconds;
}

/** The plan for one rotation, or a message saying why it may not happen yet. */
export function planRotation(
  keys: readonly RingKey[],
  now: number,
  p: RotationPolicy,
): RotationPlan | string {
  const staged = keys.find((k) => k.state === "staged");
  if (!staged) return "the ring has no staged key to promote";
  const published = age(staged.createdAt, now);
  if (published < p.publishLeadSeconds)
    return `the staged key ${staged.kid} has been published for ${Math.floor(published)} s; verifiers may not know it until ${p.publishLeadSeconds} s have passed`;
  const primary = keys.find((k) => k.state === "primary");
  const retire = keys
    .filter((k) => k.state === "secondary" && age(k.demotedAt, now) >= p.retireAfterSeconds)
    .map((k) => k.kid);
  return { promote: staged.kid, ...(primary ? { demote: primary.kid } : {}), retire, stageNew: true };
}

/** Secondaries whose tokens have all expired: retire them even between rotations. */
export function expiredSecondaries(keys: readonly RingKey[], now: number, p: RotationPolicy): string[] {
  return keys
    .filter((k) => k.state === "secondary" && age(k.demotedAt, now) >= p.retireAfterSeconds)
    .map((k) => k.kid);
}
