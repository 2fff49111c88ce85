/**
 * Attack: make authorization loop forever, or grant through a cycle, with groups that contain each
 * other. The API refuses the cycle; and should one reach the datastore anyway (an import, a write
 * from another tool), membership resolution still terminates and grants only through real paths.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { authorize } from "../../src/domain/iam/authorize.js";
import { GroupIndex } from "../../src/domain/iam/groups.js";
import { userPrincipal } from "../../src/domain/iam/principal.js";
import { roleResolver } from "../../src/domain/iam/roles.js";

describe("attack: group cycles", () => {
  test("a cycle in stored groups terminates and grants nothing to outsiders", () => {
    const index = new GroupIndex([
      { email: "a@x.com", members: ["group:b@x.com"], createTime: "" },
      { email: "b@x.com", members: ["group:a@x.com", "user:m@x.com"], createTime: "" },
    ]);
    const member = index.membership(userPrincipal("m@x.com"));
    assert.deepEqual([...member.keys()].sort(), ["a@x.com", "b@x.com"]);
    assert.equal(index.membership(userPrincipal("outsider@x.com")).size, 0);
    const outsider = userPrincipal("outsider@x.com");
    const d = authorize(
      outsider,
      "compute.instances.list",
      [
        {
          resource: "projects/p",
          policy: {
            version: 1,
            etag: "x",
            bindings: [{ role: "roles/compute.viewer", members: ["group:a@x.com"] }],
          },
        },
      ],
      { roles: roleResolver([]) },
    );
    assert.equal(d.allowed, false);
  });
});
