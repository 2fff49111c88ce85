/**
 * Fuzzing the parsers added for IAM Conditions, deny policies and groups: random and mutated CEL
 * expressions, deny-policy bodies and group members never throw; evaluation of whatever compiles
 * answers a boolean verdict with an explanation; deny validation accepts only well-formed rules.
 * Seeded: failures name WARRANT_FUZZ_SEED.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  conditionError,
  conditionParseError,
  evaluateCondition,
  resourceAttributes,
} from "../../src/domain/iam/condition.js";
import { findDenial, validateDenyPolicy } from "../../src/domain/iam/deny.js";
import { GroupError, groupMember } from "../../src/domain/iam/groups.js";
import { userPrincipal } from "../../src/domain/iam/principal.js";
import { Rng, replay } from "./random.js";

const SEEDS = [
  'resource.name.startsWith("projects/_/buckets/b/objects/reports/")',
  "request.time < timestamp('2030-01-01T00:00:00Z')",
  'resource.type == "storage.googleapis.com/Object" && resource.name.extract("/objects/{o}") != ""',
  "request.time.getHours('Europe/Berlin') >= 9 || request.time.getDayOfWeek() == 0",
  'date("2024-01-01") < request.time && resource.service != "compute.googleapis.com"',
];
const TOKENS = [
  "(",
  ")",
  "&&",
  "||",
  "!",
  ".",
  ",",
  '"',
  "'",
  "resource",
  "request",
  "name",
  "time",
  "type",
  "startsWith",
  "extract",
  "timestamp",
  "date",
  "{x}",
  "==",
  "<",
  "1",
  "true",
  "\\",
  "\u0000",
  "é",
  "[",
  "]",
  "?",
  ":",
  "size",
  "matches",
  "(.*)*",
];
const RESOURCES = [
  "projects/p",
  "projects/_/buckets/b",
  "projects/_/buckets/b/objects/reports/q.csv",
  "projects/p/zones/z/instances/i",
  "projects/p/serviceAccounts/a@b.c",
];

function mutate(rng: Rng, s: string): string {
  const chars = [...s];
  const n = rng.int(1, 4);
  for (let i = 0; i < n; i++) {
    const at = rng.int(0, chars.length);
    switch (rng.int(0, 2)) {
      case 0:
        chars.splice(at, 1);
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

describe("fuzz: IAM expressions, deny policies, group members", () => {
  test("conditions: checking and evaluating never throw; evaluation is a verdict with an explanation", () => {
    const rng = Rng.for("conditions");
    for (let i = 0; i < 1500; i++) {
      const expr = rng.bool(0.7)
        ? mutate(rng, rng.pick(SEEDS))
        : Array.from({ length: rng.int(1, 12) }, () => rng.pick(TOKENS)).join(" ");
      let checked: string | undefined;
      assert.doesNotThrow(
        () => {
          checked = conditionError(expr);
          conditionParseError(expr);
        },
        replay(`expression ${JSON.stringify(expr)}`),
      );
      const out = evaluateCondition(
        { expression: expr },
        resourceAttributes(rng.pick(RESOURCES)),
        new Date(),
      );
      assert.equal(typeof out.value, "boolean", replay(JSON.stringify(expr)));
      assert.ok(out.explanation.length > 0);
      if (checked !== undefined)
        assert.equal(out.value, false, replay(`a refused expression never grants: ${JSON.stringify(expr)}`));
    }
  });

  test("deny policies: validation never throws; what it accepts evaluates without throwing", () => {
    const rng = Rng.for("deny");
    const principals = [
      "principalSet://goog/public:all",
      "principal://goog/subject/a@b.com",
      "principalSet://goog/group/g@b.com",
      "user:a@b.com",
      "principal://iam.googleapis.com/projects/-/serviceAccounts/x@p.iam.gserviceaccount.com",
      "",
      "principalSet://goog/public:all?x",
    ];
    const perms = [
      "storage.googleapis.com/buckets.delete",
      "compute.googleapis.com/instances.*",
      "storage.googleapis.com/*.*",
      "storage.buckets.delete",
      "x/y.z",
      "",
      "cloudresourcemanager.googleapis.com/projects.delete",
    ];
    for (let i = 0; i < 1000; i++) {
      const pickSome = (xs: string[]) =>
        Array.from({ length: rng.int(0, 3) }, () => (rng.bool(0.85) ? rng.pick(xs) : rng.string(20)));
      const rule = {
        deniedPrincipals: rng.bool(0.9) ? pickSome(principals) : rng.string(5),
        exceptionPrincipals: pickSome(principals),
        deniedPermissions: rng.bool(0.9) ? pickSome(perms) : 7,
        exceptionPermissions: pickSome(perms),
        ...(rng.bool(0.3) ? { denialCondition: { expression: mutate(rng, rng.pick(SEEDS)) } } : {}),
      };
      const body = rng.bool(0.9)
        ? { displayName: rng.string(10), rules: [rng.bool(0.9) ? { denyRule: rule } : rng.string(3)] }
        : rng.string(10);
      let v: ReturnType<typeof validateDenyPolicy>;
      try {
        v = validateDenyPolicy(body);
      } catch (e) {
        assert.fail(replay(`${JSON.stringify(body)} threw ${(e as Error).message}`));
      }
      if (typeof v === "string") continue;
      const stored = {
        attachedTo: "projects/p",
        policyId: "p1",
        policy: {
          name: "n",
          uid: "u",
          kind: "DenyPolicy" as const,
          etag: "e",
          createTime: "",
          updateTime: "",
          rules: v.rules,
        },
      };
      assert.doesNotThrow(() =>
        findDenial(
          userPrincipal("a@b.com", ["g@b.com"]),
          "storage.buckets.delete",
          [{ resource: "projects/p", policies: [stored] }],
          {},
          new Date(),
        ),
      );
      for (const r of v.rules)
        assert.ok(r.denyRule.deniedPrincipals.length > 0 && r.denyRule.deniedPermissions.length > 0);
    }
  });

  test("group members: anything but user:, serviceAccount: and group: e-mails is refused with a GroupError", () => {
    const rng = Rng.for("group-members");
    for (let i = 0; i < 1000; i++) {
      const m = rng.bool(0.5)
        ? `${rng.pick(["user", "group", "serviceAccount", "domain", "deleted:user", ""])}:${rng.string(20)}`
        : rng.string(30);
      try {
        const out = groupMember(m);
        assert.match(out, /^(user|serviceAccount|group):[^\s@:?]+@[^\s@:?]+\.[^\s@:?]+$/, replay(m));
      } catch (e) {
        assert.ok(e instanceof GroupError, replay(`${m}: ${(e as Error).message}`));
      }
    }
  });
});
