/**
 * `warrant serve` runs a metadata-server agent for every instance it hosts, each on its own
 * loopback address (127.0.0.2, 127.0.0.3, …, remembered across restarts). Agents enroll over HTTP
 * with a one-time token like any external agent: the in-process ones get no shortcut. An agent
 * whose credential is revoked (`:resetAgent`) or refused is replaced by a freshly enrolled one.
 */
import { randomBytes } from "node:crypto";
import { type RunningAgent, startAgent } from "../../agent/agent.js";
import type { Datastore } from "../../datastore/datastore.js";
import { repositories } from "../../datastore/repositories.js";
import type { Instance } from "../../domain/compute/instance.js";
import { sha256Hex } from "../../domain/oauth/secrets.js";
import { instanceResource } from "../../domain/resources.js";
import type { ChangeFeed } from "./change-feed.js";

export interface SupervisorOptions {
  controlPlaneUrl: string;
  /** Port each agent listens on at its own address; 0 picks a free one. */
  port: number;
  refreshMarginSeconds?: number;
  mintsPerSecond?: number;
  log: (line: string) => void;
  /** Called whenever the set of agents changes (to refresh server.json). */
  onChange: (agents: Record<string, string>) => void;
}

export class AgentSupervisor {
  private readonly agents = new Map<string, { instanceId: string; agent: RunningAgent }>();
  private syncing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly stop = new AbortController();

  constructor(
    private readonly store: Datastore,
    private readonly feed: ChangeFeed,
    private readonly o: SupervisorOptions,
  ) {}

  async start(): Promise<void> {
    await this.sync();
    void (async () => {
      let seen = this.feed.version;
      while (!this.closed) {
        await this.feed.waitFor(seen, 60_000, this.stop.signal);
        seen = this.feed.version;
        if (!this.closed) await this.sync();
      }
    })();
  }

  /** Host:port of each running agent, by instance resource name. */
  addresses(): Record<string, string> {
    return Object.fromEntries([...this.agents].map(([k, v]) => [k, `${v.agent.host}:${v.agent.port}`]));
  }

  /** Each running agent's token cache and rate-limit counters, by instance resource name. */
  stats(): Record<string, ReturnType<RunningAgent["stats"]>> {
    return Object.fromEntries([...this.agents].map(([k, v]) => [k, v.agent.stats()]));
  }

  sync(): Promise<void> {
    this.syncing = this.syncing
      .then(() => this.reconcile())
      .catch((err) => this.o.log(`agents: ${(err as Error).message}`));
    return this.syncing;
  }

  private async reconcile(): Promise<void> {
    const r = repositories(this.store);
    const instances: Instance[] = [];
    for (const p of await r.projects.all()) instances.push(...(await r.instances.list(p.projectId)));
    const wanted = new Map(instances.map((i) => [instanceResource(i.projectId, i.zone, i.name), i]));
    let changed = false;
    for (const [name, running] of this.agents) {
      const i = wanted.get(name);
      // A revoked (`:resetAgent`) or expired credential: stop that agent and enroll a new one.
      const lost = running.agent.credentialRefused() || !(await r.agents.get(running.agent.agentId()));
      if (!i || i.id !== running.instanceId || lost) {
        await running.agent.close();
        this.agents.delete(name);
        changed = true;
      }
    }
    for (const [name, i] of wanted) {
      if (this.agents.has(name) || this.closed) continue;
      const host = await this.addressFor(i);
      // The credentials of this instance's earlier in-process agents (previous starts) are retired.
      for (const old of await r.agents.ofInstance(i.id))
        if (old.inProcess) await this.store.delete("agent", old.agentId);
      const token = randomBytes(32).toString("base64url");
      await r.enrollments.put({
        inProcess: true,
        tokenSha256: sha256Hex(token),
        projectId: i.projectId,
        zone: i.zone,
        instance: i.name,
        instanceId: i.id,
        expireTime: new Date(Date.now() + 60_000).toISOString(),
      });
      try {
        const agent = await startAgent({
          controlPlaneUrl: this.o.controlPlaneUrl,
          enrollmentToken: token,
          host,
          port: this.o.port,
          ...(this.o.refreshMarginSeconds !== undefined
            ? { refreshMarginSeconds: this.o.refreshMarginSeconds }
            : {}),
          ...(this.o.mintsPerSecond !== undefined ? { mintsPerSecond: this.o.mintsPerSecond } : {}),
          log: this.o.log,
          onCredentialRefused: () => void this.sync(),
        });
        this.agents.set(name, { instanceId: i.id, agent });
        changed = true;
      } catch (err) {
        this.o.log(
          `agents: cannot start the metadata server of ${name} on ${host}:${this.o.port}: ${(err as Error).message}`,
        );
      }
    }
    if (changed) this.o.onChange(this.addresses());
  }

  /** A stable loopback address per instance: 127.0.0.2 upwards, in order of first start. */
  private async addressFor(i: Instance): Promise<string> {
    return this.store.transaction(async (tx) => {
      const r = repositories(tx);
      const table = (await r.meta.get("agent-addresses")) ?? {};
      if (table[i.id]) return table[i.id]!;
      const taken = new Set(Object.values(table));
      for (let n = 2; n < 1 << 16; n++) {
        if ((n & 255) === 0 || (n & 255) === 255) continue;
        const ip = `127.0.${n >> 8}.${n & 255}`;
        if (!taken.has(ip)) {
          table[i.id] = ip;
          await r.meta.put("agent-addresses", table);
          return ip;
        }
      }
      throw new Error("no loopback address left for another instance");
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stop.abort();
    await this.syncing;
    await Promise.all([...this.agents.values()].map((a) => a.agent.close()));
    this.agents.clear();
  }
}
