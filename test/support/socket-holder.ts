/**
 * Attackers that hold connections open, in child processes (each has its own descriptor limit):
 * every socket sends a request's headers announcing a body and then `bodyBytes` of it, and idles.
 * Bounded: 127.0.0.0/8 only, a fixed count, and each child exits when told or when its parent goes.
 */
import { type ChildProcess, spawn } from "node:child_process";

const SCRIPT = `
const net = require("node:net");
const [port, count, head, ...locals] = process.argv.slice(1);
const total = Number(count);
let open = 0, closed = 0, refused = 0, failed = 0, settled = 0, started = 0, pending = 0;
const sockets = [];
function report(kind) {
  process.stdout.write(JSON.stringify({ kind, open, closed, refused, failed, settled }) + "\\n");
}
function launch() {
  while (started < total && pending < 200) {
    const i = started++;
    pending++;
    let done = false;
    const settle = () => { if (!done) { done = true; pending--; settled++; launch(); if (settled === total) report("ready"); } };
    const s = net.connect({ port: Number(port), host: "127.0.0.1", localAddress: locals[i % locals.length] });
    sockets.push(s);
    s.on("connect", () => { open++; s.write(head); settle(); });
    s.on("data", (d) => { if (d.toString("latin1").startsWith("HTTP/1.1 503")) refused++; });
    s.on("error", () => { if (!done) failed++; settle(); });
    s.on("close", () => { closed++; settle(); });
  }
}
launch();
process.stdin.on("data", () => report("stats"));
process.stdin.on("end", () => { report("final"); for (const s of sockets) s.destroy(); process.exit(0); });
`;

export interface HolderStats {
  kind: string;
  open: number;
  closed: number;
  refused: number;
  failed: number;
  settled: number;
}

export interface Holder {
  child: ChildProcess;
  /** Resolves once every connection attempt has settled (connected, refused or failed). */
  ready: Promise<HolderStats>;
  stats(): Promise<HolderStats>;
  stop(): Promise<void>;
}

export function holdSockets(port: number, count: number, head: string, localAddresses: string[]): Holder {
  const child = spawn(
    process.execPath,
    ["-e", SCRIPT, String(port), String(count), head, ...localAddresses],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  let buffered = "";
  const waiting: ((s: HolderStats) => void)[] = [];
  let readyResolve!: (s: HolderStats) => void;
  const ready = new Promise<HolderStats>((r) => (readyResolve = r));
  child.stdout!.on("data", (d) => {
    buffered += d;
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const msg = JSON.parse(buffered.slice(0, nl)) as HolderStats;
      buffered = buffered.slice(nl + 1);
      if (msg.kind === "ready") readyResolve(msg);
      else waiting.shift()?.(msg);
      nl = buffered.indexOf("\n");
    }
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    child,
    ready,
    stats() {
      return new Promise((r) => {
        waiting.push(r);
        child.stdin!.write("?");
      });
    },
    async stop() {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
