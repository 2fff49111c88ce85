/** `warrant logs read`: filters, ordering and limits over a synthetic audit.log, and one real server. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseDuration, Ring } from "../../src/cli/commands/logs/read.js";
import { startHarness, tokenAs } from "../support/harness.js";
import { runCli } from "./helpers.js";

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const MIN = 60_000;
const SA = "app@demo-project.iam.gserviceaccount.com";

/** Oldest first, as the server appends; ids r1..r8 in file order, plus two malformed lines. */
function fixture(): string[] {
  return [
    JSON.stringify({
      time: ago(180 * MIN),
      kind: "request",
      requestId: "r1",
      principal: "user:admin@warrant.local",
      method: "GET",
      path: "/v1/projects",
      status: 200,
      ms: 3.1,
      checks: [{ permission: "resourcemanager.projects.list", resource: "organizations/1", allowed: true }],
    }),
    JSON.stringify({
      time: ago(120 * MIN),
      kind: "token",
      requestId: "r2",
      grant: "refresh_token",
      outcome: "issued",
      subject: "user:admin@warrant.local",
      tokenType: "access_token",
      scopes: ["https://www.googleapis.com/auth/cloud-platform"],
    }),
    JSON.stringify({
      time: ago(90 * MIN),
      kind: "request",
      requestId: "r3",
      principal: "user:bob@example.com",
      method: "GET",
      path: "/v1/projects/demo-project/serviceAccounts",
      status: 403,
      ms: 2,
      checks: [{ permission: "iam.serviceAccounts.list", resource: "projects/demo-project", allowed: false }],
      error: "PERMISSION_DENIED: Permission 'iam.serviceAccounts.list' denied",
    }),
    "this is not json {",
    JSON.stringify({
      time: ago(30 * MIN),
      kind: "token",
      requestId: "r4",
      grant: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      outcome: "refused",
      error: "invalid_grant",
      description: "Invalid JWT signature.",
    }),
    JSON.stringify({
      time: ago(20 * MIN),
      kind: "request",
      requestId: "r5",
      principal: "allUsers",
      method: "GET",
      path: "/v1/projects",
      status: 401,
      ms: 0.4,
      error: "UNAUTHENTICATED: Request is missing required authentication credential.",
    }),
    "",
    JSON.stringify({
      time: ago(10 * MIN),
      kind: "token",
      requestId: "r6",
      grant: "impersonation",
      outcome: "issued",
      subject: `serviceAccount:${SA}`,
      tokenType: "id_token",
      audience: "https://example.com",
      actor: "user:alice@example.com",
      delegates: [],
    }),
    JSON.stringify({
      time: ago(10 * MIN - 5),
      kind: "request",
      requestId: "r7",
      principal: "user:alice@example.com",
      method: "POST",
      path: `/v1/projects/-/serviceAccounts/${SA}:generateIdToken`,
      status: 200,
      ms: 5,
      checks: [
        {
          permission: "iam.serviceAccounts.getOpenIdToken",
          resource: `serviceAccounts/${SA}`,
          allowed: true,
        },
      ],
    }),
    "[1, 2]",
    JSON.stringify({
      time: ago(1 * MIN),
      kind: "request",
      requestId: "r8",
      principal: "user:bob@example.com",
      method: "GET",
      path: "/v1/projects/demo-project/serviceAccounts",
      status: 200,
      ms: 1,
      checks: [{ permission: "iam.serviceAccounts.list", resource: "projects/demo-project", allowed: true }],
    }),
  ];
}

describe("warrant logs read (synthetic audit.log)", () => {
  let dir: string;
  let written: string[];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "warrant-logs-"));
    written = fixture();
    writeFileSync(join(dir, "audit.log"), written.join("\n") + "\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function ids(...flags: string[]): Promise<string[]> {
    const r = await runCli(["logs", "read", "--state-dir", dir, "--format=json", ...flags]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { requestId: string }[]).map((e) => e.requestId);
  }

  it("prints a table, newest first, and warns once about malformed lines", async () => {
    const r = await runCli(["logs", "read", "--state-dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^TIME\s+KIND\s+PRINCIPAL\s+WHAT\s+RESULT\s+DENIED$/);
    assert.equal(lines.length, 9);
    // Newest first: r8 (bob, 200) on top, r1 (admin) at the bottom.
    assert.match(
      lines[1]!,
      /request\s+user:bob@example\.com\s+GET \/v1\/projects\/demo-project\/serviceAccounts\s+200$/,
    );
    assert.match(lines[8]!, /user:admin@warrant\.local\s+GET \/v1\/projects\s+200$/);
    const denial = lines.find((l) => /\s403\s/.test(l));
    assert.match(denial ?? "", /user:bob@example\.com.*403\s+iam\.serviceAccounts\.list$/);
    assert.ok(
      lines.some((l) => /token\s+\s*jwt-bearer\s+refused: invalid_grant/.test(l)),
      r.stdout,
    );
    assert.ok(
      lines.some(
        (l) => l.includes(`serviceAccount:${SA}`) && l.includes("impersonation id_token by user:alice"),
      ),
      r.stdout,
    );
    assert.equal(r.stderr, `WARNING: Skipped 2 malformed lines in ${join(dir, "audit.log")}.\n`);
  });

  it("--format=json prints the entries as logged, newest first", async () => {
    const r = await runCli(["logs", "read", "--state-dir", dir, "--format=json"]);
    assert.equal(r.code, 0, r.stderr);
    const entries = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.deepEqual(
      entries.map((e) => e.requestId),
      ["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1"],
    );
    const original = JSON.parse(written[2]!) as Record<string, unknown>;
    assert.deepEqual(entries[5], original);
  });

  it("projections address the logged fields", async () => {
    const r = await runCli([
      "logs",
      "read",
      "--state-dir",
      dir,
      "--kind=request",
      "--format=value(requestId,status,checks.permission)",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "r8\t200\tiam.serviceAccounts.list\n" +
        "r7\t200\tiam.serviceAccounts.getOpenIdToken\n" +
        "r5\t401\t\n" +
        "r3\t403\tiam.serviceAccounts.list\n" +
        "r1\t200\tresourcemanager.projects.list\n",
    );
  });

  it("--kind", async () => {
    assert.deepEqual(await ids("--kind=token"), ["r6", "r4", "r2"]);
    assert.deepEqual(await ids("--kind=request"), ["r8", "r7", "r5", "r3", "r1"]);
  });

  it("--principal matches principal, token subject or actor", async () => {
    assert.deepEqual(await ids("--principal=user:bob@example.com"), ["r8", "r3"]);
    assert.deepEqual(await ids("--principal=user:alice@example.com"), ["r7", "r6"]);
    assert.deepEqual(await ids(`--principal=serviceAccount:${SA}`), ["r6"]);
    assert.deepEqual(await ids("--principal=user:admin@warrant.local"), ["r2", "r1"]);
    assert.deepEqual(await ids("--principal=allUsers"), ["r5"]);
    // A bare email matches any member type; a wrong type does not.
    assert.deepEqual(await ids("--principal=bob@example.com"), ["r8", "r3"]);
    assert.deepEqual(await ids("--principal=serviceAccount:bob@example.com"), []);
  });

  it("--denied: 401/403, failed checks and refused tokens", async () => {
    assert.deepEqual(await ids("--denied"), ["r5", "r4", "r3"]);
    assert.deepEqual(await ids("--denied", "--kind=token"), ["r4"]);
  });

  it("--permission, alone and with --denied", async () => {
    assert.deepEqual(await ids("--permission=iam.serviceAccounts.list"), ["r8", "r3"]);
    assert.deepEqual(await ids("--permission=iam.serviceAccounts.list", "--denied"), ["r3"]);
    assert.deepEqual(await ids("--permission=iam.serviceAccounts.getOpenIdToken", "--denied"), []);
    assert.deepEqual(await ids("--permission=no.such.permission"), []);
  });

  it("--since and --after", async () => {
    assert.deepEqual(await ids("--since=45m"), ["r8", "r7", "r6", "r5", "r4"]);
    assert.deepEqual(await ids("--since=2h30m"), ["r8", "r7", "r6", "r5", "r4", "r3", "r2"]);
    assert.deepEqual(await ids("--since=1d", "--denied"), ["r5", "r4", "r3"]);
    assert.deepEqual(await ids("--since=30s"), []);
    assert.deepEqual(await ids(`--after=${ago(100 * MIN)}`), ["r8", "r7", "r6", "r5", "r4", "r3"]);
  });

  it("--limit keeps the newest matches", async () => {
    assert.deepEqual(await ids("--limit=2"), ["r8", "r7"]);
    assert.deepEqual(await ids("--limit=1", "--kind=token"), ["r6"]);
    assert.deepEqual(await ids("--limit=100"), ["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1"]);
  });

  it("finds the state dir through WARRANT_STATE_DIR", async () => {
    const r = await runCli(["logs", "read", "--kind=token", "--format=value(requestId)"], {
      env: { WARRANT_STATE_DIR: dir },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "r6\nr4\nr2\n");
  });

  it("says so when nothing matches", async () => {
    const r = await runCli(["logs", "read", "--state-dir", dir, "--principal=user:nobody@example.com"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /Listed 0 items\./);
  });

  it("rejects bad flag values with usage errors", async () => {
    for (const flags of [
      ["--since=10"],
      ["--since=ten minutes"],
      ["--after=yesterday"],
      ["--since=1h", `--after=${ago(0)}`],
      ["--limit=0"],
      ["--limit=-3"],
      ["--limit=abc"],
      ["--kind=audit"],
    ]) {
      const r = await runCli(["logs", "read", "--state-dir", dir, ...flags]);
      assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^ERROR: \(warrant\.logs\.read\) /);
    }
  });

  it("a missing log is an error naming the file and what writes it", async () => {
    const empty = mkdtempSync(join(tmpdir(), "warrant-logs-empty-"));
    try {
      const r = await runCli(["logs", "read", "--state-dir", empty]);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(join(empty, "audit.log")), r.stderr);
      assert.match(r.stderr, /server writes it/);
      assert.equal(r.stdout, "");
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("streams a long log keeping only the newest --limit matches", async () => {
    const big = mkdtempSync(join(tmpdir(), "warrant-logs-big-"));
    try {
      const lines: string[] = [];
      for (let i = 0; i < 5000; i++) {
        lines.push(
          JSON.stringify({
            time: ago(5000 - i),
            kind: "request",
            requestId: `n${i}`,
            principal: i % 2 ? "user:odd@example.com" : "user:even@example.com",
            method: "GET",
            path: "/v1/projects",
            status: 200,
            ms: 1,
          }),
        );
      }
      writeFileSync(join(big, "audit.log"), lines.join("\n") + "\n");
      const r = await runCli([
        "logs",
        "read",
        "--state-dir",
        big,
        "--principal=user:odd@example.com",
        "--limit=3",
        "--format=value(requestId)",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "n4999\nn4997\nn4995\n");
      assert.equal(r.stderr, "");
    } finally {
      rmSync(big, { recursive: true, force: true });
    }
  });
});

describe("logs read helpers", () => {
  it("parseDuration", () => {
    assert.equal(parseDuration("30s"), 30_000);
    assert.equal(parseDuration("10m"), 600_000);
    assert.equal(parseDuration("2h"), 7_200_000);
    assert.equal(parseDuration("1d"), 86_400_000);
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("10"), undefined);
    assert.equal(parseDuration("m"), undefined);
    assert.equal(parseDuration("-1h"), undefined);
  });

  it("Ring keeps the last N, newest first", () => {
    const r = new Ring<number>(3);
    assert.deepEqual(r.newestFirst(), []);
    r.push(1);
    r.push(2);
    assert.deepEqual(r.newestFirst(), [2, 1]);
    for (let i = 3; i <= 10; i++) r.push(i);
    assert.deepEqual(r.newestFirst(), [10, 9, 8]);
  });
});

describe("warrant logs read against a real server", () => {
  it("finds a denied call and the tokens issued and refused", async () => {
    const h = await startHarness();
    try {
      const bob = await tokenAs(h, "user:bob@example.com");
      const denied = await h.call("GET", "/v1/projects/demo-project/serviceAccounts", { token: bob });
      assert.equal(denied.status, 403, denied.text);
      await h.tokenFor(h.server.adminCredentialFile);
      const refused = await fetch(`${h.url}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "refresh_token",
          client_id: "nobody",
          client_secret: "nothing",
          refresh_token: "1//not-a-refresh-token",
        }),
      });
      assert.equal(refused.ok, false);
      await refused.text();

      // The server appends through a stream: wait briefly for the lines to land.
      const log = join(h.stateDir, "audit.log");
      const deadline = Date.now() + 5000;
      for (;;) {
        let text = "";
        try {
          text = readFileSync(log, "utf8");
        } catch {}
        if (text.includes("iam.serviceAccounts.list") && text.includes('"refused"')) break;
        assert.ok(Date.now() < deadline, `audit log never showed the denial:\n${text}`);
        await new Promise((r) => setTimeout(r, 25));
      }

      const r = await runCli(["logs", "read", "--state-dir", h.stateDir, "--denied", "--format=json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      const entries = JSON.parse(r.stdout) as Record<string, unknown>[];
      const denial = entries.find((e) => e.kind === "request" && e.principal === "user:bob@example.com");
      assert.ok(denial, r.stdout);
      assert.equal(denial.status, 403);
      assert.ok(
        (denial.checks as { permission: string; allowed: boolean }[]).some(
          (c) => c.permission === "iam.serviceAccounts.list" && c.allowed === false,
        ),
        JSON.stringify(denial),
      );
      assert.ok(
        entries.some((e) => e.kind === "token" && e.outcome === "refused"),
        r.stdout,
      );
      assert.ok(
        entries.every((e) => e.outcome !== "issued" && e.status !== 200),
        r.stdout,
      );

      const tokens = await runCli([
        "logs",
        "read",
        "--state-dir",
        h.stateDir,
        "--kind=token",
        "--format=value(grant,outcome)",
      ]);
      assert.equal(tokens.code, 0, tokens.stderr);
      assert.match(tokens.stdout, /^refresh_token\tissued$/m);
      assert.match(tokens.stdout, /^refresh_token\trefused$/m);

      const table = await runCli([
        "logs",
        "read",
        "--state-dir",
        h.stateDir,
        "--permission=iam.serviceAccounts.list",
        "--denied",
      ]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(
        table.stdout,
        /user:bob@example\.com\s+GET \/v1\/projects\/demo-project\/serviceAccounts\s+403\s+iam\.serviceAccounts\.list/,
      );
    } finally {
      await h.close();
    }
  });
});
