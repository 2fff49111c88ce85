import { group } from "../../spec.js";
import addMember from "./add-member.js";
import create from "./create.js";
import del from "./delete.js";
import describe from "./describe.js";
import list from "./list.js";
import removeMember from "./remove-member.js";

export default group({
  name: "groups",
  summary: "manage the installation's groups (group: members of policies)",
  description:
    "The group directory: a policy binding to `group:EMAIL` grants its role to every member of the group, " +
    "directly or through nested groups. Cycles are refused. Membership changes apply to the next request.",
  children: [create, list, describe, addMember, removeMember, del],
});
