/**
 * The hot-path histogram prints exactly what prom-client's own Histogram prints for the same
 * observations (so scrapers and dashboards see no difference), and resets like it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Histogram, Registry } from "prom-client";
import { SeriesHistogram } from "../../src/server/metric-histogram.js";

const BUCKETS = [0.001, 0.01, 0.1, 1];
const observations: [Record<string, string>, number][] = [
  [{ api: "iam", route: "/v1/x" }, 0.0005],
  [{ api: "iam", route: "/v1/x" }, 0.001], // on a bound: counted in it (le)
  [{ api: "iam", route: "/v1/x" }, 0.05],
  [{ api: "iam", route: "/v1/x" }, 7], // above every bound: +Inf only
  [{ api: "storage", route: '/b/{bucket} "q"' }, 0.02],
];

test("SeriesHistogram's exposition is prom-client Histogram's, line for line", async () => {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({
    name: "h_seconds",
    help: "help text",
    labelNames: ["api", "route"],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const fast = new SeriesHistogram("h_seconds", "help text", ["api", "route"], BUCKETS, ours);
  for (const [labels, v] of observations) {
    reference.observe(labels, v);
    fast.of(labels).observe(v);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.match(await ours.metrics(), /h_seconds_bucket\{le="\+Inf",api="iam",route="\/v1\/x"\} 4/);

  ours.resetMetrics();
  theirs.resetMetrics();
  const after = await ours.metrics();
  assert.match(after, /h_seconds_count\{api="iam",route="\/v1\/x"\} 0/, "series stay, at zero");
  assert.doesNotMatch(after, /h_seconds_count\{[^}]*\} [1-9]/);
});
