/**
 * Python google-auth (the copy bundled with the Cloud SDK, run with the SDK's Python) with a
 * Warrant key file: it honours the file's token_uri, so it gets a Warrant token through the
 * jwt-bearer grant and calls a Warrant API with it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type Harness, startHarness } from "../support/harness.js";
import { SDK_PYTHON, SDK_PYTHON_MISSING } from "../support/tools.js";

const skip = SDK_PYTHON_MISSING;
const SDK = SDK_PYTHON?.sdk ?? "";
const PYTHON = SDK_PYTHON?.python ?? "";
const SA = "demo-sa@demo-project.iam.gserviceaccount.com";

const SCRIPT = `
import json, sys
from google.oauth2 import service_account
from google.auth.transport.requests import AuthorizedSession, Request
key_file, url = sys.argv[1], sys.argv[2]
creds = service_account.Credentials.from_service_account_file(
    key_file, scopes=["https://www.googleapis.com/auth/cloud-platform"])
creds.refresh(Request())
session = AuthorizedSession(creds)
r = session.get(url)
print(json.dumps({"token_prefix": creds.token[:10], "status": r.status_code, "body": r.json()}))
`;

describe("Python google-auth against Warrant", { skip }, () => {
  let h: Harness;
  let dir: string;
  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), "warrant-py-"));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("service_account.Credentials from a Warrant key file refresh against token_uri and call the API", async () => {
    const r = await h.call("POST", `/v1/projects/-/serviceAccounts/${SA}/keys`, { body: {} });
    const keyPath = join(dir, "key.json");
    writeFileSync(keyPath, Buffer.from(r.body.privateKeyData, "base64"), { mode: 0o600 });
    writeFileSync(join(dir, "probe.py"), SCRIPT);
    const url = `${h.url}/compute/v1/projects/demo-project/zones/us-central1-a/instances`;
    const { stdout } = await promisify(execFile)(PYTHON, [join(dir, "probe.py"), keyPath, url], {
      env: { PATH: process.env.PATH, HOME: dir, PYTHONPATH: `${SDK}/lib/third_party`, NO_PROXY: "127.0.0.1" },
      timeout: 60_000,
    });
    const out = JSON.parse(stdout);
    assert.equal(out.status, 200, stdout);
    assert.ok(out.body.items.some((i: { name: string }) => i.name === "demo-vm"));
    assert.match(out.token_prefix, /^eyJ/);
  });
});
