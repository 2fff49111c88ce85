/** `warrant users set-password`: the password from a file or standard input, never from a flag value. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { WARRANT_CLI_CLIENT_ID } from "../../src/domain/oauth/first-party-clients.js";
import { type Harness, startHarness } from "../support/harness.js";
import { authorizeQuery, pkcePair, signIn } from "../support/signin.js";
import { runCli } from "./helpers.js";

describe("warrant users set-password", () => {
  let h: Harness;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-pw-"));
    env = {
      WARRANT_ENDPOINT: h.url,
      WARRANT_CREDENTIAL_FILE: h.server.adminCredentialFile,
      WARRANT_CONFIG_DIR: join(dir, "cfg"),
      HOME: dir,
    };
    assert.equal((await runCli(["users", "create", "sam@example.com"], { env })).code, 0);
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const canSignIn = async (password: string) => {
    const r = await signIn(
      h,
      authorizeQuery({
        client_id: WARRANT_CLI_CLIENT_ID,
        redirect_uri: "http://127.0.0.1:40008/",
        state: "s",
        code_challenge: pkcePair().challenge,
        code_challenge_method: "S256",
      }),
      "sam@example.com",
      password,
    );
    return r.res.status === 303;
  };

  test("from standard input (one trailing newline dropped)", async () => {
    const r = await runCli(["users", "set-password", "sam@example.com"], {
      env,
      stdin: "piped password 1\n",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Set the password of user \[sam@example.com\]/);
    assert.ok(await canSignIn("piped password 1"));
  });

  test("from --password-file; the old password stops working", async () => {
    const file = join(dir, "pw");
    writeFileSync(file, "file password 2\n", { mode: 0o600 });
    const r = await runCli(["users", "set-password", "sam@example.com", `--password-file=${file}`], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await canSignIn("file password 2"));
    assert.equal(await canSignIn("piped password 1"), false);
  });

  test("no --password flag exists; a short password is refused by the server", async () => {
    const flag = await runCli(["users", "set-password", "sam@example.com", "--password=secret123"], { env });
    assert.equal(flag.code, 2);
    const short = await runCli(["users", "set-password", "sam@example.com"], { env, stdin: "short" });
    assert.equal(short.code, 1);
    assert.match(short.stderr, /at least 8 characters/);
  });
});
