/**
 * Attack: a metadata-server agent's credential, once leaked, obtained the instance's tokens forever:
 * it never expired and nothing but deleting the instance ended it. Credentials are now short-lived
 * (renewed by the agent half-way through, each renewal replacing the secret) and an administrator
 * revokes them at once with `:resetAgent`; all of it is audited.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAgent } from "../../src/agent/agent.js";
import { type Harness, startHarness } from "../support/harness.js";

const DEMO = "projects/demo-project/zones/us-central1-a/instances/demo-vm";
const LIFETIME_S = 2;
const IDENTITY = "/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://x.example";

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("agent credentials expire, rotate and can be revoked", () => {
  let h: Harness;
  const auditLines = () => {
    const file = join(h.stateDir, "audit.log");
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.kind === "agentCredential");
  };
  async function enroll(): Promise<{ agentCredential: string; expireTime: string }> {
    const issued = await h.call("POST", `/warrant/v1/${DEMO}:issueEnrollmentToken`);
    assert.equal(issued.status, 200, issued.text);
    const r = await fetch(`${h.url}/warrant/v1/agents:enroll`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ enrollmentToken: issued.body.enrollmentToken }),
    });
    assert.equal(r.status, 200);
    return (await r.json()) as { agentCredential: string; expireTime: string };
  }
  const view = async (credential: string) => {
    const r = await fetch(`${h.url}/warrant/v1/agent/view`, {
      headers: { authorization: `WarrantAgent ${credential}` },
    });
    return { status: r.status, body: (await r.json()) as { error?: { message: string } } };
  };
  const renew = async (credential: string) => {
    const r = await fetch(`${h.url}/warrant/v1/agent/credential:renew`, {
      method: "POST",
      headers: { authorization: `WarrantAgent ${credential}`, "content-type": "application/json" },
      body: "{}",
    });
    return { status: r.status, body: (await r.json()) as { agentCredential: string; expireTime: string } };
  };

  before(async () => {
    h = await startHarness({ agentCredentialLifetimeSeconds: LIFETIME_S });
  });
  after(() => h.close());

  test("enrollment says when the credential expires; past then it gets 401 and the refusal is audited", async () => {
    const { agentCredential, expireTime } = await enroll();
    const lifetime = Date.parse(expireTime) - Date.now();
    assert.ok(lifetime > 0 && lifetime <= LIFETIME_S * 1000, `lifetime ${lifetime} ms`);
    assert.equal((await view(agentCredential)).status, 200);
    const refused = await until("the credential to expire", async () => {
      const r = await view(agentCredential);
      return r.status === 200 ? undefined : r;
    });
    assert.equal(refused.status, 401);
    assert.ok(Date.now() >= Date.parse(expireTime), "not refused before its expiry");
    assert.match(refused.body.error!.message, /expired.*re-enrolled/);
    const agentId = agentCredential.split(".")[0];
    await until("the refusal in the audit log", () =>
      auditLines().find((e) => e.event === "refused" && e.agentId === agentId) ? true : undefined,
    );
    assert.ok(!readFileSync(join(h.stateDir, "audit.log"), "utf8").includes(agentCredential.split(".")[1]!));
  });

  test("renewal replaces the secret: the old one gets 401, the new one works", async () => {
    const first = await enroll();
    const renewed = await renew(first.agentCredential);
    assert.equal(renewed.status, 200);
    assert.notEqual(renewed.body.agentCredential, first.agentCredential);
    assert.equal((await view(first.agentCredential)).status, 401);
    assert.equal((await renew(first.agentCredential)).status, 401, "an old secret cannot renew either");
    assert.equal((await view(renewed.body.agentCredential)).status, 200);
  });

  test("resetAgent revokes every credential of the instance at once, and is audited", async () => {
    const { agentCredential } = await enroll();
    assert.equal((await view(agentCredential)).status, 200);
    const reset = await h.call("POST", `/warrant/v1/${DEMO}:resetAgent`, { body: {} });
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.body.instance, DEMO);
    assert.ok(reset.body.revokedCredentials >= 1);
    const r = await view(agentCredential);
    assert.equal(r.status, 401);
    const agentId = agentCredential.split(".")[0];
    await until("the revocation in the audit log", () =>
      auditLines().find((e) => e.event === "revoked" && e.agentId === agentId && e.instance === DEMO)
        ? true
        : undefined,
    );
  });

  test("resetAgent needs compute.instances.setMetadata", async () => {
    const { tokenAs } = await import("../support/harness.js");
    const bob = await tokenAs(h, "user:bob@example.com");
    const r = await h.call("POST", `/warrant/v1/${DEMO}:resetAgent`, { token: bob, body: {} });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /compute\.instances\.setMetadata/);
  });

  test("an agent renews before half its life: tokens keep flowing across several lifetimes", async () => {
    const token = (await h.call("POST", `/warrant/v1/${DEMO}:issueEnrollmentToken`)).body.enrollmentToken;
    const agent = await startAgent({
      controlPlaneUrl: h.url,
      enrollmentToken: token,
      host: "127.0.0.1",
      port: 0,
    });
    try {
      const expiries = new Set<number>([agent.credentialExpiresAt()]);
      const start = Date.now();
      // Identity tokens are never cached: each one is a call to the control plane.
      await until(
        "four credential lifetimes",
        async () => {
          const r = await fetch(`${agent.url}${IDENTITY}`, { headers: { "Metadata-Flavor": "Google" } });
          assert.equal(r.status, 200, await r.text());
          expiries.add(agent.credentialExpiresAt());
          return Date.now() - start > 4 * LIFETIME_S * 1000 ? true : undefined;
        },
        30_000,
      );
      assert.ok(expiries.size >= 4, `renewed ${expiries.size - 1} times`);
      assert.ok(!agent.credentialRefused());
      assert.ok(agent.credentialExpiresAt() > Date.now());
    } finally {
      await agent.close();
    }
  });

  test("warrant serve re-enrolls its in-process agent after a reset", async () => {
    const mds = h.server.metadataServers()[DEMO]!;
    const identity = () => fetch(`http://${mds}${IDENTITY}`, { headers: { "Metadata-Flavor": "Google" } });
    assert.equal((await identity()).status, 200);
    const enrolledBefore = auditLines().filter((e) => e.event === "enrolled" && e.inProcess).length;
    const reset = await h.call("POST", `/warrant/v1/${DEMO}:resetAgent`, { body: {} });
    assert.equal(reset.status, 200, reset.text);
    await until("the in-process agent to enroll again", () =>
      auditLines().filter((e) => e.event === "enrolled" && e.inProcess).length > enrolledBefore
        ? true
        : undefined,
    );
    await until("the metadata server to answer again", async () =>
      (await identity()).status === 200 ? true : undefined,
    );
  });
});
