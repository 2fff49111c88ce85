/**
 * Entry of the peer's own process (forked by `startPeerProcess`, bench/peer.ts): starts the peer,
 * tells the parent where it listens, answers CPU-time questions, and exits when the parent goes
 * away. The peer runs apart from Warrant so neither pays for the other's runtime state (the peer's
 * AsyncLocalStorage turns on promise hooks for the whole process once it serves a request).
 */
import { startPeer } from "./peer.js";

const outcome = await startPeer();
if ("peer" in outcome) {
  const { peer } = outcome;
  process.send?.({ t: "ready", name: peer.name, version: peer.version, tokenUrl: peer.tokenUrl });
  process.on("message", (m: { t: string; id?: number }) => {
    if (m?.t === "cpu") process.send?.({ t: "cpu", id: m.id, usage: process.cpuUsage() });
  });
} else {
  process.send?.({ t: "skipped", reason: outcome.skipped });
}
process.on("disconnect", () => process.exit(0));
