/**
 * Fuzzing the Logging query-language subset of `entries:list` (src/domain/audit/filter.ts): random
 * and mutated filters either parse or fail with a `FilterError` (never another exception, never a
 * hang); whatever parses evaluates to a boolean on any entry, and its time bounds are never wider
 * than what it matches. Seeded: failures name WARRANT_FUZZ_SEED.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  evaluate,
  FIELDS,
  FilterError,
  MAX_FILTER_LENGTH,
  parseFilter,
  timeBounds,
} from "../../src/domain/audit/filter.js";
import { type AuditEntry, toLogEntry } from "../../src/domain/audit/log-entry.js";
import { Rng, replay } from "./random.js";

const SEEDS = [
  'protoPayload.authenticationInfo.principalEmail="bob@example.com"',
  'protoPayload.authorizationInfo.permission="iam.serviceAccounts.list" AND protoPayload.authorizationInfo.granted=false',
  '(timestamp>="2026-12-04T21:00:00.123456Z") AND (severity>=ERROR)',
  'logName="projects/p/logs/cloudaudit.googleapis.com%2Fdata_access" operation.id="abc"',
  "NOT severity<=INFO OR -protoPayload.status.code=0",
  'protoPayload.methodName:"setIamPolicy" timestamp<"2030-01-01"',
];
const TOKENS = [
  "(",
  ")",
  "AND",
  "OR",
  "NOT",
  "-",
  "=",
  "!=",
  ">=",
  "<",
  ":",
  "=~",
  '"',
  "\\",
  "'",
  "\u0000",
  "é",
  "timestamp",
  "severity",
  "ERROR",
  "true",
  "2026-12-04T21:00:00Z",
  ...Object.keys(FIELDS),
  "textPayload",
  "log_id(",
  " ",
];

function mutate(rng: Rng, s: string): string {
  const chars = [...s];
  const n = rng.int(1, 4);
  for (let i = 0; i < n; i++) {
    const at = rng.int(0, chars.length);
    switch (rng.int(0, 2)) {
      case 0:
        chars.splice(at, rng.int(1, 3));
        break;
      case 1:
        chars.splice(at, 0, rng.pick(TOKENS));
        break;
      default:
        chars.splice(at, rng.int(0, 5), rng.string(6));
    }
  }
  return chars.join("");
}

const ENTRIES: AuditEntry[] = [
  {
    time: "2026-12-04T21:00:00.500Z",
    kind: "request",
    requestId: "abc",
    principal: "user:bob@example.com",
    method: "POST",
    path: "/v1/projects/p:setIamPolicy",
    route: "/v1/projects/{project}:setIamPolicy",
    status: 403,
    checks: [{ permission: "resourcemanager.projects.setIamPolicy", resource: "projects/p", allowed: false }],
    error: "PERMISSION_DENIED: no",
  },
  {
    time: "2026-12-04T20:00:00Z",
    kind: "token",
    grant: "refresh_token",
    outcome: "issued",
    subject: "user:a@b",
  },
  { time: "2026-12-04T22:00:00Z", kind: "admin", action: "signingKeys.rotate" },
];

describe("fuzz: the Logging filter of entries:list", () => {
  test("parse or FilterError, never anything else; what parses evaluates to a boolean", () => {
    const rng = Rng.for("logging-filter");
    const logEntries = ENTRIES.map((e, i) => toLogEntry(e, "123", `x-${i}`));
    for (let i = 0; i < 3000; i++) {
      const src = rng.bool(0.6)
        ? mutate(rng, rng.pick(SEEDS))
        : rng.bool(0.8)
          ? Array.from({ length: rng.int(1, 14) }, () => rng.pick(TOKENS)).join(rng.bool() ? " " : "")
          : rng.string(60);
      let node: ReturnType<typeof parseFilter> | undefined;
      try {
        node = parseFilter(src);
      } catch (e) {
        assert.ok(e instanceof FilterError, replay(`${JSON.stringify(src)} threw ${(e as Error)?.stack}`));
        assert.ok((e as Error).message.length > 0);
        continue;
      }
      const bounds = timeBounds(node);
      for (const e of logEntries) {
        const v = evaluate(node, e);
        assert.equal(typeof v, "boolean", replay(JSON.stringify(src)));
        // The reader skips what the bounds exclude: they must never exclude a match.
        if (v) {
          const t = Date.parse(e.timestamp);
          if (bounds.after !== undefined)
            assert.ok(
              bounds.afterInclusive ? t >= bounds.after : t > bounds.after,
              replay(JSON.stringify(src)),
            );
          if (bounds.before !== undefined) assert.ok(t < bounds.before, replay(JSON.stringify(src)));
        }
      }
    }
  });

  test("hostile sizes: deep nesting and long filters are refused quickly, not a stack overflow", () => {
    for (const src of [
      "(".repeat(5000),
      `${"(".repeat(5000)}severity>=ERROR${")".repeat(5000)}`,
      "NOT ".repeat(5000) + "severity>=ERROR",
      "-".repeat(5000) + "severity>=ERROR",
      `severity>=ERROR ${"AND severity>=ERROR ".repeat(900)}`,
      "x".repeat(MAX_FILTER_LENGTH + 1),
      `"${"\\".repeat(10_000)}`,
    ]) {
      const started = Date.now();
      try {
        parseFilter(src);
      } catch (e) {
        assert.ok(e instanceof FilterError, `${src.slice(0, 40)}…: ${(e as Error)?.stack}`);
      }
      assert.ok(Date.now() - started < 1000, `${src.slice(0, 40)}… took ${Date.now() - started} ms`);
    }
  });
});
