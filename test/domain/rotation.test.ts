import assert from "node:assert/strict";
import { test } from "node:test";
import {
  expiredSecondaries,
  planRotation,
  type RingKey,
  rotationDue,
} from "../../src/domain/tokens/rotation.js";

const policy = { rotationPeriodSeconds: 86400, publishLeadSeconds: 360, retireAfterSeconds: 3720 };
const T0 = Date.parse("2026-01-01T00:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

const ring: RingKey[] = [
  { kid: "old", state: "secondary", createdAt: at(-200000), demotedAt: at(-5000) },
  { kid: "recent", state: "secondary", createdAt: at(-100000), demotedAt: at(-1000) },
  { kid: "p", state: "primary", createdAt: at(-90000), activatedAt: at(-86400) },
  { kid: "s", state: "staged", createdAt: at(-86400) },
];

test("a primary older than the period is due; a young one is not", () => {
  assert.equal(rotationDue(ring, T0, policy), true);
  assert.equal(rotationDue(ring, T0 - 1000, policy), false);
  assert.equal(rotationDue([], T0, policy), true);
});

test("rotation promotes staged, demotes primary and retires only secondaries past the grace", () => {
  assert.deepEqual(planRotation(ring, T0, policy), {
    promote: "s",
    demote: "p",
    retire: ["old"],
    stageNew: true,
  });
});

test("a staged key younger than the publish lead may not sign yet", () => {
  const young: RingKey[] = [
    { kid: "p", state: "primary", createdAt: at(-90000) },
    { kid: "s", state: "staged", createdAt: at(-100) },
  ];
  assert.match(planRotation(young, T0, policy) as string, /verifiers may not know it until 360 s/);
  assert.match(
    planRotation([{ kid: "p", state: "primary", createdAt: at(0) }], T0, policy) as string,
    /no staged key/,
  );
});

test("expired secondaries are found between rotations", () => {
  assert.deepEqual(expiredSecondaries(ring, T0, policy), ["old"]);
  assert.deepEqual(expiredSecondaries(ring, T0 + 3000 * 1000, policy), ["old", "recent"]);
});
