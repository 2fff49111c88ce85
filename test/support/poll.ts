/**
 * Waiting for something asynchronous without guessing how long it takes: poll until a check holds,
 * and fail with the last value seen once a generous deadline passes. A loaded machine only makes
 * the wait longer, never the test wrong.
 */
export async function eventually<T>(
  what: string,
  probe: () => T | Promise<T>,
  ok: (v: T) => boolean,
  { timeoutMs = 15_000, everyMs = 20 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline)
      throw new Error(`${what}: still not so after ${timeoutMs} ms; last seen: ${describe(v)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function describe(v: unknown): string {
  try {
    return typeof v === "string" ? v : JSON.stringify(v);
  } catch {
    return String(v);
  }
}
