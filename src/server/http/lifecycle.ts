/**
 * The server's phase and its in-flight requests: routes answer 503 until the server is ready and
 * again while it drains; `/readyz` reports the same; shutdown waits here for requests to finish.
 */
export type Phase = "starting" | "serving" | "draining";

/** Dependencies `/readyz` checks, by name: true when usable. */
export type ReadinessChecks = () => Promise<Record<string, boolean>>;

export class Lifecycle {
  phase: Phase = "starting";
  /** Installed once the server's parts exist; until then there is nothing to check. */
  checks: ReadinessChecks = async () => ({});
  private inflight = 0;
  private readonly waiters = new Set<() => void>();

  get inFlight(): number {
    return this.inflight;
  }

  begin(): void {
    this.inflight++;
  }

  end(): void {
    this.inflight--;
    if (this.inflight === 0) for (const wake of [...this.waiters]) wake();
  }

  /** Resolves true once no request is in flight, or false when `ms` pass first. */
  settled(ms: number): Promise<boolean> {
    if (this.inflight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(ok);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.waiters.add(wake);
    });
  }
}
