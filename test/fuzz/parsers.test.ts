/**
 * Fuzzing the pure parsers: random and mutated inputs never throw, and what they accept keeps its
 * invariants. Seeded: a failure message names WARRANT_FUZZ_SEED and the case index to replay it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { parseMember } from "../../src/domain/iam/members.js";
import { MAX_MEMBERS_PER_POLICY, validatePolicy } from "../../src/domain/iam/policy.js";
import { accountIdProblem, projectIdProblem, resourceNameProblem } from "../../src/domain/ids.js";
import { InvalidToken, mintAccessToken, verifyAccessToken } from "../../src/domain/tokens/access-token.js";
import { generateSigningKey, loadSigningKey } from "../../src/domain/tokens/signing-key.js";
import { registerCompute } from "../../src/server/api/compute/instances.js";
import { registerRoles } from "../../src/server/api/iam/roles.js";
import { registerServiceAccounts } from "../../src/server/api/iam/service-accounts.js";
import { registerTokenEndpoint } from "../../src/server/api/oauth2/token.js";
import { registerProjects } from "../../src/server/api/resourcemanager/projects.js";
import type { ServerDeps } from "../../src/server/deps.js";
import { Router } from "../../src/server/http/router.js";
import { Rng, replay, SEED } from "./random.js";

console.log(`fuzz parsers: WARRANT_FUZZ_SEED=${SEED}`);

const show = (v: unknown) => {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 400 ? `${s.slice(0, 400)}…` : s;
  } catch {
    return String(v);
  }
};

// ---------------------------------------------------------------------------------------------
// Policies and members
// ---------------------------------------------------------------------------------------------

const VALID_MEMBERS = [
  "allUsers",
  "allAuthenticatedUsers",
  "user:alice@example.com",
  "user:Bob@Example.COM",
  "serviceAccount:demo-sa@demo-project.iam.gserviceaccount.com",
  "group:team@example.com",
  "domain:example.com",
  "projectOwner:demo-project",
  "projectViewer:p",
  "deleted:user:old@example.com?uid=123",
  "principalSet://cloudresourcemanager.googleapis.com/projects/123456789012/type/ServiceAccount",
];
const ROLES = [
  "roles/owner",
  "roles/editor",
  "roles/viewer",
  "roles/iam.roleViewer",
  "projects/p/roles/custom",
];
const UNKNOWN_ROLES = ["roles/nope", "", "owner", "projects/other/roles/x"];
const roleExists = (r: string) => ROLES.includes(r);

function member(rng: Rng): unknown {
  switch (rng.int(0, 5)) {
    case 0:
    case 1:
    case 2:
      return rng.pick(VALID_MEMBERS);
    case 3:
      return `${rng.pick(["user", "serviceAccount", "group", "domain", "deleted", "projectEditor", "robot", ""])}:${rng.string(20)}`;
    case 4:
      return mutateString(rng, rng.pick(VALID_MEMBERS));
    default:
      return rng.json(1);
  }
}

function mutateString(rng: Rng, s: string): string {
  const chars = [...s];
  const n = rng.int(1, 3);
  for (let k = 0; k < n; k++) {
    const at = rng.int(0, chars.length);
    switch (rng.int(0, 3)) {
      case 0:
        chars.splice(at, 1);
        break;
      case 1:
        chars.splice(at, 0, rng.string(3) || " ");
        break;
      case 2:
        chars[at] = rng.pick([":", "@", ".", " ", "A", "\n", "é"]);
        break;
      default:
        chars.splice(at);
    }
  }
  return chars.join("");
}

function condition(rng: Rng): unknown {
  if (rng.bool(0.7)) {
    const c: Record<string, unknown> = {
      expression: rng.pick(["request.time < timestamp('2030-01-01T00:00:00Z')", "true", " ", ""]),
    };
    if (rng.bool()) c.title = rng.bool(0.8) ? rng.string(20) : rng.json(1);
    if (rng.bool()) c.description = rng.bool(0.8) ? rng.string(20) : rng.json(1);
    return c;
  }
  return rng.json(2);
}

function binding(rng: Rng): unknown {
  if (rng.bool(0.05)) return rng.json(2);
  const b: Record<string, unknown> = {};
  if (rng.bool(0.95))
    b.role = rng.bool(0.85) ? rng.pick(ROLES) : rng.bool(0.7) ? rng.pick(UNKNOWN_ROLES) : rng.json(1);
  if (rng.bool(0.95)) {
    if (rng.bool(0.9)) {
      const n = rng.len(8);
      b.members = Array.from({ length: n }, () => (rng.bool(0.9) ? rng.pick(VALID_MEMBERS) : member(rng)));
    } else b.members = rng.json(1);
  }
  if (rng.bool(0.2)) b.condition = rng.bool(0.8) ? condition(rng) : null;
  return b;
}

function policy(rng: Rng): unknown {
  if (rng.bool(0.05)) return rng.json(3);
  const p: Record<string, unknown> = {};
  if (rng.bool(0.7))
    p.version = rng.pick<unknown>([0, 1, 3, 3, 3, 2, -1, "1", "3", null, 1.5, Number.NaN, true]);
  if (rng.bool(0.5))
    p.etag = rng.bool(0.9) ? rng.pick(["ACAB", "BwYBmJ2Qp5E=", "", rng.string(12)]) : rng.json(1);
  if (rng.bool(0.95)) {
    if (rng.bool(0.93)) {
      const n = rng.len(10);
      p.bindings = Array.from({ length: n }, () => binding(rng));
    } else p.bindings = rng.json(1);
  }
  if (rng.bool(0.1)) p.auditConfigs = rng.json(2);
  if (rng.bool(0.02)) {
    // Around the member cap.
    const n = MAX_MEMBERS_PER_POLICY + rng.int(-2, 2);
    p.bindings = [
      { role: "roles/viewer", members: Array.from({ length: n }, (_, i) => `user:u${i}@example.com`) },
    ];
  }
  return p;
}

/** The (role, condition, member) triples a policy grants, as the validator should preserve them. */
function grants(bindings: readonly { role: string; members: readonly string[]; condition?: unknown }[]) {
  const out = new Set<string>();
  for (const b of bindings) {
    const c = normalizedCondition(b.condition);
    for (const m of b.members) out.add(`${b.role}\u0000${c ? show(c) : ""}\u0000${m}`);
  }
  return out;
}

function normalizedCondition(c: unknown) {
  if (c === undefined || c === null) return undefined;
  const r = c as Record<string, unknown>;
  return {
    expression: r.expression,
    ...(typeof r.title === "string" ? { title: r.title } : {}),
    ...(typeof r.description === "string" ? { description: r.description } : {}),
  };
}

describe("fuzz: IAM policies and members", () => {
  test("validatePolicy never throws; accepted policies are normalized and lose no grant", () => {
    const rng = Rng.for("validatePolicy");
    let accepted = 0;
    for (let i = 0; i < 4000; i++) {
      const input = policy(rng);
      const where = replay(`validatePolicy case ${i}; input ${show(input)}`);
      let out: ReturnType<typeof validatePolicy>;
      try {
        out = validatePolicy(input, roleExists);
      } catch (err) {
        assert.fail(`validatePolicy threw ${(err as Error)?.stack ?? err} ${where}`);
      }
      if (typeof out === "string") {
        assert.ok(out.length > 0, `an empty rejection message ${where}`);
        continue;
      }
      accepted++;
      const { policy: p, etag } = out;
      const inp = input as Record<string, unknown>;
      assert.equal(etag, inp.etag, `the etag is passed through ${where}`);
      let members = 0;
      let conditional = false;
      for (const [n, b] of p.bindings.entries()) {
        assert.ok(typeof b.role === "string" && b.role !== "" && roleExists(b.role), `known role ${where}`);
        assert.ok(b.members.length > 0, `no empty binding ${where}`);
        for (const m of b.members)
          assert.ok(typeof parseMember(m) !== "string", `valid member ${m} ${where}`);
        const sorted = [...new Set(b.members)].sort();
        assert.deepEqual(b.members, sorted, `members sorted and unique ${where}`);
        if (n > 0) assert.ok(p.bindings[n - 1]!.role <= b.role, `bindings sorted by role ${where}`);
        if (b.condition) {
          conditional = true;
          assert.ok(b.condition.expression.trim() !== "", `condition has an expression ${where}`);
        }
        members += b.members.length;
      }
      assert.equal(p.version, conditional ? 3 : 1, `version 3 iff a condition exists ${where}`);
      assert.ok(members <= MAX_MEMBERS_PER_POLICY, `member cap ${where}`);
      // Merging, de-duplication and dropping empty bindings keep exactly the input's grants.
      const inputBindings = (inp.bindings ?? []) as {
        role: string;
        members: string[];
        condition?: unknown;
      }[];
      const expected = grants(inputBindings);
      assert.deepEqual(grants(p.bindings), expected, `grants preserved ${where}`);
      // Normalization is a fixpoint (compared as the JSON the server stores).
      const again = validatePolicy(JSON.parse(JSON.stringify(p)), roleExists);
      assert.ok(typeof again !== "string", `a normalized policy validates again: ${again} ${where}`);
      assert.equal(JSON.stringify(again.policy), JSON.stringify(p), `normalization is idempotent ${where}`);
    }
    assert.ok(
      accepted > 200,
      `the generator reaches accepted policies (${accepted}) ${replay("validatePolicy")}`,
    );
  });

  test("parseMember never throws and accepts only well-formed members", () => {
    const rng = Rng.for("parseMember");
    for (let i = 0; i < 5000; i++) {
      const input = rng.bool(0.8) ? member(rng) : rng.json(2);
      const where = replay(`parseMember case ${i}; input ${show(input)}`);
      let out: ReturnType<typeof parseMember>;
      try {
        out = parseMember(input);
      } catch (err) {
        assert.fail(`parseMember threw ${(err as Error)?.stack ?? err} ${where}`);
      }
      if (typeof out === "string") {
        assert.ok(out.length > 0, where);
        continue;
      }
      assert.equal(typeof input, "string", `only strings are members ${where}`);
      const s = input as string;
      switch (out.type) {
        case "user":
        case "serviceAccount":
        case "group":
          assert.ok(s.startsWith(`${out.type}:`), where);
          assert.equal(out.email, s.slice(out.type.length + 1).toLowerCase(), where);
          assert.match(out.email, /^[^\s@:]+@[^\s@:]+\.[^\s@:]+$/, where);
          break;
        case "domain":
          assert.match(out.domain, /^[a-z0-9.-]+$/, where);
          break;
        case "allUsers":
        case "allAuthenticatedUsers":
          assert.equal(s, out.type, where);
          break;
        case "convenience":
          assert.ok(out.projectId.length > 0, where);
          break;
        case "projectServiceAccounts":
          assert.match(out.projectNumber, /^\d+$/, where);
          break;
        case "deleted":
          assert.ok(s.startsWith("deleted:"), where);
          break;
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Identifiers, against reference checks written from Google's documented rules
// ---------------------------------------------------------------------------------------------

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
const isLower = (c: string) => LOWER.includes(c);
const isLowerOrDigit = (c: string) => isLower(c) || DIGITS.includes(c);
const isIdChar = (c: string) => isLowerOrDigit(c) || c === "-";

/** "6 to 30 lowercase letters, digits or hyphens; starts with a letter; does not end with a hyphen." */
function refAccountId(id: unknown): boolean {
  if (typeof id !== "string") return false;
  const cs = id.split("");
  return (
    cs.length >= 6 &&
    cs.length <= 30 &&
    isLower(cs[0]!) &&
    cs.every(isIdChar) &&
    isLowerOrDigit(cs[cs.length - 1]!)
  );
}

/** Project ids follow the same shape and may not contain the restricted strings. */
function refProjectId(id: unknown): boolean {
  return refAccountId(id) && !["google", "ssl", "undefined", "null"].some((w) => (id as string).includes(w));
}

/** RFC 1035 labels, as Compute names: 1 to 63 characters, `[a-z]([-a-z0-9]*[a-z0-9])?`. */
function refResourceName(name: unknown): boolean {
  if (typeof name !== "string") return false;
  const cs = name.split("");
  if (cs.length < 1 || cs.length > 63 || !isLower(cs[0]!) || !cs.every(isIdChar)) return false;
  return cs.length === 1 || isLowerOrDigit(cs[cs.length - 1]!);
}

function identifier(rng: Rng): unknown {
  const base = LOWER + DIGITS + "-";
  switch (rng.int(0, 9)) {
    case 0:
      return rng.json(1);
    case 1:
      return rng.string(70);
    case 2: {
      // A valid-looking id with one restricted word spliced in.
      const s = `a${rng.chars(base, rng.int(0, 10))}`;
      const w = rng.pick(["google", "ssl", "undefined", "null", "goog", "nul"]);
      return `${s}${w}${rng.chars(LOWER, rng.int(0, 3))}`;
    }
    case 3: {
      // One out-of-alphabet character somewhere, or a trailing newline.
      const s = rng.chars(LOWER, rng.int(5, 12));
      const bad = rng.pick(["A", "_", ".", " ", "\n", "é", "\u0000", "Z", "ſ", "K"]);
      return rng.bool() ? `${s}${bad}` : `${s.slice(0, 3)}${bad}${s.slice(3)}`;
    }
    default: {
      // Lengths around every boundary: 1, 6, 30, 63.
      const n = rng.pick([0, 1, 2, 4, 5, 6, 7, 29, 30, 31, 62, 63, 64, rng.int(0, 70)]);
      let s = rng.chars(base, n);
      if (rng.bool(0.7) && n > 0) s = rng.pick(LOWER.split("")) + s.slice(1);
      if (rng.bool(0.5) && n > 1) s = s.slice(0, -1) + rng.pick((LOWER + DIGITS + "-").split(""));
      return s;
    }
  }
}

describe("fuzz: identifier rules agree with reference checks", () => {
  for (const [name, fn, ref] of [
    ["projectIdProblem", projectIdProblem, refProjectId],
    ["accountIdProblem", accountIdProblem, refAccountId],
    ["resourceNameProblem", (v: unknown) => resourceNameProblem("resource.name", v), refResourceName],
  ] as const) {
    test(name, () => {
      const rng = Rng.for(name);
      let valid = 0;
      for (let i = 0; i < 4000; i++) {
        const id = identifier(rng);
        const where = replay(`${name} case ${i}; input ${show(id)}`);
        let problem: string | null;
        try {
          problem = fn(id);
        } catch (err) {
          assert.fail(`${name} threw ${(err as Error)?.stack ?? err} ${where}`);
        }
        assert.equal(problem === null, ref(id), `${name} says ${show(problem)} ${where}`);
        if (problem === null) valid++;
        else assert.ok(problem.length > 0, where);
      }
      assert.ok(valid > 100, `the generator reaches valid ids (${valid}) ${replay(name)}`);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

/** The server's real route table (registration touches no dependency; handlers never run here). */
function realRouter(): Router {
  const router = new Router();
  const deps = {} as ServerDeps;
  registerTokenEndpoint(router, deps);
  registerProjects(router, deps);
  registerServiceAccounts(router, deps);
  registerRoles(router, deps);
  registerCompute(router, deps);
  return router;
}

/** The templates registered, read back through the router's own behaviour on known paths. */
const TEMPLATES: [string, string][] = [
  ["POST", "/v1/projects"],
  ["GET", "/v1/projects/{project}"],
  ["POST", "/v1/projects/{project}:setIamPolicy"],
  ["GET", "/v1/projects/{project}/serviceAccounts"],
  ["PATCH", "/v1/projects/{project}/serviceAccounts/{account}"],
  ["POST", "/v1/projects/{project}/serviceAccounts/{account}:disable"],
  ["GET", "/v1/roles/{role}"],
  ["GET", "/v1/projects/{project}/roles/{roleId}"],
  ["POST", "/v1/projects/{project}/roles/{roleId}:undelete"],
  ["GET", "/compute/v1/projects/{project}/zones/{zone}/instances/{instance}"],
  ["POST", "/compute/v1/projects/{project}/zones/{zone}/instances/{instance}/stop"],
  ["POST", "/compute/v1/projects/{project}/zones/{zone}/operations/{operation}/wait"],
];

function pathSegment(rng: Rng): string {
  switch (rng.int(0, 6)) {
    case 0:
      return rng.pick([
        "%",
        "%z",
        "%zz",
        "%E0%A4%A",
        "%C0%80",
        "%ED%A0%80",
        "%FF",
        "%2F",
        "%3A",
        "%00",
        "%%",
      ]);
    case 1:
      return Rng.encode(rng.string(20));
    case 2:
      return rng.pick([
        "",
        ".",
        "..",
        "-",
        ":",
        "::",
        "demo-project",
        "us-central1-a",
        "roles",
        "serviceAccounts",
      ]);
    case 3:
      return rng.string(20);
    default:
      return rng.chars("abc-._~%0123456789ABCDEF:@", rng.len(16));
  }
}

describe("fuzz: Router.match", () => {
  const router = realRouter();

  test("random paths (bad percent-encoding included) never throw", () => {
    const rng = Rng.for("router-random");
    const methods = ["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "get", ""];
    for (let i = 0; i < 4000; i++) {
      let path: string;
      if (rng.bool(0.6)) {
        // Real templates with random segments, suffixes and verbs.
        const [, tpl] = rng.pick(TEMPLATES);
        path = tpl.replace(/\{[a-zA-Z]+\}/g, () => pathSegment(rng));
        if (rng.bool(0.2)) path += rng.pick([":", ":getIamPolicy", "/", "//", "/x", ":undelete:undelete"]);
      } else {
        const n = rng.int(0, 8);
        path = Array.from({ length: n }, () => pathSegment(rng)).join(rng.bool(0.9) ? "/" : ":");
        if (rng.bool(0.8)) path = `/${path}`;
      }
      const method = rng.pick(methods);
      const where = replay(`Router.match case ${i}; ${method} ${show(path)}`);
      let m: ReturnType<Router["match"]>;
      try {
        m = router.match(method, path);
      } catch (err) {
        assert.fail(`Router.match threw ${(err as Error)?.stack ?? err} ${where}`);
      }
      if (m === null) continue;
      if ("allowed" in m) {
        assert.ok(m.allowed.length > 0, where);
        continue;
      }
      for (const v of Object.values(m.params)) assert.equal(typeof v, "string", where);
    }
  });

  test("a template filled with encoded values matches that template and decodes the values", () => {
    const rng = Rng.for("router-roundtrip");
    for (let i = 0; i < 2000; i++) {
      const [method, tpl] = rng.pick(TEMPLATES);
      const values: Record<string, string> = {};
      const path = tpl.replace(/\{([a-zA-Z]+)\}/g, (_, name: string) => {
        let v = rng.string(20);
        if (v === "") v = "x";
        values[name] = Rng.wellFormed(v);
        return Rng.encode(v);
      });
      const where = replay(`Router round trip case ${i}; ${method} ${show(path)}`);
      const m = router.match(method, path);
      assert.ok(m && "route" in m, `no route ${where}`);
      assert.equal(m.route.path, tpl, where);
      assert.deepEqual(m.params, values, where);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Access tokens
// ---------------------------------------------------------------------------------------------

describe("fuzz: verifyAccessToken", () => {
  const ISS = "urn:warrant:organizations:fuzz";
  const MASTER = randomBytes(32);
  const key = loadSigningKey(generateSigningKey(MASTER), MASTER);
  const other = loadSigningKey(generateSigningKey(MASTER), MASTER);
  const keyFor = (kid: string) => (kid === key.kid ? key.publicKey : undefined);

  async function expectRejected(token: string, where: string) {
    try {
      const claims = await verifyAccessToken(token, ISS, keyFor);
      assert.fail(`accepted a token it must reject (sub ${claims.sub}) ${where}`);
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      assert.ok(
        err instanceof InvalidToken,
        `rejected with ${(err as Error)?.name}: ${(err as Error)?.message}, not InvalidToken ${where}`,
      );
    }
  }

  const b64 = (v: unknown) =>
    Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

  test("random and hand-shaped strings are rejected with InvalidToken", async () => {
    const rng = Rng.for("token-random");
    const { token: good } = await mintAccessToken(key, ISS, {
      sub: "user:a@b.c",
      scopes: ["s"],
      azp: "c",
      via: "t",
    });
    const [h, p, s] = good.split(".") as [string, string, string];
    const { token: foreign } = await mintAccessToken(other, ISS, {
      sub: "user:a@b.c",
      scopes: [],
      azp: "",
      via: "",
    });
    const header = JSON.parse(Buffer.from(h, "base64url").toString()) as Record<string, unknown>;
    const payload = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const fixed: string[] = [
      "",
      ".",
      "..",
      "...",
      `${h}.${p}`,
      `${h}.${p}.`,
      `${h}..${s}`,
      `.${p}.${s}`,
      `${h}.${p}.${s}.${s}`,
      `${b64({ ...header, alg: "none" })}.${p}.`,
      `${b64({ ...header, alg: "HS256" })}.${p}.${s}`,
      `${b64({ ...header, kid: other.kid })}.${p}.${s}`,
      `${b64({ ...header, kid: "__proto__" })}.${p}.${s}`,
      `${b64({ ...header, kid: 5 })}.${p}.${s}`,
      `${b64({ ...header, typ: "JWT" })}.${p}.${s}`,
      `${b64({ ...header, crit: ["exp"] })}.${p}.${s}`,
      `${b64({ ...header, b64: false, crit: ["b64"] })}.${p}.${s}`,
      `${b64({ typ: "at+jwt", alg: "RS256", kid: key.kid })}.${p}.${s}`,
      `${h}.${b64({ ...payload, iss: "other" })}.${s}`,
      `${h}.${b64({ ...payload, exp: "never" })}.${s}`,
      `${h}.${b64("[]")}.${s}`,
      `${h}.${b64("null")}.${s}`,
      `${h}.${b64("not json")}.${s}`,
      `${b64("[]")}.${p}.${s}`,
      `${b64("null")}.${p}.${s}`,
      `${b64("\u0000")}.${p}.${s}`,
      // Signed by another key, presented under this key's kid.
      `${h}.${foreign.split(".")[1]}.${foreign.split(".")[2]}`,
      `${foreign.split(".")[0]}.${p}.${s}`,
      foreign,
      good.toUpperCase(),
      ` ${good}`,
      good.replace(/-/g, "+").replace(/_/g, "/"),
    ];
    for (const [i, t] of fixed.entries()) {
      assert.notEqual(t, good, `fixed token ${i} is the original`);
      await expectRejected(t, replay(`fixed token ${i}: ${show(t)}`));
    }
    for (let i = 0; i < 1500; i++) {
      const parts = Array.from({ length: rng.pick([1, 2, 3, 3, 3, 4]) }, () =>
        rng.bool(0.5) ? rng.pick([h, p, s, b64(rng.json(2)), ""]) : rng.string(60),
      );
      const t = parts.join(".");
      if (t === good) continue;
      await expectRejected(t, replay(`random token case ${i}: ${show(t)}`));
    }
  });

  /** Verifies each candidate; returns the ones that were accepted (or failed with a non-InvalidToken error). */
  async function wronglyHandled(candidates: [string, string][]): Promise<string[]> {
    const bad: string[] = [];
    for (const [label, t] of candidates) {
      try {
        await verifyAccessToken(t, ISS, keyFor);
        bad.push(`${label}: ACCEPTED`);
      } catch (err) {
        if (!(err instanceof InvalidToken))
          bad.push(`${label}: ${(err as Error)?.name} ${(err as Error)?.message}`);
      }
    }
    return bad;
  }

  test("non-canonical encodings of a valid token's signature are rejected (no token malleability)", async () => {
    const { token: good } = await mintAccessToken(key, ISS, {
      sub: "user:a@b.c",
      scopes: [],
      azp: "",
      via: "",
    });
    const [h, p, s] = good.split(".") as [string, string, string];
    // 256 signature bytes take 342 base64url characters: the last one carries 2 bits and 4 spare ones.
    const last = s.at(-1)!;
    const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const sameTopBits = ALPHABET.split("").filter(
      (c) => c !== last && ALPHABET.indexOf(c) >> 4 === ALPHABET.indexOf(last) >> 4,
    );
    const candidates: [string, string][] = [
      ["'==' padding after the signature", `${h}.${p}.${s}==`],
      ["'=' padding after the signature", `${h}.${p}.${s}=`],
      ["a newline inside the signature", `${h}.${p}.${s.slice(0, 100)}\n${s.slice(100)}`],
      ["a space inside the signature", `${h}.${p}.${s.slice(0, 100)} ${s.slice(100)}`],
      ["a tab after the signature", `${h}.${p}.${s}\t`],
      ["a newline after the token", `${good}\n`],
      ...sameTopBits.map((c): [string, string] => [
        `last signature character ${last}→${c}`,
        `${h}.${p}.${s.slice(0, -1)}${c}`,
      ]),
    ];
    const bad = await wronglyHandled(candidates);
    assert.deepEqual(
      bad,
      [],
      `verifyAccessToken accepts ${bad.length} re-encodings of one valid token (a token is not one string):\n${bad.join("\n")}\n${replay("malleability")}`,
    );
  });

  test("every byte-wise mutation of a valid token is rejected with InvalidToken", async () => {
    const rng = Rng.for("token-mutation");
    const { token: good } = await mintAccessToken(key, ISS, {
      sub: "serviceAccount:demo-sa@demo-project.iam.gserviceaccount.com",
      scopes: ["https://www.googleapis.com/auth/cloud-platform"],
      azp: "cli",
      via: "refresh_token",
    });
    const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const EXTRA = [".", "=", "+", "/", " ", "\u0000", "é", "\n", "%"];
    assert.ok(await verifyAccessToken(good, ISS, keyFor), "the original verifies");
    const candidates: [string, string][] = [];
    for (let i = 0; candidates.length < 2000 && i < 4000; i++) {
      const bytes = good.split("");
      const n = rng.bool(0.8) ? 1 : rng.int(2, 5);
      const ops: string[] = [];
      for (let k = 0; k < n; k++) {
        const at = rng.int(0, bytes.length - 1);
        switch (rng.int(0, 5)) {
          case 0:
          case 1:
          case 2: {
            const c = rng.bool(0.9) ? rng.pick(ALPHABET.split("")) : rng.pick(EXTRA);
            ops.push(`set ${at} ${show(bytes[at])}→${show(c)}`);
            bytes[at] = c;
            break;
          }
          case 3: {
            const c = rng.pick((ALPHABET + EXTRA.join("")).split(""));
            ops.push(`insert ${at} ${show(c)}`);
            bytes.splice(at, 0, c);
            break;
          }
          case 4:
            ops.push(`delete ${at}`);
            bytes.splice(at, 1);
            break;
          default:
            ops.push(`truncate ${at}`);
            bytes.splice(at);
        }
      }
      const t = bytes.join("");
      if (t !== good) candidates.push([`case ${i} (${ops.join(", ")}; token length ${good.length})`, t]);
    }
    const bad = await wronglyHandled(candidates);
    assert.deepEqual(
      bad.slice(0, 20),
      [],
      `${bad.length} of ${candidates.length} mutations were not rejected with InvalidToken:\n${bad.slice(0, 20).join("\n")}\n${replay("token mutations")}`,
    );
  });
});
