/**
 * Python google-auth (the Cloud SDK's bundled copy and Python) with an authorized_user file: it
 * ignores the file's token_uri and refreshes at oauth2.googleapis.com, which `serve --proxy`
 * intercepts. Only the environment `warrant env --proxy` prints is set (HTTPS_PROXY and
 * REQUESTS_CA_BUNDLE = system bundle + Warrant's CA). Every socket the child opens is recorded.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../cli/helpers.js";
import { type Harness, startHarness } from "../support/harness.js";
import { SDK_PYTHON, SDK_PYTHON_MISSING } from "../support/tools.js";

const skip = SDK_PYTHON_MISSING;
const SDK = SDK_PYTHON?.sdk ?? "";
const PYTHON = SDK_PYTHON?.python ?? "";

const SCRIPT = `
import json, socket, sys
connected = []
_connect = socket.socket.connect
def connect(self, address):
    connected.append("%s:%s" % (address[0], address[1]))
    return _connect(self, address)
socket.socket.connect = connect
from google.oauth2 import credentials
from google.auth.transport.requests import AuthorizedSession, Request
creds = credentials.Credentials.from_authorized_user_file(sys.argv[1])
creds.refresh(Request())
r = AuthorizedSession(creds).get("https://storage.googleapis.com/storage/v1/b?project=demo-project")
print(json.dumps({"token": creds.token, "status": r.status_code, "body": r.json(), "connected": connected}))
`;

describe("Python google-auth through Warrant's HTTPS interception proxy", { skip }, () => {
  let h: Harness;
  let dir: string;
  before(async () => {
    h = await startHarness({ proxyPort: 0 });
    dir = mkdtempSync(join(tmpdir(), "warrant-proxy-py-"));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("an authorized_user file refreshes at oauth2.googleapis.com (intercepted) and lists buckets", async () => {
    await h.call("POST", "/storage/v1/b?project=demo-project", { body: { name: "py-via-proxy" } });
    const r = await runCli(["env", "--proxy"], { env: { WARRANT_STATE_DIR: h.stateDir } });
    const proxyEnv = Object.fromEntries(
      [...r.stdout.matchAll(/^export ([A-Za-z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    writeFileSync(join(dir, "probe.py"), SCRIPT);
    const { stdout } = await promisify(execFile)(
      PYTHON,
      [join(dir, "probe.py"), h.server.adminCredentialFile],
      {
        env: { PATH: process.env.PATH, HOME: dir, PYTHONPATH: `${SDK}/lib/third_party`, ...proxyEnv },
        timeout: 60_000,
      },
    );
    const out = JSON.parse(stdout);
    assert.equal(out.status, 200, stdout);
    assert.ok(out.body.items.some((b: { name: string }) => b.name === "py-via-proxy"));
    const info = await h.call("GET", `/tokeninfo?access_token=${out.token}`, { token: null });
    assert.equal(info.body.email, "admin@warrant.local");
    const proxy = new URL(h.server.proxyUrl!);
    assert.ok(out.connected.length >= 1);
    for (const c of out.connected)
      assert.equal(c, `${proxy.hostname}:${proxy.port}`, "every socket went to the proxy");
    const stats = h.server.proxyStats!().intercepted;
    assert.ok(stats["oauth2.googleapis.com"]! >= 1, JSON.stringify(stats));
    assert.ok(stats["storage.googleapis.com"]! >= 1, JSON.stringify(stats));
  });
});
