/**
 * A Prometheus histogram for the per-request hot path. prom-client's `Histogram` hashes the label
 * set on every observation (a few microseconds, several percent of a cached API call); here each
 * series (one label set) is made once and an observation is a bucket search and two additions. It is
 * registered with and exposed by prom-client's registry, in the same text as prom-client's own
 * histograms: `_bucket` lines with `le` first, `+Inf`, `_sum` and `_count`.
 */
import type { Metric, Registry } from "prom-client";

export class HistogramSeries {
  /** Per bucket (not cumulative), the last one counting values above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count++;
  }
}

interface ValuePair {
  metricName: string;
  labels: Record<string, string | number>;
  sharedLabels: Readonly<Record<string, string>>;
  value: number;
}

export class SeriesHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of this label set, made on first use; callers keep it (label sets must be few). */
  of(labels: Readonly<Record<string, string>>): HistogramSeries {
    const key = this.labelNames.map((n) => labels[n] ?? "").join("\u0000");
    let s = this.series.get(key);
    if (s === undefined) {
      s = new HistogramSeries(labels, this.bounds);
      this.series.set(key, s);
    }
    return s;
  }

  /** What the registry prints (and `getMetricsAsJSON` returns). */
  async get() {
    const values: ValuePair[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      for (const [i, le] of this.bounds.entries()) {
        acc += s.counts[i]!;
        values.push({ metricName: bucket, labels: { le }, sharedLabels: s.labels, value: acc });
      }
      values.push({ metricName: bucket, labels: { le: "+Inf" }, sharedLabels: s.labels, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: {}, sharedLabels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: {}, sharedLabels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** `Registry.resetMetrics()`: every series back to zero (callers keep their series). */
  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
