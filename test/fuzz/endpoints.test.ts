/**
 * Fuzzing the HTTP APIs of one real server on 127.0.0.1: random, malformed and hostile bodies, query
 * strings and path segments. Every answer must be a non-5xx JSON reply in the endpoint's error
 * shape with no stack trace, and afterwards nothing may exist that no 200 created.
 * Seeded: failures name WARRANT_FUZZ_SEED and the request to replay.
 */
import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { after, before, describe, test } from "node:test";
import { validatePolicy } from "../../src/domain/iam/policy.js";
import { predefinedRole } from "../../src/domain/iam/roles.js";
import { type Harness, startHarness, tokenAs } from "../support/harness.js";
import { Rng, replay, SEED } from "./random.js";

console.log(`fuzz endpoints: WARRANT_FUZZ_SEED=${SEED}`);

const PROJECT = "demo-project";
const ZONE = "us-central1-a";
const DEMO_SA = `demo-sa@${PROJECT}.iam.gserviceaccount.com`;
const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
/** Strings whose presence in a reply means an internal error leaked. */
const STACK_MARKERS = ["    at ", ".ts:", ".js:", "node:internal", "file:///"];

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** What kind of endpoint answers: Google's REST error shape, or OAuth's. */
  kind: "rest" | "oauth";
  /** How the request was built, for the reproducer. */
  note: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** One raw HTTP exchange; the body is sent byte for byte (invalid UTF-8 included). */
function send(base: string, r: Omit<Req, "kind" | "note">): Promise<RawReply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...r.headers };
    if (r.body !== undefined && headers["transfer-encoding"] === undefined)
      headers["content-length"] = r.body.length;
    const req = request(
      { host: url.hostname, port: url.port, method: r.method, path: r.path, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    // The server may answer (413) before it has read the whole body; a late write error is not a reply.
    req.on("error", (err) => reject(err));
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}

function describeReq(r: Req): string {
  const auth = r.headers.authorization;
  const headers = {
    ...r.headers,
    ...(auth ? { authorization: `${auth.slice(0, 16)}…(${auth.length})` } : {}),
  };
  let body = "";
  if (r.body !== undefined) {
    const text = r.body.toString("latin1");
    body = ` body(${r.body.length} bytes)=${JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}…` : text)}`;
  }
  return `${r.method} ${r.path} headers=${JSON.stringify(headers)}${body} [${r.note}]`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** What is wrong with a reply, or an empty list. */
function problemsOf(r: Req, reply: RawReply): string[] {
  const out: string[] = [];
  if (reply.status >= 500) out.push(`status ${reply.status}`);
  if (r.method === "HEAD")
    return reply.text === "" ? out : [...out, `HEAD with a body: ${reply.text.slice(0, 100)}`];
  let body: unknown;
  try {
    body = JSON.parse(reply.text);
  } catch {
    out.push(`body is not JSON: ${JSON.stringify(reply.text.slice(0, 200))}`);
  }
  const sent = r.body?.toString("utf8") ?? "";
  for (const m of STACK_MARKERS)
    if (reply.text.includes(m) && !sent.includes(m) && !r.path.includes(m))
      out.push(
        `body contains stack-trace marker ${JSON.stringify(m)}: ${JSON.stringify(reply.text.slice(0, 300))}`,
      );
  if (body === undefined || (reply.status >= 200 && reply.status < 300)) return out;
  const text = JSON.stringify(body).slice(0, 300);
  if (r.kind === "oauth") {
    if (!isObject(body) || typeof body.error !== "string" || typeof body.error_description !== "string")
      out.push(`not an OAuth error body: ${text}`);
    return out;
  }
  const e = isObject(body) ? body.error : undefined;
  if (!isObject(e)) return [...out, `not Google's error shape: ${text}`];
  if (e.code !== reply.status)
    out.push(`error.code ${String(e.code)} differs from HTTP ${reply.status}: ${text}`);
  if (typeof e.message !== "string") out.push(`error.message is not a string: ${text}`);
  if (typeof e.status !== "string") out.push(`error.status is not a string: ${text}`);
  const details = e.errors;
  if (
    !Array.isArray(details) ||
    details.length === 0 ||
    !details.every(
      (d) =>
        isObject(d) &&
        typeof d.domain === "string" &&
        typeof d.reason === "string" &&
        typeof d.message === "string",
    )
  )
    out.push(`error.errors is not [{domain, reason, message}]: ${text}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

const INVALID_UTF8 = [
  [0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x80],
];

function hugeString(rng: Rng): string {
  return rng.chars(rng.pick(["a", "abc-", "é中😀", '\\"', "%"]), 1).repeat(rng.int(10_000, 100_000));
}

/** A JSON value of the wrong kind for most fields. */
function wrongValue(rng: Rng): unknown {
  switch (rng.int(0, 7)) {
    case 0:
      return null;
    case 1:
      return hugeString(rng);
    case 2:
      return rng.number();
    case 3:
      return [rng.json(1)];
    case 4:
      return { [rng.string(8)]: rng.json(1) };
    case 5:
      return rng.bool();
    default:
      return rng.json(3);
  }
}

/** A copy of `template` with a few fields replaced, deleted, added or re-typed, at any depth. */
function mutate(rng: Rng, template: unknown): unknown {
  const value = structuredClone(template) as unknown;
  const n = rng.int(0, 3);
  let root = value;
  for (let k = 0; k < n; k++) {
    // Walk to a random container.
    let node = root;
    for (let d = 0; d < 3 && rng.bool(0.6); d++) {
      const kids = isObject(node) || Array.isArray(node) ? Object.values(node as object) : [];
      const next = kids.filter((c) => c !== null && typeof c === "object");
      if (next.length === 0) break;
      node = rng.pick(next);
    }
    if (Array.isArray(node)) {
      if (node.length && rng.bool()) node[rng.int(0, node.length - 1)] = wrongValue(rng);
      else node.push(wrongValue(rng));
    } else if (isObject(node)) {
      const keys = Object.keys(node);
      const op = rng.int(0, 3);
      if (op === 0 && keys.length) delete node[rng.pick(keys)];
      else if (op === 1 || keys.length === 0)
        Object.defineProperty(node, rng.bool(0.3) ? rng.pick(["__proto__", "constructor"]) : rng.string(10), {
          value: wrongValue(rng),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else node[rng.pick(keys)] = wrongValue(rng);
    } else root = wrongValue(rng);
  }
  return root;
}

function deep(rng: Rng, max: number): string {
  const n = rng.int(1_000, max);
  return rng.bool() ? "[".repeat(n) + "]".repeat(n) : '{"a":'.repeat(n) + "1" + "}".repeat(n);
}

/** A template value that `serialize` replaces by thousands of nested arrays/objects. */
const DEEP = "\u0000DEEP\u0000";
const DEEP_JSON = JSON.stringify(DEEP);

/** Bytes for a JSON body: usually the value, sometimes broken in one of many ways. */
function serialize(rng: Rng, value: unknown): { body: Buffer; note: string } {
  let json = JSON.stringify(value) ?? "null";
  if (json.includes(DEEP_JSON)) {
    const depth = rng.int(1_000, 50_000);
    json = json.replaceAll(DEEP_JSON, () => "[".repeat(depth) + "]".repeat(depth));
    // Sent as is: re-serializing a value this deep would overflow the test's own stack.
    return { body: Buffer.from(json), note: `${depth} nested arrays in a field` };
  }
  switch (rng.int(0, 19)) {
    case 0: {
      const at = rng.int(0, json.length);
      return { body: Buffer.from(json.slice(0, at)), note: `truncated at ${at}` };
    }
    case 1: {
      const bytes = Buffer.from(json);
      const at = rng.int(0, bytes.length);
      const bad = Buffer.from(rng.pick(INVALID_UTF8));
      return {
        body: Buffer.concat([bytes.subarray(0, at), bad, bytes.subarray(at)]),
        note: `invalid UTF-8 at ${at}`,
      };
    }
    case 2: {
      // Invalid UTF-8 inside a string value, where the parser still accepts the text.
      const marked = json.replace(/"([^"\\]{1,20})"/, '"$1\u0001"');
      const [a, b = ""] = marked.split("\u0001");
      return {
        body: Buffer.concat([Buffer.from(a!), Buffer.from(rng.pick(INVALID_UTF8)), Buffer.from(b)]),
        note: "invalid UTF-8 in a string",
      };
    }
    case 3:
      if (json.startsWith("{") && json.length > 2) {
        const m = /^\{("(?:[^"\\]|\\.)*"):/.exec(json);
        const key = m ? m[1] : '"name"';
        return {
          body: Buffer.from(`{${key}:${JSON.stringify(rng.json(2))},${json.slice(1)}`),
          note: "duplicate key",
        };
      }
      return { body: Buffer.from(json), note: "plain" };
    case 4:
      return { body: Buffer.from(JSON.stringify([value])), note: "array at top level" };
    case 5:
      return {
        body: Buffer.from(
          rng.pick(["", "null", "1", '"x"', "true", "[]", " ", "\ufeff{}", "{}}", "{,}", "{'a':1}", "NaN"]),
        ),
        note: "scalar or junk",
      };
    case 6:
      return { body: Buffer.from(deep(rng, 200_000)), note: "deep nesting at top level" };
    case 7: {
      // Deep nesting inside an object, where a handler may keep it.
      const d = deep(rng, 100_000);
      const s = json.startsWith("{") && json !== "{}" ? `{"zz":${d},${json.slice(1)}` : `{"zz":${d}}`;
      return { body: Buffer.from(s), note: "deep nesting in a field" };
    }
    default:
      return { body: Buffer.from(json), note: "plain" };
  }
}

function pathSegment(rng: Rng, usual: string): string {
  if (rng.bool(0.85)) return usual;
  return rng.pick([
    "%",
    "%zz",
    "%E0%A4%A",
    "%FF",
    "%2F",
    "%00",
    "-",
    "..",
    "~",
    "a".repeat(300),
    Rng.encode(rng.string(30)),
    rng.chars("abcdefghijklmnopqrstuvwxyz0123456789-", rng.int(1, 40)),
  ]);
}

function queryValue(rng: Rng): string {
  return rng.pick([
    "",
    "0",
    "1",
    "2",
    "-1",
    "1.5",
    "1e3",
    "1e400",
    "0x10",
    "%20",
    "NaN",
    "Infinity",
    "99999999999999999999999",
    "%zz",
    "%",
    Buffer.from(String(rng.int(-5, 50))).toString("base64url"),
    Buffer.from(rng.string(10)).toString("base64url"),
    "A".repeat(rng.pick([10, 2048, 2049, 5000])),
    Rng.encode(rng.string(20)),
    "true",
    "FULL",
    "BASIC",
  ]);
}

function randomQuery(rng: Rng, names: string[]): string {
  const parts: string[] = [];
  const n = rng.int(0, 4);
  for (let i = 0; i < n; i++) parts.push(`${rng.pick(names)}=${queryValue(rng)}`);
  if (rng.bool(0.1))
    parts.push(rng.pick(["=", "&&", "%=%", "a", "explain=true", "updateMask=displayName,description"]));
  return parts.length ? `?${parts.join("&")}` : "";
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

describe("fuzz: HTTP endpoints", () => {
  let h: Harness;
  let outsider: string;
  let narrow: string;
  const problems: string[] = [];
  /** The server's own log: on a 5xx, its logged cause goes into the report. */
  const serverLog: string[] = [];
  let requests = 0;
  /** Everything a 200 told us it created. */
  const created = {
    projects: new Set<string>(),
    accounts: new Set<string>(),
    roles: new Set<string>(),
    instances: new Set<string>(),
  };
  const baseline = { accounts: new Set<string>(), instances: new Set<string>() };

  before(async () => {
    h = await startHarness({ log: (line) => serverLog.push(line) });
    outsider = await tokenAs(h, "user:fuzz-outsider@example.com");
    narrow = await tokenAs(h, "user:admin@warrant.local", [
      "https://www.googleapis.com/auth/compute.readonly",
    ]);
    for (const a of (await h.call("GET", `/v1/projects/${PROJECT}/serviceAccounts?pageSize=100`)).body
      .accounts)
      baseline.accounts.add(a.email);
    const agg = await h.call("GET", `/compute/v1/projects/${PROJECT}/aggregated/instances`);
    for (const z of Object.values(agg.body.items) as { instances?: { name: string; zone: string }[] }[])
      for (const i of z.instances ?? []) baseline.instances.add(`${i.zone.split("/").pop()}/${i.name}`);
  });
  after(async () => {
    agent.destroy();
    await h.close();
  });

  function authHeader(rng: Rng): Record<string, string> {
    const r = rng.next();
    if (r < 0.8) return { authorization: `Bearer ${h.adminToken}` };
    if (r < 0.85) return { authorization: `Bearer ${outsider}` };
    if (r < 0.88) return { authorization: `Bearer ${narrow}` };
    if (r < 0.91) return {};
    return {
      authorization: rng.pick([
        "Bearer",
        "Bearer ",
        "Basic YTpi",
        `Bearer ${h.adminToken.slice(0, -3)}`,
        `Bearer ${h.adminToken}.x`,
        `bearer  ${rng.chars("ABCxyz019._~+/=-!#$%&'*^`|", 30)}`,
        `Bearer ${"A".repeat(9000)}`,
      ]),
    };
  }

  function contentType(rng: Rng): Record<string, string> {
    if (rng.bool(0.9)) return { "content-type": "application/json" };
    const v = rng.pick([
      "text/plain",
      "application/json; charset=latin1",
      "application/x-www-form-urlencoded",
      "",
      "*/*",
    ]);
    return v === "" ? {} : { "content-type": v };
  }

  /** Sends, checks, records problems; returns the parsed body of a 2xx. */
  async function exchange(r: Req): Promise<{ status: number; body: unknown }> {
    requests++;
    const logged = serverLog.length;
    let reply: RawReply;
    try {
      reply = await send(h.url, r);
    } catch (err) {
      problems.push(`no reply (${(err as Error).message}) to ${describeReq(r)}`);
      return { status: 0, body: undefined };
    }
    const p = problemsOf(r, reply);
    if (p.length) {
      const cause = serverLog
        .slice(logged)
        .map((l) => l.split("\n").slice(0, 3).join(" | "))
        .join("; ");
      problems.push(
        `${p.join("; ")}\n    request: ${describeReq(r)}${cause ? `\n    server log: ${cause}` : ""}`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(reply.text);
    } catch {
      body = undefined;
    }
    return { status: reply.status, body };
  }

  function assertNoProblems(label: string) {
    const found = problems.splice(0);
    assert.deepEqual(
      found.slice(0, 8),
      [],
      `${found.length} bad replies in ${label}; first ones:\n${found.slice(0, 8).join("\n")}\n${replay(label)}`,
    );
  }

  /** Fuzzes one JSON endpoint: `count` requests built from `template` by `mutate` and `serialize`. */
  async function fuzzJson(
    label: string,
    count: number,
    method: string,
    path: (rng: Rng) => string,
    template: (rng: Rng) => unknown,
    onOk?: (body: unknown) => void,
  ) {
    const rng = Rng.for(label);
    for (let i = 0; i < count; i++) {
      const value = rng.bool(0.1) ? rng.json(3) : mutate(rng, template(rng));
      const { body, note } = serialize(rng, value);
      const r: Req = {
        method,
        path: path(rng),
        headers: { ...authHeader(rng), ...contentType(rng) },
        body,
        kind: "rest",
        note: `${label} case ${i}: ${note}`,
      };
      const reply = await exchange(r);
      if (reply.status === 200 && onOk) onOk(reply.body);
    }
  }

  const suffix = (rng: Rng) => `fz-${rng.chars("abcdefghijklmnopqrstuvwxyz0123456789", 8)}`;

  test("POST /v1/projects", async () => {
    await fuzzJson(
      "POST /v1/projects",
      60,
      "POST",
      (rng) => `/v1/projects${randomQuery(rng, ["alt", "fields", "explain"])}`,
      (rng) => ({ projectId: suffix(rng), name: "Fuzz project", labels: { env: "fuzz" } }),
      (b) => created.projects.add((b as { response: { projectId: string } }).response.projectId),
    );
    assertNoProblems("POST /v1/projects");
  });

  test("POST /v1/projects/demo-project/serviceAccounts", async () => {
    await fuzzJson(
      "POST serviceAccounts",
      70,
      "POST",
      (rng) =>
        `/v1/projects/${pathSegment(rng, PROJECT)}/serviceAccounts${randomQuery(rng, ["alt", "explain"])}`,
      (rng) => ({ accountId: suffix(rng), serviceAccount: { displayName: "Fuzz", description: "fuzzed" } }),
      (b) => created.accounts.add((b as { email: string }).email),
    );
    assertNoProblems("POST serviceAccounts");
  });

  test("PATCH /v1/projects/-/serviceAccounts/{email}", async () => {
    const rng = Rng.for("PATCH emails");
    const emails = () => [DEMO_SA, ...created.accounts];
    await fuzzJson(
      "PATCH serviceAccounts",
      70,
      "PATCH",
      (r) => {
        const email = rng.bool(0.7) ? rng.pick(emails()) : `${rng.string(10)}@${rng.string(10)}`;
        const seg =
          rng.bool(0.5) && /^[!-~]+$/.test(email) && !/[?#%]/.test(email) ? email : Rng.encode(email);
        return `/v1/projects/${pathSegment(r, "-")}/serviceAccounts/${pathSegment(r, seg)}${randomQuery(r, ["updateMask", "explain"])}`;
      },
      () => ({
        serviceAccount: { displayName: `Fuzz ${rng.string(10)}`, description: rng.string(40) },
        updateMask: rng.pick([
          "displayName",
          "description",
          "displayName,description",
          "serviceAccount.displayName",
          "email",
          "",
        ]),
      }),
    );
    assertNoProblems("PATCH serviceAccounts");
  });

  test("POST /v1/projects/demo-project:setIamPolicy", async () => {
    const current = (await h.call("POST", `/v1/projects/${PROJECT}:getIamPolicy`, { body: {} })).body;
    await fuzzJson(
      "setIamPolicy",
      70,
      "POST",
      (rng) =>
        `/v1/projects/${pathSegment(rng, PROJECT)}:setIamPolicy${randomQuery(rng, ["explain", "alt"])}`,
      (rng) => {
        const { etag: _etag, ...policy } = current;
        const bindings = [...policy.bindings];
        if (rng.bool(0.5))
          bindings.push({
            role: rng.pick([
              "roles/viewer",
              "roles/iam.roleViewer",
              "roles/bogus",
              "projects/demo-project/roles/x",
            ]),
            members: [
              rng.pick([
                "user:fuzz@example.com",
                "group:g@example.com",
                "domain:example.com",
                "allUsers",
                "user:bad",
              ]),
            ],
            ...(rng.bool(0.2)
              ? { condition: { expression: "request.time < timestamp('2030-01-01T00:00:00Z')", title: "t" } }
              : {}),
          });
        const p: Record<string, unknown> = { ...policy, bindings, version: rng.pick([1, 3]) };
        if (rng.bool(0.15)) p.etag = rng.pick(["ACAB", current.etag, "!!", ""]);
        if (rng.bool(0.15)) p.auditConfigs = rng.bool(0.5) ? [{ service: "allServices" }] : rng.json(3);
        else if (rng.bool(0.08)) p.auditConfigs = [DEEP];
        return { policy: p, ...(rng.bool(0.1) ? { updateMask: "bindings,etag" } : {}) };
      },
    );
    assertNoProblems("setIamPolicy");
  });

  test("POST /v1/projects/demo-project/roles", async () => {
    await fuzzJson(
      "POST roles",
      60,
      "POST",
      (rng) => `/v1/projects/${pathSegment(rng, PROJECT)}/roles${randomQuery(rng, ["explain"])}`,
      (rng) => ({
        roleId: rng.bool(0.9)
          ? `fz_${rng.chars("abcdefghij_.0123", 8)}`
          : rng.pick(["__proto__", "constructor", "toString"]),
        role: {
          title: "Fuzz role",
          description: "fuzzed",
          includedPermissions: ["iam.roles.get", "compute.instances.list"],
          stage: rng.pick(["GA", "ALPHA", "BETA"]),
        },
      }),
      (b) => created.roles.add((b as { name: string }).name),
    );
    assertNoProblems("POST roles");
  });

  test("POST /compute/v1/projects/demo-project/zones/us-central1-a/instances", async () => {
    await fuzzJson(
      "POST instances",
      70,
      "POST",
      (rng) =>
        `/compute/v1/projects/${pathSegment(rng, PROJECT)}/zones/${pathSegment(rng, ZONE)}/instances${randomQuery(rng, ["requestId", "explain"])}`,
      (rng) => ({
        name: suffix(rng),
        machineType: rng.pick([
          "e2-medium",
          `zones/${ZONE}/machineTypes/e2-small`,
          "zones/europe-west1-b/machineTypes/e2-small",
        ]),
        description: "fuzzed",
        labels: { env: "fuzz" },
        metadata: { items: [{ key: "startup-script", value: "echo hi" }] },
        tags: { items: ["web"] },
        serviceAccounts: [{ email: rng.pick(["default", DEMO_SA]), scopes: ["cloud-platform"] }],
      }),
      (b) => {
        const op = b as { targetLink: string };
        const m = /zones\/([^/]+)\/instances\/([^/]+)$/.exec(op.targetLink);
        if (m) created.instances.add(`${m[1]}/${m[2]}`);
      },
    );
    assertNoProblems("POST instances");
  });

  test("GET list endpoints with random paging parameters", async () => {
    const rng = Rng.for("GET lists");
    const lists = [
      "/v1/projects",
      `/v1/projects/${PROJECT}/serviceAccounts`,
      "/v1/roles",
      `/v1/projects/${PROJECT}/roles`,
      `/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances`,
      `/compute/v1/projects/${PROJECT}/aggregated/instances`,
    ];
    for (let i = 0; i < 90; i++) {
      const path =
        rng.pick(lists) +
        randomQuery(rng, [
          "pageSize",
          "pageToken",
          "maxResults",
          "view",
          "showDeleted",
          "filter",
          "includeAllScopes",
        ]);
      await exchange({
        method: rng.bool(0.95) ? "GET" : rng.pick(["HEAD", "DELETE", "PUT"]),
        path,
        headers: authHeader(rng),
        kind: "rest",
        note: `GET lists case ${i}`,
      });
    }
    assertNoProblems("GET lists");
  });

  test("POST /token with random forms and content types", async () => {
    const rng = Rng.for("POST /token");
    const cred = (await import("node:fs")).readFileSync(h.server.adminCredentialFile, "utf8");
    const { client_id, client_secret, refresh_token } = JSON.parse(cred) as Record<string, string>;
    for (let i = 0; i < 80; i++) {
      const fields: [string, string][] = [];
      if (rng.bool(0.9))
        fields.push([
          "grant_type",
          rng.pick([
            "refresh_token",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "",
            "__proto__",
            "constructor",
            "toString",
            rng.string(20),
          ]),
        ]);
      if (rng.bool(0.8)) fields.push(["client_id", rng.bool(0.7) ? client_id! : rng.string(30)]);
      if (rng.bool(0.8)) fields.push(["client_secret", rng.bool(0.5) ? client_secret! : rng.string(30)]);
      if (rng.bool(0.8)) fields.push(["refresh_token", rng.bool(0.5) ? refresh_token! : rng.string(60)]);
      if (rng.bool(0.3))
        fields.push([
          "scope",
          rng.pick([
            CLOUD_PLATFORM,
            "openid",
            `${CLOUD_PLATFORM} https://evil/x`,
            "https://www.googleapis.com/auth/compute",
            rng.string(40),
          ]),
        ]);
      if (rng.bool(0.1) && fields.length) fields.push(rng.pick(fields));
      if (rng.bool(0.05)) fields.push(["assertion", hugeString(rng).slice(0, 70_000)]);
      let text = new URLSearchParams(fields).toString();
      let note = "form";
      const k = rng.int(0, 9);
      if (k === 0) {
        text = JSON.stringify(Object.fromEntries(fields));
        note = "JSON instead of a form";
      } else if (k === 1) {
        text = text.slice(0, rng.int(0, text.length)) + rng.pick(["%", "%zz", "&&=", "=&", "%E0%A4%A"]);
        note = "broken form encoding";
      }
      let body = Buffer.from(text);
      if (k === 2) {
        body = Buffer.concat([body, Buffer.from(rng.pick(INVALID_UTF8))]);
        note = "invalid UTF-8";
      }
      const ct = rng.bool(0.8)
        ? rng.pick([
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=UTF-8",
            "APPLICATION/X-WWW-FORM-URLENCODED",
          ])
        : rng.pick([
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "",
            ";",
            "application/x-www-form-urlencoded,text/plain",
          ]);
      const reply = await exchange({
        method: "POST",
        path:
          rng.pick(["/token", "/oauth2/v4/token"]) + (rng.bool(0.1) ? `?grant_type=${queryValue(rng)}` : ""),
        headers: ct === "" ? {} : { "content-type": ct },
        body,
        kind: "oauth",
        note: `POST /token case ${i}: ${note}`,
      });
      if (reply.status === 200) {
        const b = reply.body as Record<string, unknown>;
        if (typeof b.access_token !== "string" || b.token_type !== "Bearer")
          problems.push(
            `a 200 from /token without a bearer token: ${JSON.stringify(b).slice(0, 200)} [POST /token case ${i}]`,
          );
      }
    }
    assertNoProblems("POST /token");
  });

  test("a request body over 1 MiB is refused with 413 in Google's shape, and the server stays up", async () => {
    const big = Buffer.alloc((1 << 20) + 1, 0x20);
    big[0] = 0x7b; // "{" … "}" keeps it plausible JSON
    big[big.length - 1] = 0x7d;
    const path = `/v1/projects/${PROJECT}/serviceAccounts`;
    for (const chunked of [false, true]) {
      const headers: Record<string, string> = {
        authorization: `Bearer ${h.adminToken}`,
        "content-type": "application/json",
      };
      if (chunked) headers["transfer-encoding"] = "chunked";
      const r: Req = {
        method: "POST",
        path,
        headers,
        body: big,
        kind: "rest",
        note: chunked ? "1 MiB + 1, chunked" : "1 MiB + 1",
      };
      const reply = await send(h.url, r);
      assert.equal(reply.status, 413, `${reply.text.slice(0, 300)} ${describeReq(r)}`);
      assert.deepEqual(problemsOf(r, reply), [], describeReq(r));
      const body = JSON.parse(reply.text);
      assert.equal(body.error.code, 413);
      assert.equal(body.error.status, "INVALID_ARGUMENT");
    }
    const token: Req = {
      method: "POST",
      path: "/token",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: Buffer.from(`grant_type=refresh_token&x=${"a".repeat(70_000)}`),
      kind: "oauth",
      note: "token form over 64 KiB",
    };
    const tokenReply = await send(h.url, token);
    assert.equal(tokenReply.status, 413, tokenReply.text.slice(0, 300));
    assert.deepEqual(problemsOf(token, tokenReply), []);
    assert.equal((await h.call("GET", "/v1/projects")).status, 200, "the server still answers");
    assert.equal((await h.call("GET", `${path}?pageSize=1`)).status, 200);
  });

  test("reproducer: a policy with deeply nested auditConfigs is refused with a 4xx, not a 500", async () => {
    // Found by this fuzzer: JSON.parse accepts the nesting, the datastore's JSON.stringify overflows the stack.
    const depth = 6000;
    const r: Req = {
      method: "POST",
      path: `/v1/projects/${PROJECT}:setIamPolicy`,
      headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/json" },
      body: Buffer.from(
        `{"policy":{"bindings":[],"auditConfigs":[${"[".repeat(depth)}${"]".repeat(depth)}]}}`,
      ),
      kind: "rest",
      note: `auditConfigs nested ${depth} deep`,
    };
    const reply = await send(h.url, r);
    assert.deepEqual(problemsOf(r, reply), [], describeReq(r));
    assert.ok(reply.status >= 400 && reply.status < 500, `HTTP ${reply.status}: ${reply.text.slice(0, 200)}`);
  });

  test("reproducer: an object with its own toString where a string belongs is a 400, not a 500", async () => {
    // Found by this fuzzer: String(value) on a client object calls the client's "toString" member.
    const hostile = { toString: 1 };
    const cases: [string, string, unknown][] = [
      [
        "POST",
        `/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances`,
        { name: "fz-tostring-a", serviceAccounts: [{ email: "default", scopes: [hostile] }] },
      ],
      [
        "POST",
        `/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances`,
        { name: "fz-tostring-b", metadata: { items: [{ key: hostile, value: "v" }] } },
      ],
      ["POST", `/v1/projects/${PROJECT}/roles`, { roleId: hostile, role: { title: "t" } }],
    ];
    const bad: string[] = [];
    for (const [method, path, value] of cases) {
      const r: Req = {
        method,
        path,
        headers: { authorization: `Bearer ${h.adminToken}`, "content-type": "application/json" },
        body: Buffer.from(JSON.stringify(value)),
        kind: "rest",
        note: "own toString",
      };
      const reply = await send(h.url, r);
      if (reply.status !== 400) bad.push(`HTTP ${reply.status} for ${describeReq(r)}`);
    }
    assert.deepEqual(bad, []);
  });

  test("reproducer: a re-encoded copy of a valid access token is refused with 401", async () => {
    // The signature's base64url admits other spellings of the same bytes ("==" padding, the spare
    // bits of its last character); a token must be exactly the string that was issued.
    const [hd, pl, sig] = h.adminToken.split(".") as [string, string, string];
    const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = ALPHABET.indexOf(sig.at(-1)!);
    const sibling = ALPHABET[(last & ~15) | ((last + 1) & 15)]!;
    const accepted: string[] = [];
    for (const [label, t] of [
      ["'==' appended", `${h.adminToken}==`],
      [`last character ${sig.at(-1)}→${sibling}`, `${hd}.${pl}.${sig.slice(0, -1)}${sibling}`],
    ] as const) {
      const reply = await h.call("GET", `/v1/projects/${PROJECT}`, { token: t });
      if (reply.status !== 401) accepted.push(`${label}: HTTP ${reply.status}`);
    }
    assert.deepEqual(
      accepted,
      [],
      "GET /v1/projects/demo-project with 'Authorization: Bearer <admin token variant>'",
    );
  });

  test("nothing half-written: the policy validates, lists answer, and every resource came from a 200", async () => {
    assert.ok(requests >= 500, `ran ${requests} fuzz requests`);
    const policy = await h.call("POST", `/v1/projects/${PROJECT}:getIamPolicy`, {
      body: { options: { requestedPolicyVersion: 3 } },
    });
    assert.equal(policy.status, 200, policy.text);
    const customRoles = new Set<string>();
    const roles = await h.call("GET", `/v1/projects/${PROJECT}/roles?showDeleted=true&pageSize=1000`);
    assert.equal(roles.status, 200, roles.text);
    for (const r of roles.body.roles ?? []) {
      customRoles.add(r.name);
      assert.ok(created.roles.has(r.name), `role ${r.name} exists but no 200 created it ${replay("roles")}`);
    }
    const valid = validatePolicy(policy.body, (r) => predefinedRole(r) !== undefined || customRoles.has(r));
    assert.ok(
      typeof valid !== "string",
      `the stored policy no longer validates: ${valid} ${replay("policy")}`,
    );
    assert.equal(typeof policy.body.etag, "string");

    const projects: string[] = [];
    let token = "";
    for (let n = 0; n < 50; n++) {
      const page = await h.call("GET", `/v1/projects?pageSize=7${token ? `&pageToken=${token}` : ""}`);
      assert.equal(page.status, 200, page.text);
      projects.push(...page.body.projects.map((p: { projectId: string }) => p.projectId));
      token = page.body.nextPageToken ?? "";
      if (!token) break;
    }
    for (const p of projects)
      assert.ok(
        p === PROJECT || created.projects.has(p),
        `project ${p} exists but no 200 created it ${replay("projects")}`,
      );
    for (const p of created.projects) assert.ok(projects.includes(p), `created project ${p} is listed`);

    for (const p of [PROJECT, ...created.projects]) {
      const sas = await h.call("GET", `/v1/projects/${p}/serviceAccounts?pageSize=100`);
      assert.equal(sas.status, 200, sas.text);
      for (const a of sas.body.accounts as { email: string }[])
        assert.ok(
          baseline.accounts.has(a.email) ||
            created.accounts.has(a.email) ||
            (p !== PROJECT && a.email.endsWith("-compute@developer.gserviceaccount.com")),
          `service account ${a.email} exists but no 200 created it ${replay("accounts")}`,
        );
    }

    const agg = await h.call("GET", `/compute/v1/projects/${PROJECT}/aggregated/instances`);
    assert.equal(agg.status, 200, agg.text);
    for (const z of Object.values(agg.body.items) as { instances?: { name: string; zone: string }[] }[])
      for (const i of z.instances ?? []) {
        const key = `${i.zone.split("/").pop()}/${i.name}`;
        assert.ok(
          baseline.instances.has(key) || created.instances.has(key),
          `instance ${key} exists but no 200 created it ${replay("instances")}`,
        );
      }
    for (const path of [
      `/v1/projects/${PROJECT}/serviceAccounts`,
      "/v1/roles?pageSize=5",
      `/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances`,
    ])
      assert.equal((await h.call("GET", path)).status, 200, path);
    console.log(
      `fuzz endpoints: ${requests} requests; created ${created.projects.size} projects, ${created.accounts.size} accounts, ${created.roles.size} roles, ${created.instances.size} instances`,
    );
  });
});
