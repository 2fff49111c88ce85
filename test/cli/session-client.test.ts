/**
 * The CLI authenticates through `warrant/client` (one implementation of each credential): its token
 * requests go through the client's credentials with the CLI's transport, and its messages stay.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Harness, startHarness } from "../support/harness.js";
import { runCli } from "./helpers.js";

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("the CLI on warrant/client", () => {
  let h: Harness;
  let dir: string;
  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-cli-session-"));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("src/cli has no grant or JWT signer of its own", () => {
    const root = join(process.cwd(), "src", "cli");
    for (const file of sources(root)) {
      const text = readFileSync(file, "utf8");
      for (const marker of [
        "grant_type",
        "SignJWT",
        "createPrivateKey",
        'from "jose"',
        "RS256",
        "RSA-SHA256",
      ])
        assert.ok(!text.includes(marker), `${file} contains ${marker}`);
    }
  });

  test("the token request goes through the runtime's fetch, to the endpoint, with the CLI's user agent", async () => {
    const seen: { url: string; agent: string | null; grant: string | null }[] = [];
    const spy: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.endsWith("/token"))
        seen.push({
          url,
          agent: new Headers(init?.headers).get("user-agent"),
          grant: new URLSearchParams(String(init?.body)).get("grant_type"),
        });
      return fetch(input, init);
    };
    const r = await runCli(["projects", "list"], {
      env: {
        WARRANT_ENDPOINT: h.url,
        WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
        WARRANT_CONFIG_DIR: join(dir, "cfg"),
      },
      fetch: spy,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /demo-project/);
    assert.deepEqual(seen, [{ url: `${h.url}/token`, agent: "warrant-cli/0.1.0", grant: "refresh_token" }]);
  });

  test("a key file whose token_uri names another host is still exchanged at the CLI's endpoint", async () => {
    const file = join(dir, "key.json");
    const created = await runCli(
      [
        "iam",
        "service-accounts",
        "keys",
        "create",
        file,
        "--iam-account=demo-sa@demo-project.iam.gserviceaccount.com",
      ],
      {
        env: {
          WARRANT_ENDPOINT: h.url,
          WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
          WARRANT_PROJECT: "demo-project",
          WARRANT_CONFIG_DIR: join(dir, "cfg"),
        },
      },
    );
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, JSON.stringify({ ...key, token_uri: "http://127.0.0.1:1/token" }));
    const r = await runCli(["auth", "print-access-token", "--credential-file", file], {
      env: { WARRANT_ENDPOINT: h.url, WARRANT_CONFIG_DIR: join(dir, "cfg") },
    });
    assert.equal(r.code, 0, r.stderr);
    const info = (await (await fetch(`${h.url}/tokeninfo?access_token=${r.stdout.trim()}`)).json()) as {
      email?: string;
    };
    assert.equal(info.email, key.client_email);
  });

  test("a refused refresh token keeps the CLI's message and hint; an unreachable server too", async () => {
    const file = join(dir, "user.json");
    writeFileSync(
      file,
      JSON.stringify({
        type: "authorized_user",
        client_id: "x.apps.warrant.local",
        client_secret: "not-the-secret",
        refresh_token: "not-a-refresh-token",
      }),
    );
    const env = {
      WARRANT_ENDPOINT: h.url,
      WARRANT_CONFIG_DIR: join(dir, "cfg"),
      WARRANT_PROJECT: "demo-project",
    };
    const refused = await runCli(["projects", "list", "--credential-file", file], { env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /There was a problem refreshing your current auth tokens: 4\d\d /);
    assert.match(refused.stderr, /was rejected by http:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(refused.stderr, /not-the-secret|not-a-refresh-token/);
    const closed = await freePort();
    const down = await runCli(["projects", "list", "--credential-file", file], {
      env: { ...env, WARRANT_ENDPOINT: `http://127.0.0.1:${closed}` },
    });
    assert.equal(down.code, 1);
    assert.equal(
      down.stderr.split("\n")[0],
      `ERROR: (warrant.projects.list) Could not reach the Warrant server at http://127.0.0.1:${closed}: ECONNREFUSED`,
    );
  });
});
