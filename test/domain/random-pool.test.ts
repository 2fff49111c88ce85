/** Token ids from the random pool: the asked length, every one distinct, across refills of the pool. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { randomId } from "../../src/domain/random-pool.js";

test("randomId gives distinct ids of the asked size, across many refills of its pool", () => {
  const seen = new Set<string>();
  // 12 bytes each: 4096 / 12 ids per fill, so 5,000 ids span 14 refills (and pool boundaries).
  for (let i = 0; i < 5_000; i++) {
    const id = randomId(12);
    assert.equal(Buffer.from(id, "base64url").length, 12);
    assert.ok(!seen.has(id), `repeated id ${id}`);
    seen.add(id);
  }
  assert.equal(Buffer.from(randomId(4096), "base64url").length, 4096);
  assert.throws(() => randomId(4097), RangeError);
});
