/**
 * Two `warrant serve` nodes on one PostgreSQL database and one blob directory are one installation
 * to the real clients: what the real gcloud and `@google-cloud/storage` create through one node,
 * they find through the other, with a token either node issued.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Storage } from "@google-cloud/storage";
import { createTestDatabase, dropTestDatabase, postgresUnavailable } from "../datastore/pg-fixture.js";
import { type ClusterNode, startNode } from "../support/cluster.js";
import { GCLOUD, GCLOUD_MISSING } from "../support/tools.js";

const run = promisify(execFile);
// The storage client authorizes through its own google-auth-library (an older major than the
// project's), whose clients it recognizes: take OAuth2Client from there.
const { OAuth2Client } = createRequire(createRequire(import.meta.url).resolve("@google-cloud/storage"))(
  "google-auth-library",
) as typeof import("google-auth-library");
const why = (await postgresUnavailable()) ?? (GCLOUD ? undefined : GCLOUD_MISSING);
const dbName = `warrant_clients_${process.pid}_${randomBytes(4).toString("hex")}`;

describe("real clients see one installation through different nodes", {
  skip: why ?? false,
  timeout: 240_000,
}, () => {
  const dirs: string[] = [];
  const nodes: ClusterNode[] = [];
  let work: string;
  let n = 0;
  before(async () => {
    const url = await createTestDatabase(dbName);
    const blobDir = mkdtempSync(join(tmpdir(), "warrant-clients-blobs-"));
    work = mkdtempSync(join(tmpdir(), "warrant-clients-"));
    dirs.push(blobDir, work);
    const env = { WARRANT_MASTER_KEY: randomBytes(32).toString("base64") };
    // The first node creates the installation; the second joins it.
    for (let i = 0; i < 2; i++) {
      const node = await startNode([`--datastore=${url}`, `--blob-dir=${blobDir}`], env);
      dirs.push(node.stateDir);
      nodes.push(node);
    }
  });
  after(async () => {
    for (const node of nodes) node.proc.kill("SIGKILL");
    await Promise.all(nodes.map((node) => node.proc.exited));
    await dropTestDatabase(dbName);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function gcloud(node: ClusterNode, token: string, args: string[]) {
    const tokenFile = join(work, `token-${++n}`);
    writeFileSync(tokenFile, token, { mode: 0o600 });
    try {
      const { stdout } = await run(GCLOUD!, args, {
        env: {
          PATH: process.env.PATH,
          HOME: work,
          CLOUDSDK_CONFIG: join(work, `config-${n}`),
          CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
          CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
          CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
          CLOUDSDK_CORE_CHECK_GCE_METADATA: "false",
          CLOUDSDK_CORE_PROJECT: "demo-project",
          CLOUDSDK_AUTH_ACCESS_TOKEN_FILE: tokenFile,
          CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: `${node.url}/`,
          CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER: `${node.url}/`,
          CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE: `${node.url}/`,
          NO_PROXY: "127.0.0.1,localhost",
          no_proxy: "127.0.0.1,localhost",
        },
        timeout: 90_000,
      });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`gcloud ${args.join(" ")} at ${node.url}: ${e.stderr ?? e.message}`);
    }
  }

  function storageAt(node: ClusterNode, token: string) {
    const auth = new OAuth2Client();
    auth.setCredentials({ access_token: token, expiry_date: Date.now() + 30 * 60_000 });
    return new Storage({
      apiEndpoint: node.url,
      useAuthWithCustomEndpoint: true,
      projectId: "demo-project",
      authClient: auth as never,
    });
  }

  it("gcloud: an account and a binding made through node A are listed through node B", async () => {
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const name = `cluster-${randomBytes(3).toString("hex")}`;
    const email = `${name}@demo-project.iam.gserviceaccount.com`;
    await gcloud(a, a.token, ["iam", "service-accounts", "create", name, "--project=demo-project"]);
    await gcloud(a, a.token, [
      "projects",
      "add-iam-policy-binding",
      "demo-project",
      `--member=serviceAccount:${email}`,
      "--role=roles/storage.objectViewer",
      "--condition=None",
      "--format=json",
    ]);
    // Node B's token for node B's view: the account and its binding are there.
    const listed = await gcloud(b, b.token, [
      "iam",
      "service-accounts",
      "list",
      "--project=demo-project",
      "--format=value(email)",
    ]);
    assert.ok(listed.split("\n").includes(email), listed);
    const policy = JSON.parse(
      await gcloud(b, a.token, ["projects", "get-iam-policy", "demo-project", "--format=json"]),
    );
    const binding = policy.bindings.find((x: { role: string }) => x.role === "roles/storage.objectViewer");
    assert.ok(binding?.members.includes(`serviceAccount:${email}`), JSON.stringify(policy.bindings));
  });

  it("@google-cloud/storage writes through node A; the Node client and gcloud read it through node B", async () => {
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const bucket = `clients-${randomBytes(4).toString("hex")}`;
    const body = randomBytes(300_000);
    const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        const e = err as { message: string; config?: { url?: string }; response?: { data?: unknown } };
        throw new Error(
          `${what}: ${e.message} (${e.config?.url ?? "?"}) ${JSON.stringify(e.response?.data ?? "")}`,
        );
      }
    };
    await step("create the bucket at A", () => storageAt(a, a.token).createBucket(bucket));
    await step(
      "upload at A",
      () => storageAt(a, a.token).bucket(bucket).file("data.bin").save(body, { resumable: false }), // multipart: the client's resumable path
      // authorizes from its own settings, not from an injected client; a resumable upload moving between
      // nodes is shown in shared-blobs.test.ts,
    );
    const [read] = await step("download at B", () =>
      storageAt(b, b.token).bucket(bucket).file("data.bin").download(),
    );
    assert.ok(read.equals(body), "node B serves the bytes node A stored");
    const ls = await gcloud(b, b.token, ["storage", "ls", `gs://${bucket}`]);
    assert.equal(ls.trim(), `gs://${bucket}/data.bin`);
  });
});
