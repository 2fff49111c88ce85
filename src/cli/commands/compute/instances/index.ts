import { group } from "../../../spec.js";
import create from "./create.js";
import del from "./delete.js";
import describe from "./describe.js";
import issueEnrollmentToken from "./issue-enrollment-token.js";
import list from "./list.js";
import resetAgent from "./reset-agent.js";
import start from "./start.js";
import stop from "./stop.js";

export default group({
  name: "instances",
  summary: "create and manage VM instances and the service accounts they run as",
  children: [create, list, describe, start, stop, del, issueEnrollmentToken, resetAgent],
});
