/**
 * What the control plane tells an instance's agent: everything its metadata server serves,
 * except tokens, which are minted on demand. `buildTree` turns it into the metadata tree.
 */
import { type Dir, dir, int, list, type Node, text } from "./tree.js";

export interface InstanceView {
  project: { projectId: string; projectNumber: string; attributes: Record<string, string> };
  instance: {
    id: string;
    name: string;
    zone: string;
    hostname: string;
    machineType: string;
    description: string;
    status: string;
    creationTimestamp: string;
    networkIP: string;
    tags: string[];
    attributes: Record<string, string>;
  };
  /** The attached account (GCE allows one), or none. */
  serviceAccount?: { email: string; uniqueId: string; scopes: string[]; disabled: boolean };
}

function attributes(a: Record<string, string>): Dir {
  return dir(Object.fromEntries(Object.entries(a).map(([k, v]) => [k, text(v)])), { userKeys: true });
}

function account(sa: NonNullable<InstanceView["serviceAccount"]>): Dir {
  return dir(
    {
      aliases: list(["default"]),
      email: text(sa.email),
      identity: text(""),
      scopes: list(sa.scopes),
      token: text(""),
    },
    { endpoints: ["identity", "token"] },
  );
}

/** A deterministic MAC for the instance's NIC, in GCE's 42:01 prefix. */
function mac(id: string): string {
  const n = BigInt(id) & 0xffffffffn;
  return [
    "42",
    "01",
    ...[24n, 16n, 8n, 0n].map((s) => ((n >> s) & 0xffn).toString(16).padStart(2, "0")),
  ].join(":");
}

export function buildTree(v: InstanceView): Dir {
  const num = v.project.projectNumber;
  const i = v.instance;
  const accounts: Record<string, Node> = {};
  if (v.serviceAccount) {
    accounts.default = account(v.serviceAccount);
    accounts[v.serviceAccount.email] = account(v.serviceAccount);
  }
  return dir({
    instance: dir({
      attributes: attributes(i.attributes),
      "cpu-platform": text("Intel Broadwell"),
      description: text(i.description),
      hostname: text(i.hostname),
      id: int(i.id),
      image: text(`projects/debian-cloud/global/images/debian-12`),
      "machine-type": text(`projects/${num}/machineTypes/${i.machineType}`),
      "maintenance-event": text("NONE"),
      name: text(i.name),
      "network-interfaces": dir({
        "0": dir({
          "access-configs": dir({}),
          "dns-servers": list(["169.254.169.254"]),
          "forwarded-ips": dir({}),
          gateway: text("10.128.0.1"),
          ip: text(i.networkIP),
          "ip-aliases": dir({}),
          mac: text(mac(i.id)),
          mtu: int(1460),
          network: text(`projects/${num}/networks/default`),
          subnetmask: text("255.255.240.0"),
        }),
      }),
      preempted: text("FALSE"),
      scheduling: dir({
        "automatic-restart": text("TRUE"),
        "on-host-maintenance": text("MIGRATE"),
        preemptible: text("FALSE"),
      }),
      "service-accounts": dir(accounts, { userKeys: true }),
      tags: { kind: "json", value: i.tags },
      zone: text(`projects/${num}/zones/${i.zone}`),
    }),
    project: dir({
      attributes: attributes(v.project.attributes),
      "numeric-project-id": int(num),
      "project-id": text(v.project.projectId),
    }),
    universe: dir({ "universe-domain": text("googleapis.com") }),
  });
}

/** Whether a token may be minted for the instance, and GCE's status when not. */
export function tokenProblem(v: InstanceView, account: string): { status: number; message: string } | null {
  const sa = v.serviceAccount;
  if (!sa || (account !== "default" && account.toLowerCase() !== sa.email))
    return { status: 404, message: "not found" };
  if (v.instance.status !== "RUNNING") return { status: 503, message: "The instance is not running." };
  if (sa.disabled) return { status: 403, message: `Service account ${sa.email} is disabled.` };
  return null;
}

/**
 * Scopes of a token for this request (Warrant's rule, see docs/metadata-server.md): a request for a
 * subset of the instance's scopes narrows the token, as Cloud Run does; anything else gets the
 * instance's scopes, as GCE does. Never a scope the instance lacks; never a refusal.
 */
export function effectiveScopes(instanceScopes: readonly string[], requested: readonly string[]): string[] {
  const asked = [...new Set(requested.filter(Boolean))];
  if (asked.length && asked.every((s) => instanceScopes.includes(s))) return asked.sort();
  return [...instanceScopes].sort();
}
