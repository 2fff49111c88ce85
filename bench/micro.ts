/**
 * In-process measurements: token verification and minting called directly, against bare
 * `node:crypto` RS256 verify/sign of the same bytes with the same key (baselines B and C).
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { mintAccessToken, verifyAccessToken } from "../src/domain/tokens/access-token.js";
import type { SigningKey } from "../src/domain/tokens/signing-key.js";

export interface MicroCase {
  id: string;
  label: string;
  /** Id of the case this one is compared with, when it is not a baseline. */
  baseline?: string;
  run: () => Promise<unknown> | unknown;
}

/** Runs `fn` back to back for `ms` milliseconds; calls per second. */
export async function timed(fn: () => Promise<unknown> | unknown, ms: number): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  const deadline = t0 + ms;
  let now = t0;
  while (now < deadline) {
    await fn();
    n++;
    now = performance.now();
  }
  return (n * 1000) / (now - t0);
}

/**
 * `token` is a Warrant access token signed by the key `kid` whose public half is `publicKey`.
 * Minting uses a key generated here with the same parameters (RSA 2048, RS256) as the key ring's.
 */
export function microCases(kid: string, publicKey: KeyObject, token: string, issuer: string): MicroCase[] {
  const [h, p, s] = token.split(".") as [string, string, string];
  const signingInput = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, "base64url");
  const spkiPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const keyFor = (k: string) => (k === kid ? publicKey : undefined);
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  // mintAccessToken reads only alg, kid and privateKey of the key-ring entry.
  const mintKey = { kid: "bench", alg: "RS256", privateKey } as const satisfies Pick<
    SigningKey,
    "kid" | "alg" | "privateKey"
  >;
  /** A key object made afresh from its PEM, as after a key-cache miss (nothing cached on it yet). */
  const freshKey = (): KeyObject => createPublicKey(spkiPem);
  const bareVerify = (k: KeyObject) => {
    if (!verify("sha256", signingInput, k, signature)) throw new Error("baseline B: bad signature");
  };
  const mintReq = {
    sub: "user:admin@warrant.local",
    scopes: ["https://www.googleapis.com/auth/cloud-platform"],
    azp: "warrant-cli.apps.warrant.local",
    via: "refresh_token",
  };
  return [
    { id: "B", label: "baseline B: crypto.verify RS256, cached key", run: () => bareVerify(publicKey) },
    {
      id: "verify.cached",
      label: "verifyAccessToken, cached key",
      baseline: "B",
      run: () => verifyAccessToken(token, issuer, keyFor),
    },
    {
      id: "B.cold",
      label: "baseline B cold: createPublicKey(PEM) + crypto.verify",
      run: () => bareVerify(freshKey()),
    },
    {
      id: "verify.cold",
      label: "verifyAccessToken, fresh key per call",
      baseline: "B.cold",
      run: () => {
        const fresh = freshKey();
        return verifyAccessToken(token, issuer, (k) => (k === kid ? fresh : undefined));
      },
    },
    {
      id: "C",
      label: "baseline C: crypto.sign RS256 (2048-bit)",
      run: () => sign("sha256", signingInput, privateKey),
    },
    {
      id: "mint.inproc",
      label: "mintAccessToken in-process",
      baseline: "C",
      run: () => mintAccessToken(mintKey as unknown as SigningKey, issuer, mintReq),
    },
  ];
}
