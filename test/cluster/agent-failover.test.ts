/**
 * `warrant agent --control-plane=B,A`: an instance's metadata server talking to node B of a
 * two-node installation sees a change made through node A within a second, and keeps serving tokens
 * (cache misses included) while B is killed with SIGKILL, by moving to node A.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createTestDatabase, dropTestDatabase, postgresUnavailable } from "../datastore/pg-fixture.js";
import { type ClusterNode, startNode } from "../support/cluster.js";
import { BIN } from "../support/serve-process.js";

const why = await postgresUnavailable();
const dbName = `warrant_failover_${process.pid}_${randomBytes(4).toString("hex")}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("an agent with two control-plane nodes", { skip: why ?? false, timeout: 120_000 }, () => {
  let a: ClusterNode;
  let b: ClusterNode;
  let agent: ChildProcess | undefined;
  let agentLog = "";
  before(async () => {
    const url = await createTestDatabase(dbName);
    const env = { WARRANT_MASTER_KEY: randomBytes(32).toString("base64") };
    a = await startNode([`--datastore=${url}`], env);
    b = await startNode([`--datastore=${url}`], env);
  });
  after(async () => {
    agent?.kill("SIGKILL");
    for (const n of [a, b]) {
      n?.proc.kill("SIGKILL");
      if (n) await n.proc.exited;
      if (n) rmSync(n.stateDir, { recursive: true, force: true });
    }
    await dropTestDatabase(dbName);
  });

  it("keeps serving tokens while the node it talks to is killed", async () => {
    const issued = await fetch(
      `${a.url}/warrant/v1/projects/demo-project/zones/us-central1-a/instances/demo-vm:issueEnrollmentToken`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" },
        body: "{}",
      },
    );
    const enrollment = (await issued.json()) as { enrollmentToken?: string };
    assert.equal(issued.status, 200, JSON.stringify(enrollment));
    agent = spawn(
      process.execPath,
      [
        BIN,
        "agent",
        "--instance=demo-vm",
        "--zone=us-central1-a",
        "--listen=127.0.0.1:0",
        `--control-plane=${b.url},${a.url}`,
        `--enrollment-token=${enrollment.enrollmentToken}`,
      ],
      { env: { ...process.env, WARRANT_ENDPOINT: "" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    agent.stderr!.on("data", (d: Buffer) => {
      agentLog += d.toString();
    });
    const mds = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`agent did not start: ${out}${agentLog}`)), 20_000);
      agent!.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /at (http:\/\/[0-9.:]+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      agent!.on("exit", (code) => reject(new Error(`agent exited ${code}: ${agentLog}`)));
    });
    const headers = { "Metadata-Flavor": "Google" };
    let n = 0;
    /** An access token (cached) and an ID token for a fresh audience (a mint at the control plane). */
    const ask = async () => {
      const i = n++;
      const [access, id] = await Promise.all([
        fetch(`${mds}/computeMetadata/v1/instance/service-accounts/default/token`, { headers }),
        fetch(
          `${mds}/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://aud-${i}.example.com`,
          { headers },
        ),
      ]);
      return { i, access: access.status, id: id.status, idText: await id.text(), _: await access.text() };
    };
    const first = await ask();
    assert.deepEqual([first.access, first.id], [200, 200], first.idText);

    // An instance change made through node A reaches the agent, whose long poll waits at node B.
    const setMetadata = await fetch(
      `${a.url}/compute/v1/projects/demo-project/zones/us-central1-a/instances/demo-vm/setMetadata`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" },
        body: JSON.stringify({ items: [{ key: "cluster-note", value: "set-through-a" }] }),
      },
    );
    assert.equal(setMetadata.status, 200, await setMetadata.text());
    const t0 = Date.now();
    let note = "";
    while (Date.now() - t0 < 1_000) {
      const r = await fetch(`${mds}/computeMetadata/v1/instance/attributes/cluster-note`, { headers });
      note = await r.text();
      if (r.status === 200) break;
      await sleep(20);
    }
    assert.equal(note.trim(), "set-through-a", `the agent did not see A's change within 1 s`);

    // Ask continuously; B dies in the middle.
    const answers: Awaited<ReturnType<typeof ask>>[] = [];
    let stop = false;
    const asking = (async () => {
      while (!stop) {
        answers.push(await ask());
        await sleep(25);
      }
    })();
    await sleep(300);
    b.proc.kill("SIGKILL");
    assert.equal(await b.proc.exited, "SIGKILL");
    const killedAt = answers.length;
    await sleep(2_000);
    stop = true;
    await asking;
    const failed = answers.filter((r) => r.access !== 200 || r.id !== 200);
    assert.deepEqual(failed, [], "every token request was answered while and after B died");
    assert.ok(answers.length - killedAt >= 10, `requests after the kill: ${answers.length - killedAt}`);
    // The ID tokens after the kill were minted by A.
    assert.match(agentLog, new RegExp(`control plane ${b.url.replace(/[.]/g, "\\.")} unreachable`));
  });
});
