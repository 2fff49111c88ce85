import assert from "node:assert/strict";
import { describe, it } from "node:test";
import YAML from "yaml";
import { INSTANCE_COLUMNS } from "../../src/cli/compute.js";
import { UsageError } from "../../src/cli/errors.js";
import { extract, parseColumn, parseFormat, render } from "../../src/cli/format.js";

const instances = [
  {
    name: "vm-1",
    zone: "https://x/compute/v1/projects/p/zones/us-central1-a",
    machineType: "https://x/compute/v1/projects/p/zones/us-central1-a/machineTypes/e2-medium",
    networkInterfaces: [{ networkIP: "10.128.0.2" }],
    status: "RUNNING",
    serviceAccounts: [{ email: "sa@p.iam.gserviceaccount.com", scopes: ["s1", "s2"] }],
  },
  {
    name: "long-instance-name",
    zone: "zones/europe-west1-b",
    machineType: "zones/europe-west1-b/machineTypes/e2-small",
    status: "TERMINATED",
  },
];

const policy = {
  version: 1,
  etag: "BwAAAA==",
  bindings: [
    { role: "roles/owner", members: ["user:admin@example.com"] },
    { role: "roles/viewer", members: ["user:a@example.com", "serviceAccount:sa@p.iam.gserviceaccount.com"] },
  ],
};

describe("format parsing", () => {
  it("parses kinds, attributes and projections", () => {
    assert.equal(parseFormat("json").kind, "json");
    const t = parseFormat("table[no-heading](name, zone.basename():label=Z, networkInterfaces[0].networkIP)");
    assert.equal(t.kind, "table");
    assert.equal(t.attrs["no-heading"], true);
    assert.deepEqual(
      t.columns?.map((c) => c.label),
      ["NAME", "Z", "NETWORK_IP"],
    );
    assert.deepEqual(parseColumn("networkInterfaces[0].networkIP").key, [
      "networkInterfaces",
      0,
      "networkIP",
    ]);
    assert.deepEqual(parseFormat("value[separator=','](a,b)").attrs, { separator: "," });
  });

  it("rejects unknown formats, transforms and value() without fields", () => {
    assert.throws(() => parseFormat("xml"), UsageError);
    assert.throws(() => parseFormat("value"), /requires a list of fields/);
    assert.throws(() => parseFormat("value(name.frobnicate())"), /Unknown format transform/);
  });

  it("extracts nested keys, maps over lists, applies basename()", () => {
    assert.equal(extract(instances[0], parseColumn("zone.basename()")), "us-central1-a");
    assert.deepEqual(extract(policy, parseColumn("bindings.role")), ["roles/owner", "roles/viewer"]);
    assert.deepEqual(extract(policy, parseColumn("bindings[].members")), [
      ["user:admin@example.com"],
      ["user:a@example.com", "serviceAccount:sa@p.iam.gserviceaccount.com"],
    ]);
    assert.equal(extract(instances[0], parseColumn("serviceAccounts[0].scopes.len()")), 2);
    assert.equal(extract(instances[1], parseColumn("networkInterfaces[0].networkIP")), undefined);
  });
});

describe("rendering", () => {
  it("table: header, aligned columns, basenames, empty cells", () => {
    const out = render(parseFormat("table"), { list: instances }, INSTANCE_COLUMNS);
    assert.equal(
      out,
      [
        "NAME                ZONE            MACHINE_TYPE  INTERNAL_IP  STATUS",
        "vm-1                us-central1-a   e2-medium     10.128.0.2   RUNNING",
        "long-instance-name  europe-west1-b  e2-small                   TERMINATED",
        "",
      ].join("\n"),
    );
  });

  it("value: tab-separated, one resource per line, lists joined with ;", () => {
    assert.equal(
      render(parseFormat("value(name,status)"), { list: instances }),
      "vm-1\tRUNNING\nlong-instance-name\tTERMINATED\n",
    );
    assert.equal(render(parseFormat("value(bindings.role)"), { one: policy }), "roles/owner;roles/viewer\n");
    assert.equal(
      render(parseFormat("value(serviceAccounts[0].email)"), { one: instances[0] }),
      "sa@p.iam.gserviceaccount.com\n",
    );
    assert.equal(
      render(parseFormat("value[separator=','](name,status)"), { one: instances[0] }),
      "vm-1,RUNNING\n",
    );
  });

  it("json: sorted keys, arrays for lists", () => {
    const one = render(parseFormat("json"), { one: { b: 1, a: { d: 2, c: 3 } } });
    assert.equal(one, '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n');
    assert.deepEqual(JSON.parse(render(parseFormat("json"), { list: instances })), instances);
  });

  it("yaml: gcloud-like block style; lists as --- documents", () => {
    const out = render(parseFormat("yaml"), { one: policy });
    assert.equal(
      out,
      [
        "bindings:",
        "  - members:",
        "      - user:admin@example.com",
        "    role: roles/owner",
        "  - members:",
        "      - user:a@example.com",
        "      - serviceAccount:sa@p.iam.gserviceaccount.com",
        "    role: roles/viewer",
        "etag: BwAAAA==",
        "version: 1",
        "",
      ].join("\n"),
    );
    assert.deepEqual(YAML.parse(out), policy);
    const list = render(parseFormat("yaml"), { list: [{ a: 1 }, { a: 2 }] });
    assert.equal(list, "---\na: 1\n---\na: 2\n");
    assert.equal(render(parseFormat("yaml"), { one: { projectNumber: "123" } }), "projectNumber: '123'\n");
  });

  it("csv and none", () => {
    assert.equal(
      render(parseFormat("csv(name,status)"), { list: instances }),
      "name,status\nvm-1,RUNNING\nlong-instance-name,TERMINATED\n",
    );
    assert.equal(render(parseFormat("none"), { list: instances }), "");
  });

  it("table without fields falls back to scalar keys of the resource", () => {
    assert.equal(
      render(parseFormat("table"), { one: { projectId: "p", n: 1, nested: {} } }),
      "PROJECT_ID  N\np           1\n",
    );
  });
});
