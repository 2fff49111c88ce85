/**
 * Fault injection for testing clients' retry and refresh logic (not a GCE feature):
 * `latency=200ms,error=503@10%` delays every token/identity answer and fails a share of them.
 */
import type { MdsAnswer } from "./mds.js";

export interface FaultSpec {
  latencyMs?: number;
  errorStatus?: number;
  /** 0..1 */
  errorRate?: number;
}

export function parseFaults(spec: string): FaultSpec | string {
  const out: FaultSpec = {};
  for (const part of spec
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const lat = /^latency=(\d+)ms$/.exec(part);
    const err = /^error=(\d{3})@(\d+(?:\.\d+)?)%$/.exec(part);
    if (lat) out.latencyMs = Number(lat[1]);
    else if (err && Number(err[1]) >= 400 && Number(err[1]) <= 599 && Number(err[2]) <= 100) {
      out.errorStatus = Number(err[1]);
      out.errorRate = Number(err[2]) / 100;
    } else
      return `Invalid fault '${part}': use latency=NNNms and/or error=STATUS@PERCENT% (e.g. error=503@10%).`;
  }
  return out;
}

export function faultInjector(spec: FaultSpec | undefined, random: () => number = Math.random) {
  if (!spec || (!spec.latencyMs && !spec.errorRate)) return undefined;
  return async (): Promise<MdsAnswer | undefined> => {
    if (spec.latencyMs) await new Promise((r) => setTimeout(r, spec.latencyMs));
    if (spec.errorRate && random() < spec.errorRate)
      return { status: spec.errorStatus ?? 503, contentType: "application/text", body: "Injected fault.\n" };
    return undefined;
  };
}
