/**
 * A small seeded PRNG (mulberry32) and value generators for the fuzz tests. Every run prints its seed;
 * set WARRANT_FUZZ_SEED to replay a failing run exactly.
 */

/** The run's seed: WARRANT_FUZZ_SEED when set (decimal or 0x hex), otherwise fresh. */
export function fuzzSeed(): number {
  const env = process.env.WARRANT_FUZZ_SEED;
  if (env !== undefined && env.trim() !== "") {
    const n = Number(env.trim());
    if (!Number.isInteger(n)) throw new Error(`WARRANT_FUZZ_SEED must be an integer, got '${env}'`);
    return n >>> 0;
  }
  return (Date.now() ^ (process.pid << 16) ^ Math.floor(Math.random() * 2 ** 32)) >>> 0;
}

export const SEED = fuzzSeed();

/** How to replay: goes into every assertion message. */
export const replay = (what: string) => `[replay: WARRANT_FUZZ_SEED=${SEED}; ${what}]`;

/** FNV-1a, to derive an independent stream per test from the run seed and a label. */
function hash(label: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A stream for `label` (e.g. a test name), independent of the other tests' streams. */
  static for(label: string, seed: number = SEED): Rng {
    return new Rng(hash(label, seed));
  }

  /** mulberry32: a float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[this.int(0, items.length - 1)]!;
  }

  /** A string of `length` characters drawn from `alphabet`. */
  chars(alphabet: string, length: number): string {
    let s = "";
    for (let i = 0; i < length; i++) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }

  /** encodeURIComponent that tolerates lone surrogates (replaced by U+FFFD, as a UTF-8 encoder would). */
  static encode(s: string): string {
    return encodeURIComponent(Rng.wellFormed(s));
  }

  /** `s` with lone surrogates replaced by U+FFFD. */
  static wellFormed(s: string): string {
    return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
  }

  /** A short length, biased to small values but reaching `max`. */
  len(max: number): number {
    return this.bool(0.8) ? this.int(0, Math.min(max, 12)) : this.int(0, max);
  }

  /** Interesting strings: identifiers, Unicode, control characters, lone surrogates, format strings. */
  string(max = 40): string {
    switch (this.int(0, 9)) {
      case 0:
        return "";
      case 1:
        return this.chars("abcdefghijklmnopqrstuvwxyz0123456789-", this.len(max));
      case 2:
        return this.pick(SPECIAL_STRINGS);
      case 3:
        return this.chars("\u0000\t\n\r \u007f\u0085\u00a0\u2028\ufeff", this.len(max));
      case 4:
        return this.chars("é中😀\ud800\udfffЖ\u0301", this.len(max));
      case 5:
        return this.chars("%/:.@_~+=&?#;,$!*'()[]{}\\\"", this.len(max));
      default: {
        let s = "";
        const n = this.len(max);
        for (let i = 0; i < n; i++) s += String.fromCharCode(this.int(0x20, 0x7e));
        return s;
      }
    }
  }

  /** Numbers around the edges of integer, float and JSON ranges. */
  number(): number {
    return this.pick([
      0,
      -0,
      1,
      -1,
      2,
      3,
      0.5,
      1e21,
      -1e21,
      2 ** 31,
      2 ** 53,
      2 ** 53 + 2,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      this.int(-1000, 1000),
      this.next() * 1e6,
    ]);
  }

  /** A random JSON value of bounded depth and breadth. */
  json(depth = 3): unknown {
    const k = this.int(0, depth > 0 ? 8 : 4);
    switch (k) {
      case 0:
        return null;
      case 1:
        return this.bool();
      case 2:
        return this.number();
      case 3:
      case 4:
        return this.string();
      case 5:
      case 6: {
        const n = this.len(6);
        const out: unknown[] = [];
        for (let i = 0; i < n; i++) out.push(this.json(depth - 1));
        return out;
      }
      default: {
        const n = this.len(6);
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          // defineProperty, not assignment: a "__proto__" key stays an own data property, as in JSON.
          const key = this.bool(0.3) ? this.pick(SPECIAL_KEYS) : this.string(12);
          Object.defineProperty(out, key, {
            value: this.json(depth - 1),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
    }
  }
}

export const SPECIAL_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "", "."];

export const SPECIAL_STRINGS = [
  "__proto__",
  "constructor",
  "null",
  "undefined",
  "NaN",
  "-",
  "*",
  ".",
  "..",
  "%",
  "%00",
  "%zz",
  "\u0000",
  "%s%s%n",
  "$" + "{x}",
  "'; DROP TABLE documents; --",
  "<script>",
  "\\",
  "roles/owner",
  "user:admin@warrant.local",
  "a".repeat(257),
];
