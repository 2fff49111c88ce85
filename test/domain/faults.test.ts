import assert from "node:assert/strict";
import { test } from "node:test";
import { faultInjector, parseFaults } from "../../src/agent/faults.js";

test("fault specs parse, and bad ones say what is expected", () => {
  assert.deepEqual(parseFaults("latency=200ms,error=503@10%"), {
    latencyMs: 200,
    errorStatus: 503,
    errorRate: 0.1,
  });
  assert.match(parseFaults("latency=fast") as string, /latency=NNNms/);
  assert.match(parseFaults("error=200@10%") as string, /Invalid fault/);
  assert.match(parseFaults("error=503@150%") as string, /Invalid fault/);
});

test("the injector fails the configured share of answers", async () => {
  let i = 0;
  const seq = [0.05, 0.5, 0.09, 0.95];
  const inject = faultInjector({ errorStatus: 500, errorRate: 0.1 }, () => seq[i++]!)!;
  const results = [await inject(), await inject(), await inject(), await inject()];
  assert.deepEqual(
    results.map((r) => r?.status),
    [500, undefined, 500, undefined],
  );
  assert.equal(faultInjector(undefined), undefined);
});
