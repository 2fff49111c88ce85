import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { machineTypeFor, serviceAccountsFor } from "../../src/cli/commands/compute/instances/create.js";
import { DEFAULT_SCOPES, expandScopes, splitList } from "../../src/cli/scopes.js";

const A = "https://www.googleapis.com/auth/";

describe("scope aliases", () => {
  it("expands gcloud aliases", () => {
    assert.deepEqual(expandScopes(["cloud-platform"]), [A + "cloud-platform"]);
    assert.deepEqual(expandScopes(["storage-ro", "storage-rw", "storage-full"]), [
      A + "devstorage.read_only",
      A + "devstorage.read_write",
      A + "devstorage.full_control",
    ]);
    assert.deepEqual(expandScopes(["compute-ro", "compute-rw"]), [A + "compute.readonly", A + "compute"]);
    assert.deepEqual(expandScopes(["default"]), DEFAULT_SCOPES);
    assert.equal(DEFAULT_SCOPES.length, 7);
    assert.ok(DEFAULT_SCOPES.includes(A + "devstorage.read_only"));
  });

  it("bare names become auth URLs, URLs pass through, duplicates drop", () => {
    assert.deepEqual(expandScopes(["devstorage.read_only", "https://example.com/scope", "storage-ro"]), [
      A + "devstorage.read_only",
      "https://example.com/scope",
    ]);
    assert.throws(() => expandScopes(["not a scope"]), /Invalid scope/);
  });

  it("splits comma lists", () => {
    assert.deepEqual(splitList(" a, b,,c "), ["a", "b", "c"]);
    assert.deepEqual(splitList(undefined), []);
  });
});

describe("instance service account body", () => {
  it("uses the given account and scopes", () => {
    assert.deepEqual(
      serviceAccountsFor({ serviceAccount: "sa@p.iam.gserviceaccount.com", scopes: "cloud-platform" }),
      [{ email: "sa@p.iam.gserviceaccount.com", scopes: [A + "cloud-platform"] }],
    );
  });

  it("defaults like gcloud: the default account with the default scopes", () => {
    assert.deepEqual(serviceAccountsFor({}), [{ email: "default", scopes: DEFAULT_SCOPES }]);
    assert.deepEqual(serviceAccountsFor({ serviceAccount: "x@p.iam.gserviceaccount.com", noScopes: true }), [
      { email: "x@p.iam.gserviceaccount.com", scopes: [] },
    ]);
    assert.deepEqual(serviceAccountsFor({ noServiceAccount: true, noScopes: true }), []);
    assert.throws(() => serviceAccountsFor({ noServiceAccount: true }), /requires --no-scopes/);
    assert.throws(() => serviceAccountsFor({ noScopes: true, scopes: "x" }), /not allowed/);
  });

  it("machine types become zonal partial URLs", () => {
    assert.equal(machineTypeFor("us-central1-a", "e2-medium"), "zones/us-central1-a/machineTypes/e2-medium");
    assert.equal(machineTypeFor("z", "zones/z/machineTypes/n1"), "zones/z/machineTypes/n1");
  });
});
