/**
 * A monotonically increasing version of "anything an instance's metadata may depend on"
 * (instances, service accounts, projects), with waiters: agents long-poll it to learn of changes
 * within a request round trip instead of polling on a timer.
 */
export class ChangeFeed {
  private v = 0;
  private waiters = new Set<() => void>();

  get version(): number {
    return this.v;
  }

  bump(): void {
    this.v++;
    const ws = this.waiters;
    this.waiters = new Set();
    for (const w of ws) w();
  }

  /** Resolves on the next change after `since`, or after `timeoutMs`; true if something changed. */
  waitFor(since: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.v !== since) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        signal?.removeEventListener("abort", abort);
        resolve(changed);
      };
      const wake = () => done(true);
      const abort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(wake);
      signal?.addEventListener("abort", abort);
    });
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
